"""Webhook signatures: HubSpot's published vectors, an independent v3 computation, Calendly round trips."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from leadflow.settings import Secret
from leadflow.signatures import (
    SignatureInvalid,
    calendly_headers,
    calendly_signature,
    hubspot_headers,
    hubspot_v1_signature,
    hubspot_v2_signature,
    hubspot_v3_signature,
    normalize_hubspot_uri,
    parse_calendly_header,
    verify_calendly,
    verify_hubspot,
)

HS_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HS_V1_BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    '"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    '"changeFlag":"NEW","appId":54321}]'
)
NOW = 1_720_000_000_000
URL = "https://hooks.example.com/hubspot/in?portal=62515"
BODY = b'[{"eventId":7,"objectId":42,"propertyValue":"caf\xc3\xa9"}]'


# --- HubSpot published vectors ([HS-VALID]) ------------------------------------------------------


def test_hubspot_v1_published_vector() -> None:
    assert hubspot_v1_signature(HS_SECRET, HS_V1_BODY) == (
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    )
    assert hubspot_v1_signature(HS_SECRET, HS_V1_BODY.encode()) == hubspot_v1_signature(HS_SECRET, HS_V1_BODY)


def test_hubspot_v2_published_vectors() -> None:
    get = hubspot_v2_signature(HS_SECRET, "GET", "https://www.example.com/webhook_uri", b"")
    assert get == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    post = hubspot_v2_signature(
        HS_SECRET, "POST", "https://www.example.com/webhook_uri", b'{"example_field":"example_value"}'
    )
    assert post == "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"


def test_v1_and_v2_verify_when_accepted() -> None:
    v1 = {"X-HubSpot-Signature": hubspot_v1_signature(HS_SECRET, BODY), "X-HubSpot-Signature-Version": "v1"}
    assert verify_hubspot("POST", URL, BODY, v1, HS_SECRET, NOW, accept=("v3", "v1")).scheme == "hubspot-v1"
    with pytest.raises(SignatureInvalid) as err:
        verify_hubspot("POST", URL, BODY, v1, HS_SECRET, NOW)  # default: v3 only
    assert err.value.reason == "unsupported_version"
    v2 = {
        "x-hubspot-signature": hubspot_v2_signature(HS_SECRET, "POST", URL, BODY),
        "x-hubspot-signature-version": "v2",
    }
    assert verify_hubspot("POST", URL, BODY, v2, HS_SECRET, NOW, accept=("v2",)).scheme == "hubspot-v2"
    with pytest.raises(SignatureInvalid) as err:
        verify_hubspot("POST", URL, BODY + b" ", v2, HS_SECRET, NOW, accept=("v2",))
    assert err.value.reason == "mismatch"


# --- HubSpot v3 ----------------------------------------------------------------------------------


def _independent_v3(secret: str, method: str, uri: str, body: bytes, ts: int) -> str:
    """v3 written independently: decode the listed escapes by hand, HMAC via hmac.new(...).digest()."""
    table = [("%3A", ":"), ("%2F", "/"), ("%3F", "?"), ("%40", "@"), ("%21", "!"), ("%24", "$"), ("%27", "'"),
             ("%28", "("), ("%29", ")"), ("%2A", "*"), ("%2C", ","), ("%3B", ";")]  # fmt: skip
    for enc, dec in table:
        uri = uri.replace(enc, dec).replace(enc.lower(), dec)
    message = bytearray()
    message += method.encode("ascii")
    message += uri.encode("utf-8")
    message += body
    message += str(ts).encode("ascii")
    mac = hmac.new(key=secret.encode("utf-8"), msg=bytes(message), digestmod="sha256").digest()
    return base64.standard_b64encode(mac).decode("ascii")


def test_v3_matches_independent_computation() -> None:
    secret = "app-client-secret-123"
    uri = "https://h.example.com/a%2Fb?x=%3A%40%21&y=%20"
    assert hubspot_v3_signature(secret, "POST", uri, BODY, NOW) == _independent_v3(
        secret, "POST", uri, BODY, NOW
    )
    # and with a Secret wrapper (the real config type)
    assert hubspot_v3_signature(Secret(secret), "POST", uri, BODY, NOW) == _independent_v3(
        secret, "POST", uri, BODY, NOW
    )


def test_v3_uri_decoding_rule() -> None:
    encoded = "https://h.example.com/p%3Aq%2Fr?a=%3F%40%21%24%27%28%29%2A%2C%3B&b=%20%2B%3D"
    assert normalize_hubspot_uri(encoded) == "https://h.example.com/p:q/r?a=?@!$'()*,;&b=%20%2B%3D"
    assert normalize_hubspot_uri("https://h/x%3a%2f") == "https://h/x:/"
    # signing the encoded or the decoded form gives the same signature; other escapes stay significant
    s = hubspot_v3_signature(HS_SECRET, "POST", encoded, BODY, NOW)
    assert s == hubspot_v3_signature(HS_SECRET, "POST", normalize_hubspot_uri(encoded), BODY, NOW)
    assert s != hubspot_v3_signature(HS_SECRET, "POST", encoded.replace("%20", " "), BODY, NOW)
    # a receiver seeing the encoded URL verifies a request signed over the decoded URL
    headers = hubspot_headers(HS_SECRET, "POST", normalize_hubspot_uri(encoded), BODY, NOW)
    assert verify_hubspot("POST", encoded, BODY, headers, HS_SECRET, NOW).scheme == "hubspot-v3"


def test_v3_round_trip_and_headers() -> None:
    headers = hubspot_headers(HS_SECRET, "POST", URL, BODY, NOW)
    assert headers["X-HubSpot-Request-Timestamp"] == str(NOW)
    assert headers["X-HubSpot-Signature-Version"] == "v1"
    assert headers["X-HubSpot-Signature"] == hashlib.sha256(HS_SECRET.encode() + BODY).hexdigest()
    ok = verify_hubspot(
        "post", URL, BODY, {k.upper(): v for k, v in headers.items()}, HS_SECRET, NOW + 299_000
    )
    assert ok.scheme == "hubspot-v3" and ok.timestamp_ms == NOW


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": BODY.replace(b"42", b"43")}, "mismatch"),
        ({"url": URL.replace("portal=62515", "portal=62516")}, "mismatch"),
        ({"url": URL.replace("https", "http")}, "mismatch"),
        ({"method": "PUT"}, "mismatch"),
        ({"secret": "other-secret"}, "mismatch"),
        ({"timestamp": str(NOW + 1)}, "mismatch"),
        ({"timestamp": "12x"}, "bad_timestamp"),
        ({"now": NOW + 300_001}, "expired"),
        ({"now": NOW - 300_001}, "expired"),
        ({"drop": "X-HubSpot-Request-Timestamp"}, "missing_header"),
        ({"drop": "X-HubSpot-Signature-v3"}, "unsupported_version"),
    ],
)
def test_v3_rejections(change: dict[str, object], reason: str) -> None:
    headers = hubspot_headers(HS_SECRET, "POST", URL, BODY, NOW)
    if "timestamp" in change:
        headers["X-HubSpot-Request-Timestamp"] = str(change["timestamp"])
    if "drop" in change:
        headers.pop(str(change["drop"]))
    with pytest.raises(SignatureInvalid) as err:
        verify_hubspot(
            str(change.get("method", "POST")),
            str(change.get("url", URL)),
            bytes(change.get("body", BODY)),  # type: ignore[call-overload]
            headers,
            str(change.get("secret", HS_SECRET)),
            int(str(change.get("now", NOW))),
        )
    assert err.value.reason == reason
    assert HS_SECRET not in str(err.value)


def test_v3_window_edges_and_empty_secret() -> None:
    headers = hubspot_headers(HS_SECRET, "POST", URL, BODY, NOW)
    assert verify_hubspot("POST", URL, BODY, headers, HS_SECRET, NOW + 300_000).timestamp_ms == NOW
    assert verify_hubspot("POST", URL, BODY, headers, HS_SECRET, NOW, max_age_ms=0).timestamp_ms == NOW
    with pytest.raises(SignatureInvalid) as err:
        verify_hubspot("POST", URL, BODY, headers, Secret(""), NOW)
    assert err.value.reason == "no_secret"


def test_error_messages_do_not_echo_secret_or_expected_signature() -> None:
    secret = "s3cr3t-value-never-printed"
    headers = hubspot_headers(secret, "POST", URL, BODY, NOW)
    expected_for_tampered = hubspot_v3_signature(secret, "POST", URL, BODY + b"x", NOW)
    with pytest.raises(SignatureInvalid) as err:
        verify_hubspot("POST", URL, BODY + b"x", headers, secret, NOW)
    text = str(err.value) + repr(err.value)
    assert (
        secret not in text
        and expected_for_tampered not in text
        and headers["X-HubSpot-Signature-v3"] not in text
    )


# --- Calendly ------------------------------------------------------------------------------------


def test_calendly_signature_is_hmac_of_t_dot_body() -> None:
    key = "calendly-signing-key"
    t = NOW // 1000
    mac = hmac.new(key.encode(), f"{t}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert calendly_signature(key, BODY, t) == mac
    assert calendly_headers(key, BODY, NOW) == {"Calendly-Webhook-Signature": f"t={t},v1={mac}"}


def test_calendly_round_trip_and_tolerance() -> None:
    key = Secret("calendly-signing-key")
    headers = calendly_headers(key, BODY, NOW)
    assert verify_calendly("POST", "http://x/cal", BODY, headers, key, NOW + 180_999).timestamp_ms == NOW
    with pytest.raises(SignatureInvalid) as err:
        verify_calendly("POST", "http://x/cal", BODY, headers, key, NOW + 181_000)
    assert err.value.reason == "expired"
    assert verify_calendly(
        "POST", "http://x/cal", BODY, headers, key, NOW + 250_000, tolerance_s=300
    ).scheme == ("calendly-v1")
    with pytest.raises(SignatureInvalid) as err:
        verify_calendly("POST", "http://x/cal", BODY, headers, key, NOW - 200_000)
    assert err.value.reason == "expired"


@pytest.mark.parametrize(
    ("header", "body", "key", "reason"),
    [
        (None, BODY + b" ", "k", "mismatch"),  # tampered body
        (None, b"[]", "k", "mismatch"),
        (None, BODY, "other", "mismatch"),
        ("v1=abc", BODY, "k", "malformed_header"),
        ("t=1720000000", BODY, "k", "malformed_header"),
        ("t=17x,v1=abc", BODY, "k", "bad_timestamp"),
        ("garbage", BODY, "k", "malformed_header"),
    ],
)
def test_calendly_rejections(header: str | None, body: bytes, key: str, reason: str) -> None:
    headers = calendly_headers("k", BODY, NOW)
    if header is not None:
        headers["Calendly-Webhook-Signature"] = header
    with pytest.raises(SignatureInvalid) as err:
        verify_calendly("POST", "http://x", body, headers, key, NOW)
    assert err.value.reason == reason


def test_calendly_tampered_timestamp_and_missing_header_and_rotation() -> None:
    headers = calendly_headers("k", BODY, NOW)
    t, sigs = parse_calendly_header(headers["Calendly-Webhook-Signature"])
    forged = {"calendly-webhook-signature": f"t={t + 1},v1={sigs[0]}"}
    with pytest.raises(SignatureInvalid) as err:
        verify_calendly("POST", "http://x", BODY, forged, "k", NOW)
    assert err.value.reason == "mismatch"
    with pytest.raises(SignatureInvalid) as err:
        verify_calendly("POST", "http://x", BODY, {}, "k", NOW)
    assert err.value.reason == "missing_header"
    rotated = {"Calendly-Webhook-Signature": f"t={t},v1={'0' * 64},v1={sigs[0]}"}
    assert verify_calendly("POST", "http://x", BODY, rotated, "k", NOW).scheme == "calendly-v1"
