"""The one place that configures HTTP for every source: session, timeouts, retries, budgets, errors.

Follows `shared/reference/free-tool-apis.md`: HubSpot "Error handling" and "API usage guidelines"
(429 bodies with `policyName`, `X-HubSpot-RateLimit-*` headers, `Retry-After` optional), Calendly
"Rate limits" (`X-RateLimit-Limit|Remaining|Reset`, reset in seconds) and Calendly error bodies.

- Every call has a (connect, read) timeout from `HttpSettings`.
- Retried with exponential backoff and jitter: 429, 423, 477, 5xx (and Cloudflare 52x), connection
  errors, timeouts, broken chunked bodies, a body shorter than its Content-Length, and a 2xx body that
  does not parse (truncated or invalid JSON, malformed CSV). `Retry-After` (seconds or HTTP date) is
  honoured; without it a 429 waits for Calendly's `X-RateLimit-Reset` or HubSpot's rate-limit interval.
  A 429 pauses the source's whole limiter, so parallel threads back off together. HubSpot's DAILY
  limit is not waited out: it fails at once (it resets at midnight in the portal's time zone).
- 4xx other than 429/423 fail fast: 401 -> `AuthError` (fix the token), 403 -> `ScopeError` (grant a
  scope), others -> `RequestRejected` with the server's own message. No message ever contains the token.
- The token goes into each request's `Authorization` header, never into the session, so one session
  can serve several sources.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import requests

from leadflow.errors import AuthError, ConfigError, RequestRejected, RetriesExhausted, ScopeError, SourceError
from leadflow.settings import HttpSettings, Secret
from leadflow.sources.bodies import InvalidBody, json_field, server_message, validate_csv
from leadflow.sources.ratelimit import Limiter

USER_AGENT = "leadflow/0.1 (+https://github.com/leadflow; requests)"
RETRY_STATUSES = frozenset({423, 429, 477, 500, 502, 503, 504, 521, 522, 523, 524, 525, 526})
MAX_SERVER_WAIT_S = 600.0
"""A server asking us to wait longer than this (e.g. HubSpot 477, up to 24 h) fails the run instead."""

BudgetHook = Callable[[requests.Response, Limiter], None]


def make_session(pool_size: int = 8) -> requests.Session:
    """A `requests.Session` with a connection pool sized for a few parallel entity threads.

    Retries are ours (see `SourceClient`), so urllib3's own retrying is off. The environment's proxy
    and CA-bundle settings are read once here instead of on every request (`trust_env` off): requests
    otherwise scans `os.environ` and stats `~/.netrc` per call, a fifth of a page's client time.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies("https://example.invalid"))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def _plain(session: requests.Session) -> bool:
    """True when `Session.request` would add nothing to a request but headers, cookies and proxies."""
    return (
        not session.trust_env
        and session.auth is None
        and not session.params
        and not any(session.hooks.values())
    )


@dataclass(frozen=True)
class Fetched:
    """A validated response: the body exactly as received, and its parsed form."""

    status: int
    body: bytes
    data: Any
    headers: Mapping[str, str]
    request: str
    fetched_at_ms: int
    attempts: int = 1


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    waits: list[tuple[str, float]] = field(default_factory=list)


def backoff_delay(attempt: int, http: HttpSettings, rng: random.Random) -> float:
    """Exponential backoff with jitter: half of min(max, base * 2**attempt) fixed, half random."""
    ceiling = min(http.backoff_max_s, http.backoff_base_s * (2**attempt))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now_s is None else now_s))


_last_date: tuple[str, int] = ("", 0)


def response_time_ms(headers: Mapping[str, str]) -> int:
    """The server's clock from the `Date` header (the source's own time), else ours.

    `Date` has one-second resolution, so consecutive pages mostly repeat it: the last parse is kept.
    """
    global _last_date
    date = headers.get("Date")
    if date:
        if date == _last_date[0]:
            return _last_date[1]
        try:
            ms = int(email.utils.parsedate_to_datetime(date).timestamp() * 1000)
        except (TypeError, ValueError):
            pass
        else:
            _last_date = (date, ms)
            return ms
    return int(time.time() * 1000)


def hubspot_budget(response: requests.Response, limiter: Limiter) -> None:
    """Feed `X-HubSpot-RateLimit-Remaining` / `-Max` into the `burst` window."""
    h = response.headers
    limiter.observe(
        "burst",
        remaining=_int(h.get("X-HubSpot-RateLimit-Remaining")),
        limit=_int(h.get("X-HubSpot-RateLimit-Max")),
    )


