"""Retry, backoff and error mapping of `SourceClient` against a real loopback HTTP stub."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from leadflow.errors import AuthError, RequestRejected, RetriesExhausted, ScopeError
from leadflow.settings import HttpSettings, Secret
from leadflow.sources.bodies import validate_csv
from leadflow.sources.http import (
    SourceClient,
    SourceHints,
    backoff_delay,
    calendly_budget,
    hubspot_budget,
    make_session,
    parse_retry_after,
)
from leadflow.sources.ratelimit import Limiter, RollingWindow, calendly_limiter, hubspot_limiter

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
OK = {"results": [{"id": "1"}]}


@dataclass
class Reply:
    status: int = 200
    body: bytes = json.dumps(OK).encode()
    headers: dict[str, str] = field(default_factory=dict)
    truncate_to: int | None = None  # announce the full length, send fewer bytes, close
    delay_s: float = 0.0


class Stub:
    """A scripted server: each path answers its replies in order, then repeats the last one."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                stub.seen.append((self.command, self.path, dict(self.headers), body))
                replies = stub.script.get(path) or [Reply(404, b'{"message": "no such path"}')]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.truncate_to is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if reply.truncate_to is not None:
                    self.wfile.write(reply.body[: reply.truncate_to])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.wfile.write(reply.body)

            do_GET = _answer
            do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def hits(self, path: str) -> int:
        return sum(1 for _, p, _, _ in self.seen if p.split("?")[0] == path)


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    s.thread.start()
    try:
        yield s
    finally:
        s.server.shutdown()
        s.server.server_close()


FAST = HttpSettings(
    connect_timeout_s=2.0, read_timeout_s=2.0, max_retries=4, backoff_base_s=0.01, backoff_max_s=0.05
)


def client(stub: Stub, http: HttpSettings = FAST, **kw: object) -> tuple[SourceClient, list[float]]:
    sleeps: list[float] = []
    hints = SourceHints(token_setting="LEADFLOW_HUBSPOT_TOKEN", token_kind="private-app access token")
    c = SourceClient("hubspot", stub.url, Secret(TOKEN), http, sleep=sleeps.append, hints=hints, **kw)  # type: ignore[arg-type]
    return c, sleeps


