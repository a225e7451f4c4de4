"""Sign and verify webhook requests: HubSpot signatures v1/v2/v3 and Calendly `Calendly-Webhook-Signature`.

Both sides live here: the sandbox webhook sender signs with these functions, and leadflow's webhook
receiver verifies with `verify_hubspot` / `verify_calendly`, which take what a receiver has at hand
(method, full URL, raw body bytes, a headers mapping, the secret, the receiver's clock in epoch ms).

Followed (see `shared/reference/free-tool-apis.md` §1.8 and §2.5):
- HubSpot "Webhooks - Validating requests" and the v3 changelog:
  v1 = hex(SHA-256(secret + body)); v2 = hex(SHA-256(secret + method + uri + body));
  v3 = base64(HMAC-SHA256(secret, method + uri + body + timestamp_ms)), rejected when the timestamp is
  older than 5 minutes, with `%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B` decoded in the URI.
  The key is the app's client secret.
- Calendly "Webhook signatures": header `t=<unix s>,v1=<hex HMAC-SHA256(key, f"{t}.{body}")>`.
  Calendly states no replay window; we use 180 s by default (configurable).

Known limits: HubSpot's own SDK does not decode the URI for v3 and only rejects *old* timestamps; we
decode (as the docs say) and also reject timestamps more than the window in the future (clock skew
beyond 5 minutes is treated as a replay). Escapes are matched case-insensitively (`%3a` == `%3A`).
Errors name the failing check, never the secret or the expected signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from leadflow.errors import SignatureInvalid

HUBSPOT_V3_MAX_AGE_MS = 300_000
CALENDLY_DEFAULT_TOLERANCE_S = 180

HS_SIGNATURE = "X-HubSpot-Signature"
HS_SIGNATURE_VERSION = "X-HubSpot-Signature-Version"
HS_SIGNATURE_V3 = "X-HubSpot-Signature-v3"
HS_TIMESTAMP = "X-HubSpot-Request-Timestamp"
CALENDLY_SIGNATURE = "Calendly-Webhook-Signature"

_HS_DECODE = {
    "3a": ":",
    "2f": "/",
    "3f": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2a": "*",
    "2c": ",",
    "3b": ";",
}
_HS_ESCAPE = re.compile(r"%(3[AaFfBb]|2[FfAaCc]|40|21|24|27|28|29)")


@dataclass(frozen=True, slots=True)
class Verified:
    """What a successful verification established."""

    scheme: str  # "hubspot-v3", "hubspot-v2", "hubspot-v1" or "calendly-v1"
    timestamp_ms: int | None  # the signed timestamp, when the scheme has one


def _key(secret: str) -> bytes:
    """The secret's bytes; works for plain strings and `settings.Secret` (a str subclass)."""
    raw = str.__str__(secret)
    if not raw:
        raise SignatureInvalid("no_secret", "no signing secret configured; cannot sign or verify")
    return raw.encode("utf-8")


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of two ASCII signatures."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


# --- HubSpot -------------------------------------------------------------------------------------


def normalize_hubspot_uri(uri: str) -> str:
    """Decode the characters HubSpot's v3 scheme lists (`%3A` -> `:`, ... `%3B` -> `;`); leave the rest."""
    return _HS_ESCAPE.sub(lambda m: _HS_DECODE[m.group(1).lower()], uri)


def hubspot_v1_signature(secret: str, body: bytes | str) -> str:
    """v1: hex SHA-256 of client secret + raw body."""
    return hashlib.sha256(_key(secret) + _bytes(body)).hexdigest()


def hubspot_v2_signature(secret: str, method: str, uri: str, body: bytes | str) -> str:
    """v2: hex SHA-256 of client secret + method + URI + raw body."""
    source = _key(secret) + method.upper().encode() + uri.encode("utf-8") + _bytes(body)
    return hashlib.sha256(source).hexdigest()


def hubspot_v3_signature(
    secret: str, method: str, uri: str, body: bytes | str, timestamp_ms: int | str
) -> str:
    """v3: base64 HMAC-SHA256 (key = client secret) of method + decoded URI + raw body + timestamp (ms)."""
    source = (
        method.upper().encode()
        + normalize_hubspot_uri(uri).encode("utf-8")
        + _bytes(body)
        + str(timestamp_ms).encode()
    )
    return base64.b64encode(hmac.new(_key(secret), source, hashlib.sha256).digest()).decode("ascii")


def hubspot_headers(
    secret: str, method: str, url: str, body: bytes, now_ms: int, *, legacy: str | None = "v1"
) -> dict[str, str]:
    """Headers HubSpot puts on a webhook request: v3 + timestamp, plus the legacy v1 (or v2) signature."""
    headers = {
        HS_SIGNATURE_V3: hubspot_v3_signature(secret, method, url, body, now_ms),
        HS_TIMESTAMP: str(now_ms),
    }
    if legacy == "v1":
        headers[HS_SIGNATURE] = hubspot_v1_signature(secret, body)
    elif legacy == "v2":
        headers[HS_SIGNATURE] = hubspot_v2_signature(secret, method, url, body)
    elif legacy is not None:
        raise ValueError(f"legacy signature version must be v1, v2 or None, not {legacy!r}")
    if legacy is not None:
        headers[HS_SIGNATURE_VERSION] = legacy
    return headers


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k).lower(): str(v) for k, v in items}