def calendly_budget(response: requests.Response, limiter: Limiter) -> None:
    """Feed Calendly's `X-RateLimit-*` into the `minute` window; at 0 remaining wait for the reset."""
    h = response.headers
    remaining = _int(h.get("X-RateLimit-Remaining"))
    limiter.observe("minute", remaining=remaining, limit=_int(h.get("X-RateLimit-Limit")))
    reset = _float(h.get("X-RateLimit-Reset"))
    if remaining == 0 and reset is not None and response.status_code != 429:
        limiter.pause(min(reset, 60.0), "minute")


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class SourceHints:
    """What to tell the user when a source refuses: where the token is configured, what it must be."""

    token_setting: str = ""  # e.g. "LEADFLOW_HUBSPOT_TOKEN (or `token` under [hubspot] in leadflow.toml)"
    token_kind: str = "access token"
    scope_advice: str = ""  # default 403 advice


class SourceClient:
    """HTTP for one source: base URL + token + session + limiter, with retries and error mapping."""

    def __init__(
        self,
        source: str,
        base_url: str,
        token: Secret | str | None,
        http: HttpSettings,
        *,
        session: requests.Session | None = None,
        limiter: Limiter | None = None,
        budget: BudgetHook | None = None,
        hints: SourceHints | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        redact: Sequence[str] = (),
    ) -> None:
        if not base_url or not urlsplit(base_url).scheme.startswith("http"):
            raise ConfigError(
                f"{source}: base URL {base_url!r} is not an http(s) URL; set it in leadflow.toml"
            )
        self.source = source
        self.base_url = base_url.rstrip("/")
        self._token = token.reveal() if isinstance(token, Secret) else (token or "")
        # What else must never appear in lineage or messages (e.g. the key of a published sheet's link).
        self._redact = tuple(r for r in (self._token, *redact) if r)
        self.http = http
        self.session = session or make_session()
        self.limiter = limiter
        self.budget = budget
        self.hints = hints or SourceHints()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats = ClientStats()

    # -- public -------------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Fetched:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Fetched:
        return self.request("POST", path, json_body=body, **kw)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        gates: Sequence[str] = (),
        expect: str = "json",
        scope_hint: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """Send one logical request (idempotent: GETs and HubSpot read POSTs), retrying transient failures.

        `expect` is `json` or `csv` (how the body is validated). A `304 Not Modified` (only possible
        when the caller sends `If-None-Match`) is returned as a `Fetched` with status 304 and no body.
        """
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if params:  # encoded once here, for the request and for its description (requests would again)
            query = urlencode({k: v for k, v in params.items() if v is not None})
            url = url + ("&" if "?" in url else "?") + query if query else url
        described = self._describe(method, url)
        payload = orjson.dumps(json_body) if json_body is not None else None
        headers = {"Accept": "text/csv" if expect == "csv" else "application/json", **(headers or {})}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        last_reason = ""
        for attempt in range(self.http.max_retries + 1):
            wait: float | None = None
            try:
                response = self._send(method, url, payload, headers, gates)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                last_reason = f"{type(exc).__name__}"
            except (
                requests.exceptions.InvalidURL,
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema,
            ) as exc:
                raise ConfigError(
                    f"{self.source}: cannot request {described}: {type(exc).__name__}; check the base URL"
                ) from exc
            except requests.RequestException as exc:  # redirects loops, bad headers, ...: not transient
                raise RequestRejected(
                    f"{self.source}: request {described} failed: {type(exc).__name__}", source=self.source
                ) from exc
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        data = self._validate(response, expect)
                    except InvalidBody as exc:
                        last_reason = f"{status} with an unusable body: {exc}"
                    else:
                        return Fetched(
                            status,
                            response.content,
                            data,
                            response.headers,
                            described,
                            response_time_ms(response.headers),
                            attempt + 1,
                        )
                elif status == 304:
                    return Fetched(
                        status,
                        b"",
                        None,
                        response.headers,
                        described,
                        response_time_ms(response.headers),
                        attempt + 1,
                    )
                elif status in RETRY_STATUSES:
                    last_reason = f"{status} {response.reason}"
                    wait = self._server_wait(response, gates)
                else:
                    raise self._refusal(response, described, scope_hint)
            if attempt == self.http.max_retries:
                break
            self.stats.retries += 1
            if wait is None:
                wait = backoff_delay(attempt, self.http, self.rng)
                self.stats.waits.append(("backoff", wait))
                self.sleep(wait)
            elif self.limiter is not None and gates:
                self.stats.waits.append(("server", wait))
                self.limiter.pause(wait, *gates)  # the next acquire waits, and so do parallel threads
            else:
                self.stats.waits.append(("server", wait))
                self.sleep(wait)
        raise RetriesExhausted(
            f"{self.source}: {described} still failing after {self.http.max_retries + 1} attempts "
            f"(last: {self._scrub(last_reason)}). The service may be down or throttling; run again later "
            "or raise [http] max_retries / backoff_max_s.",
            source=self.source,
        )

    # -- internals ----------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        payload: bytes | None,
        headers: dict[str, str],
        gates: Sequence[str],
    ) -> requests.Response:
        timeout = (self.http.connect_timeout_s, self.http.read_timeout_s)
        self.stats.requests += 1
        if self.limiter is None or not gates:
            return self._transmit(method, url, payload, headers, timeout)
        with self.limiter.slot(*gates):
            response = self._transmit(method, url, payload, headers, timeout)
        if self.budget is not None:
            self.budget(response, self.limiter)
        return response

    def _transmit(
        self,
        method: str,
        url: str,
        payload: bytes | None,
        headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> requests.Response:
        """One HTTP exchange through the session.

        With a session from `make_session` (no environment lookups, auth, default params or hooks)
        and a plain ASCII URL, the request is prepared here and handed to `Session.send`: the same
        adapter, connection pool, cookies and redirects, without re-merging settings that cannot
        differ (a sixth of a page's client time). Any other session goes through `Session.request`.
        """
        session = self.session
        if not url.isascii() or not _plain(session):
            return session.request(method, url, data=payload, headers=headers, timeout=timeout)
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = requests.utils.requote_uri(url)
        prepared.headers = requests.structures.CaseInsensitiveDict({**session.headers, **headers})  # type: ignore[arg-type]
        prepared.body = payload
        if payload is not None:
            prepared.headers["Content-Length"] = str(len(payload))
        elif method not in ("GET", "HEAD"):
            prepared.headers["Content-Length"] = "0"
        prepared.hooks = requests.hooks.default_hooks()
        prepared.prepare_cookies(session.cookies)
        return session.send(
            prepared, timeout=timeout, proxies=session.proxies, verify=session.verify, cert=session.cert
        )

    def _validate(self, response: requests.Response, expect: str) -> Any:
        body = response.content
        declared = _int(response.headers.get("Content-Length"))
        if declared is not None and "Content-Encoding" not in response.headers and declared != len(body):
            raise InvalidBody(f"got {len(body)} of {declared} bytes")
        if expect == "csv":
            return validate_csv(body)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidBody(f"not valid JSON ({len(body)} bytes; truncated?)") from exc

    def _server_wait(self, response: requests.Response, gates: Sequence[str]) -> float | None:
        """Seconds the server asks us to wait (None: use our backoff); fail when it is not worth waiting."""
        headers = response.headers
        wait = parse_retry_after(headers.get("Retry-After"))
        if response.status_code == 429:
            policy = json_field(response, "policyName")
            if policy == "DAILY":
                raise RetriesExhausted(
                    f"{self.source}: the daily API limit is used up (429, policy DAILY). It resets at midnight "
                    "in the portal's time zone; run again then, or lower how often leadflow syncs.",
                    source=self.source,
                    status=429,
                )
            if wait is None and headers.get("X-RateLimit-Remaining") == "0":
                wait = _float(headers.get("X-RateLimit-Reset"))
            if wait is None:
                interval = _float(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds"))
                if interval is not None and policy == "TEN_SECONDLY_ROLLING":
                    wait = interval / 1000.0 / 4  # part of the rolling window; our limiter does the rest
        if wait is not None and wait > MAX_SERVER_WAIT_S:
            raise RetriesExhausted(
                f"{self.source}: the service answered {response.status_code} and asks to wait {wait:.0f} s; "
                "run again later.",
                source=self.source,
                status=response.status_code,
            )
        if wait is not None:
            wait += self.rng.uniform(0, min(1.0, 0.1 * wait + 0.05))  # jitter so threads do not align
        return wait

    def _refusal(self, response: requests.Response, described: str, scope_hint: str) -> SourceError:
        status = response.status_code
        said = self._scrub(server_message(response))
        said_part = f" The server said: {said}" if said else ""
        if status == 401:
            where = self.hints.token_setting or "the source's token setting"
            return AuthError(
                f"{self.source}: {described} answered 401 Unauthorized: the token is missing, wrong or expired. "
                f"Set {where} to a valid {self.hints.token_kind}.{said_part}",
                source=self.source,
                status=status,
            )
        if status == 403:
            advice = scope_hint or self.hints.scope_advice or "grant the token access to this resource"
            return ScopeError(
                f"{self.source}: {described} answered 403 Forbidden: the token lacks a permission. "
                f"Fix: {advice}.{said_part}",
                source=self.source,
                status=status,
            )
        if status == 404:
            return RequestRejected(
                f"{self.source}: {described} answered 404 Not Found: check the base URL ({self.base_url}) "
                f"and that the resource exists.{said_part}",
                source=self.source,
                status=status,
            )
        return RequestRejected(
            f"{self.source}: {described} was rejected with {status} {response.reason}.{said_part}",
            source=self.source,
            status=status,
        )

    def _describe(self, method: str, url: str) -> str:
        parts = urlsplit(url)
        return self._scrub(f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else ""))

    def _scrub(self, text: str) -> str:
        for secret in self._redact:
            text = text.replace(secret, "***")
        return text