def test_sends_bearer_token_and_returns_raw_body(stub: Stub) -> None:
    raw = b'{"results": [{"id": "1"}],   "paging": null}'
    stub.script["/x"] = [Reply(body=raw)]
    c, _ = client(stub)
    got = c.get("/x", {"limit": 100})
    assert got.body == raw  # exactly as received, whitespace included
    assert got.data["results"][0]["id"] == "1"
    assert got.request == "GET /x?limit=100"
    _method, _path, headers, _ = stub.seen[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in got.request


def test_429_with_retry_after_is_honoured(stub: Stub) -> None:
    stub.script["/x"] = [
        Reply(429, b'{"status":"error","errorType":"RATE_LIMIT"}', {"Retry-After": "3"}),
        Reply(),
    ]
    c, sleeps = client(stub)
    got = c.get("/x")
    assert got.attempts == 2 and stub.hits("/x") == 2
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 4.0
    assert c.stats.waits[0][0] == "server"


def test_429_without_retry_after_backs_off_exponentially(stub: Stub) -> None:
    body = b'{"status":"error","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}'
    stub.script["/x"] = [Reply(429, body), Reply(429, body), Reply(429, body), Reply()]
    c, sleeps = client(stub, HttpSettings(2.0, 2.0, 5, backoff_base_s=1.0, backoff_max_s=100.0))
    c.get("/x")
    assert [w[0] for w in c.stats.waits] == ["backoff"] * 3
    # jittered halves of 1, 2, 4 seconds
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0 and 2.0 <= sleeps[2] <= 4.0


def test_429_pauses_the_shared_limiter_so_other_threads_wait_too(stub: Stub) -> None:
    stub.script["/x"] = [Reply(429, b"{}", {"Retry-After": "2"}), Reply()]
    now = [0.0]
    slept: list[float] = []

    def fake_sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = Limiter({"burst": RollingWindow(100, 10.0)}, clock=lambda: now[0], sleep=fake_sleep)
    c, _ = client(stub, limiter=limiter)
    c.request("GET", "/x", gates=("burst",))
    assert limiter.stats.pauses == 1
    assert 2.0 <= sum(slept) <= 3.0  # the limiter made the retry wait out Retry-After


def test_5xx_then_success(stub: Stub) -> None:
    stub.script["/x"] = [Reply(503, b"oops"), Reply(502, b""), Reply(500, b"{}"), Reply()]
    c, sleeps = client(stub)
    assert c.get("/x").attempts == 4
    assert len(sleeps) == 3


def test_persistent_5xx_exhausts_retries_with_actionable_message(stub: Stub) -> None:
    stub.script["/x"] = [Reply(503, f"token {TOKEN} broke".encode())]
    c, _ = client(stub)
    with pytest.raises(RetriesExhausted) as err:
        c.get("/x")
    assert stub.hits("/x") == FAST.max_retries + 1
    msg = str(err.value)
    assert "503" in msg and "run again later" in msg and TOKEN not in msg


def test_truncated_body_is_retried_never_returned(stub: Stub) -> None:
    full = json.dumps({"results": [{"id": str(i)} for i in range(50)]}).encode()
    stub.script["/x"] = [Reply(body=full, truncate_to=len(full) // 2), Reply(body=full)]
    c, _ = client(stub)
    got = c.get("/x")
    assert got.body == full and got.attempts == 2


def test_invalid_json_with_honest_length_is_retried(stub: Stub) -> None:
    stub.script["/x"] = [Reply(body=b'{"results": [{"id": "1"}, {"id'), Reply()]
    c, _ = client(stub)
    got = c.get("/x")
    assert got.data == OK and got.attempts == 2


def test_invalid_json_forever_fails_and_says_why(stub: Stub) -> None:
    stub.script["/x"] = [Reply(body=b"<html>maintenance</html>")]
    c, _ = client(stub)
    with pytest.raises(RetriesExhausted, match="not valid JSON"):
        c.get("/x")


def test_read_timeout_is_retried(stub: Stub) -> None:
    stub.script["/x"] = [Reply(delay_s=2.5), Reply()]
    c, _ = client(stub, HttpSettings(1.0, 1.0, 3, 0.01, 0.05))
    assert c.get("/x").attempts == 2


def test_connection_refused_is_retried_then_exhausted() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    sleeps: list[float] = []
    c = SourceClient("calendly", f"http://127.0.0.1:{port}", Secret(TOKEN), FAST, sleep=sleeps.append)
    with pytest.raises(RetriesExhausted, match="ConnectionError"):
        c.get("/users/me")
    assert len(sleeps) == FAST.max_retries


def test_401_says_to_fix_the_token_without_showing_it(stub: Stub) -> None:
    body = json.dumps(
        {
            "status": "error",
            "message": f"Authentication credentials not found: {TOKEN}",
            "category": "INVALID_AUTHENTICATION",
        }
    ).encode()
    stub.script["/crm/v3/objects/contacts"] = [Reply(401, body)]
    c, _ = client(stub)
    with pytest.raises(AuthError) as err:
        c.get("/crm/v3/objects/contacts")
    msg = str(err.value)
    assert stub.hits("/crm/v3/objects/contacts") == 1  # fail fast, no retry
    assert "LEADFLOW_HUBSPOT_TOKEN" in msg and "private-app access token" in msg
    assert "INVALID_AUTHENTICATION" in msg
    assert TOKEN not in msg and err.value.status == 401


def test_403_says_which_scope_to_grant(stub: Stub) -> None:
    stub.script["/crm/v3/owners"] = [
        Reply(403, b'{"status":"error","message":"missing scopes","category":"MISSING_SCOPES"}')
    ]
    c, _ = client(stub)
    with pytest.raises(ScopeError) as err:
        c.get("/crm/v3/owners", scope_hint="grant the private app the scope crm.objects.owners.read")
    msg = str(err.value)
    assert "crm.objects.owners.read" in msg and "MISSING_SCOPES" in msg and TOKEN not in msg
    assert stub.hits("/crm/v3/owners") == 1


def test_other_4xx_fail_fast_with_the_server_message(stub: Stub) -> None:
    body = b'{"title":"Invalid Argument","message":"The supplied parameters are invalid.","details":[{"parameter":"count","message":"must be <= 100"}]}'
    stub.script["/scheduled_events"] = [Reply(400, body)]
    c, _ = client(stub)
    with pytest.raises(RequestRejected) as err:
        c.get("/scheduled_events", {"count": 500})
    assert "count: must be <= 100" in str(err.value) and stub.hits("/scheduled_events") == 1


def test_hubspot_daily_limit_is_not_waited_out(stub: Stub) -> None:
    body = b'{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}'
    stub.script["/x"] = [Reply(429, body)]
    c, sleeps = client(stub)
    with pytest.raises(RetriesExhausted, match="daily API limit"):
        c.get("/x")
    assert sleeps == [] and stub.hits("/x") == 1


def test_absurd_retry_after_fails_instead_of_sleeping(stub: Stub) -> None:
    stub.script["/x"] = [Reply(477, b"{}", {"Retry-After": "86400"})]
    c, sleeps = client(stub)
    with pytest.raises(RetriesExhausted, match="asks to wait 86400 s"):
        c.get("/x")
    assert sleeps == []


def test_calendly_429_waits_for_rate_limit_reset(stub: Stub) -> None:
    headers = {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"}
    stub.script["/users/me"] = [
        Reply(429, b'{"title":"Too Many Requests"}', headers),
        Reply(body=b'{"resource": {}}'),
    ]
    c, sleeps = client(stub)
    c.get("/users/me")
    assert 7.0 <= sleeps[0] <= 8.0


def test_post_search_is_retried_with_the_same_body(stub: Stub) -> None:
    stub.script["/crm/v3/objects/deals/search"] = [Reply(502, b""), Reply()]
    c, _ = client(stub)
    body = {
        "filterGroups": [],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "limit": 200,
    }
    c.post("/crm/v3/objects/deals/search", body)
    posted = [b for m, p, _, b in stub.seen if m == "POST"]
    assert len(posted) == 2 and posted[0] == posted[1] and json.loads(posted[0]) == body


def test_budget_headers_feed_the_limiters(stub: Stub) -> None:
    stub.script["/h"] = [
        Reply(
            headers={
                "X-HubSpot-RateLimit-Remaining": "10",
                "X-HubSpot-RateLimit-Max": "100",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            }
        )
    ]
    hs = hubspot_limiter(100, 5)
    c, _ = client(stub, limiter=hs, budget=hubspot_budget)
    c.request("GET", "/h", gates=("burst",))
    burst = hs.gates["burst"]
    assert isinstance(burst, RollingWindow) and burst.in_use(time.monotonic()) == 90

    stub.script["/c"] = [
        Reply(headers={"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"})
    ]
    cal = calendly_limiter(50)
    c2, _ = client(stub, limiter=cal, budget=calendly_budget)
    c2.request("GET", "/c", gates=("minute",))
    assert cal.stats.pauses == 1  # remaining 0: wait for the reset before the next call


def test_csv_validation() -> None:
    assert validate_csv(b'\xef\xbb\xbfemail,name\r\na@x.io,"A, B"\r\n') == [
        ["email", "name"],
        ["a@x.io", "A, B"],
    ]
    from leadflow.sources.bodies import InvalidBody

    with pytest.raises(InvalidBody, match="row 3"):
        validate_csv(b"email,name\na@x.io,A\nb@x.io\n")
    with pytest.raises(InvalidBody):
        validate_csv(b'email,name\na@x.io,"unterminated\n')
    with pytest.raises(InvalidBody):
        validate_csv(b"")


def test_helpers() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now_s=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    import random

    rng = random.Random(1)
    http = HttpSettings(backoff_base_s=0.5, backoff_max_s=30.0)
    assert all(15.0 <= backoff_delay(10, http, rng) <= 30.0 for _ in range(20))  # capped
    assert all(0.25 <= backoff_delay(0, http, rng) <= 0.5 for _ in range(20))


def _exchange(stub: Stub, session: requests.Session) -> list[tuple[str, str, dict[str, str], bytes]]:
    stub.script["/crm/v3/objects/contacts"] = [Reply(headers={"Set-Cookie": "__cf_bm=abc; Path=/"})]
    stub.script["/crm/v3/objects/contacts/search"] = [Reply()]
    c, _ = client(stub, session=session)
    c.get("/crm/v3/objects/contacts", {"limit": 100, "properties": "email,firstname", "after": "NA=="})
    c.post("/crm/v3/objects/contacts/search", {"filterGroups": [], "limit": 1})
    c.get("/crm/v3/objects/contacts", {"q": "ä ö"})
    return stub.seen[-3:]


def test_the_direct_send_path_sends_what_session_request_sends(stub: Stub) -> None:
    """make_session's sessions skip Session.request's merging; the bytes on the wire stay the same."""
    fast = _exchange(stub, make_session())
    plain = requests.Session()
    plain.headers["User-Agent"] = make_session().headers["User-Agent"]
    plain.trust_env = True  # not a make_session session: goes through Session.request
    slow = _exchange(stub, plain)
    assert [(m, p) for m, p, _, _ in fast] == [(m, p) for m, p, _, _ in slow]
    assert fast[0][1] == "/crm/v3/objects/contacts?limit=100&properties=email%2Cfirstname&after=NA%3D%3D"
    for (_, _, fh, fb), (_, _, sh, sb) in zip(fast, slow, strict=True):
        assert fb == sb
        for name in ("Authorization", "Accept", "User-Agent", "Content-Type", "Content-Length", "Cookie"):
            assert fh.get(name) == sh.get(name), name
    assert fast[1][2]["Cookie"] == "__cf_bm=abc"  # the cookie set by the first answer goes back
    assert fast[1][2]["Content-Length"] == str(len(fast[1][3]))