def verify_hubspot(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    now_ms: int | None = None,
    *,
    accept: tuple[str, ...] = ("v3",),
    max_age_ms: int = HUBSPOT_V3_MAX_AGE_MS,
) -> Verified:
    """Verify a HubSpot webhook request or raise `SignatureInvalid`.

    `url` is the full URL as the sender addressed it (scheme, host, path, query). v3 is checked when
    its header is present (and then decides alone); otherwise the `X-HubSpot-Signature-Version`
    scheme, if listed in `accept` (default: only v3, since v1/v2 carry no timestamp and can be replayed).
    """
    h = _lower(headers)
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    v3 = h.get(HS_SIGNATURE_V3.lower())
    if v3 is not None and "v3" in accept:
        raw_ts = h.get(HS_TIMESTAMP.lower())
        if raw_ts is None:
            raise SignatureInvalid("missing_header", f"{HS_SIGNATURE_V3} present but {HS_TIMESTAMP} missing")
        if not raw_ts.strip().isdigit():
            raise SignatureInvalid("bad_timestamp", f"{HS_TIMESTAMP} is not epoch milliseconds")
        ts = int(raw_ts.strip())
        age = now - ts
        if abs(age) > max_age_ms:
            when = "old" if age > 0 else "in the future"
            raise SignatureInvalid(
                "expired", f"request timestamp is {abs(age) // 1000} s {when} (window {max_age_ms // 1000} s)"
            )
        expected = hubspot_v3_signature(secret, method, url, body, raw_ts.strip())
        if not _same(expected, v3.strip()):
            raise SignatureInvalid(
                "mismatch", "X-HubSpot-Signature-v3 does not match method, URL, body and timestamp"
            )
        return Verified("hubspot-v3", ts)
    version = h.get(HS_SIGNATURE_VERSION.lower(), "").strip().lower()
    sig = h.get(HS_SIGNATURE.lower())
    if sig is None or not version:
        wanted = " or ".join(accept)
        raise SignatureInvalid(
            "missing_header", f"no HubSpot signature header for accepted version(s) {wanted}"
        )
    if version not in accept or version not in {"v1", "v2"}:
        raise SignatureInvalid(
            "unsupported_version", f"signature version {version[:8]!r} is not accepted here"
        )
    if version == "v1":
        expected = hubspot_v1_signature(secret, body)
    else:
        expected = hubspot_v2_signature(secret, method, url, body)
    if not _same(expected, sig.strip().lower()):
        raise SignatureInvalid("mismatch", f"X-HubSpot-Signature ({version}) does not match the request")
    return Verified(f"hubspot-{version}", None)


# --- Calendly ------------------------------------------------------------------------------------


def calendly_signature(key: str, body: bytes | str, t_s: int) -> str:
    """hex HMAC-SHA256 (key = webhook signing key) of `"{t}." + raw body`."""
    return hmac.new(_key(key), str(int(t_s)).encode() + b"." + _bytes(body), hashlib.sha256).hexdigest()


def calendly_headers(key: str, body: bytes, now_ms: int) -> dict[str, str]:
    """The `Calendly-Webhook-Signature: t=...,v1=...` header for a body sent at `now_ms`."""
    t = int(now_ms) // 1000
    return {CALENDLY_SIGNATURE: f"t={t},v1={calendly_signature(key, body, t)}"}


def parse_calendly_header(value: str) -> tuple[int, list[str]]:
    """Split `t=...,v1=...[,v1=...]` into the timestamp (s) and the v1 signatures."""
    t: int | None = None
    sigs: list[str] = []
    for part in value.split(","):
        name, sep, val = part.strip().partition("=")
        if not sep:
            raise SignatureInvalid("malformed_header", f"{CALENDLY_SIGNATURE} has a part without '='")
        if name == "t":
            if not val.isdigit():
                raise SignatureInvalid("bad_timestamp", f"{CALENDLY_SIGNATURE} t= is not unix seconds")
            t = int(val)
        elif name == "v1":
            sigs.append(val.lower())
    if t is None or not sigs:
        raise SignatureInvalid("malformed_header", f"{CALENDLY_SIGNATURE} needs both t= and v1=")
    return t, sigs


def verify_calendly(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    now_ms: int | None = None,
    *,
    tolerance_s: int = CALENDLY_DEFAULT_TOLERANCE_S,
) -> Verified:
    """Verify a Calendly webhook request or raise `SignatureInvalid`.

    Same argument shape as `verify_hubspot` so a receiver can dispatch; `method` and `url` are not
    part of Calendly's signed content.
    """
    del method, url  # not signed by Calendly
    h = _lower(headers)
    value = h.get(CALENDLY_SIGNATURE.lower())
    if value is None:
        raise SignatureInvalid("missing_header", f"no {CALENDLY_SIGNATURE} header")
    t, sigs = parse_calendly_header(value)
    now_s = (int(time.time() * 1000) if now_ms is None else int(now_ms)) // 1000
    age = now_s - t
    if abs(age) > tolerance_s:
        when = "old" if age > 0 else "in the future"
        raise SignatureInvalid(
            "expired", f"signature timestamp is {abs(age)} s {when} (tolerance {tolerance_s} s)"
        )
    expected = calendly_signature(secret, body, t)
    # compare against every v1 value (key rotation may send several); no early exit on the first match
    matched = False
    for sig in sigs:
        matched |= _same(expected, sig)
    if not matched:
        raise SignatureInvalid("mismatch", f"{CALENDLY_SIGNATURE} v1 does not match the body and timestamp")
    return Verified("calendly-v1", t * 1000)
