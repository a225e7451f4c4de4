"""Routing, auth, rate limits, fault injection, stats and the `/_sandbox/` admin API.

Every API request goes: route -> auth (Bearer token; the sheet needs none) -> rate limit (per
token, wall time) -> transient fault (`faults.py`) -> handler. HubSpot responses other than search
carry `X-HubSpot-RateLimit-*` headers, Calendly responses the three `X-RateLimit-*` headers, when
the corresponding limit is enabled. The admin API (`/_sandbox/clock`, `/_sandbox/stats`,
`/_sandbox/truth`) needs no token and is never faulted or limited. See docs/sandbox.md (part 2).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import orjson

from leadflow.errors import ConfigError
from leadflow.sandbox.server import calendly, hubspot
from leadflow.sandbox.server.calendly import BadParam, CalendlyApi
from leadflow.sandbox.server.config import ServerConfig
from leadflow.sandbox.server.faults import FaultInjector, Injected
from leadflow.sandbox.server.http import Request, Response
from leadflow.sandbox.server.hubspot import OBJECT_NAMES, HubSpotApi
from leadflow.sandbox.server.ratelimit import CalendlyLimiter, Decision, HubSpotLimiter
from leadflow.sandbox.server.search import to_ms
from leadflow.sandbox.server.sheet import SheetApi
from leadflow.sandbox.server.state import ServerState
from leadflow.sandbox.world import World

CALENDLY_ROOTS = frozenset({"users", "organization_memberships", "event_types", "scheduled_events"})
_HS_401 = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_HS_429 = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}
Handler = Callable[[], Response]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bearer(req: Request) -> str:
    auth = req.headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


def _json(status: int, obj: Any) -> Response:
    return Response(status, orjson.dumps(obj))


class App:
    """The request handler behind the HTTP server; one instance per served World."""

    def __init__(self, world: World, config: ServerConfig) -> None:
        config.faults.validate()
        self.world = world
        self.config = config
        clock = world.clock_start_ms if config.clock_ms is None else config.clock_ms
        injector = FaultInjector(config.faults, config.seed)
        self.state = ServerState(
            world.start_ms, world.end_ms, min(clock, world.end_ms), config.faults, injector
        )
        self.injector = injector
        self.hubspot = HubSpotApi(world, self.state)
        self.calendly = CalendlyApi(world, self.state, config.calendly_uri_base)
        self.sheet = SheetApi(world, self.state, config.sheet_key)
        self._date_second, self._date_value = -1, ""
        self._hs_token = (
            config.hubspot_token.reveal()
            if hasattr(config.hubspot_token, "reveal")
            else str(config.hubspot_token)
        )
        self._cal_token = (
            config.calendly_token.reveal()
            if hasattr(config.calendly_token, "reveal")
            else str(config.calendly_token)
        )
        self._hs_limiters: dict[str, HubSpotLimiter] = {}
        self._cal_limiters: dict[str, CalendlyLimiter] = {}
        self._stats: Counter[tuple[str, int]] = Counter()
        f = config.faults
        self._transient = (
            f.rate_limit_429 > 0 or f.server_errors > 0 or f.slow_responses > 0 or f.truncated_json > 0
        )
        lim = config.limits
        self._hs_limited = lim.hubspot_burst_per_10s > 0 or lim.hubspot_search_per_s > 0 or lim.daily > 0
        self._cal_limited = lim.calendly_per_min > 0

    # -- entry ---------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        parts = req.path.strip("/").split("/")
        head = parts[0]
        if head == "crm":
            label, resp = self._hubspot(req, parts)
        elif head in CALENDLY_ROOTS:
            label, resp = self._calendly(req, parts)
        elif head == "spreadsheets":
            label, resp = self._sheet(req, parts)
        elif head == "_sandbox":
            label, resp = self._admin(req, parts)
        else:
            label, resp = (
                "unknown",
                _json(404, {"status": "error", "message": f"no such endpoint: {req.path}"}),
            )
        self._stats[(label, resp.status)] += 1
        resp.headers.append(("Date", self._http_date()))
        return resp

    def _http_date(self) -> str:
        """The `Date` header at the sandbox clock (the server's "now"), cached per clock second."""
        second = self.state.clock_ms // 1000
        if second != self._date_second:
            self._date_second, self._date_value = second, formatdate(second, usegmt=True)
        return self._date_value

    def stats(self) -> dict[str, Any]:
        routes: dict[str, dict[str, int]] = {}
        for (label, status), n in sorted(self._stats.items()):
            routes.setdefault(label, {})[str(status)] = n
        return {
            "requests": routes,
            "total": sum(self._stats.values()),
            "faults": dict(self.injector.injected),
            "clock_ms": self.state.clock_ms,
        }

    # -- shared steps --------------------------------------------------------------------------

    def _fault(self, req: Request, json_body: bool, can_429: bool) -> Injected | None:
        if not self._transient:
            self.injector.counter += 1
            return None
        sig = hashlib.blake2b(
            b"\0".join(
                [_bearer(req).encode(), req.method.encode(), req.path.encode(), req.query.encode(), req.body]
            ),
            digest_size=16,
        ).digest()
        return self.injector.next_request(sig, json_body, can_429)

    def _apply(self, fault: Injected | None, run: Handler, error_429: Callable[[bool], Response]) -> Response:
        if fault is None:
            return run()
        if fault.kind == "rate_limit_429":
            return error_429(fault.retry_after)
        if fault.kind == "server_error":
            if fault.status == 500:
                return _json(
                    500,
                    {"status": "error", "message": "internal error (sandbox fault)", "category": "INTERNAL"},
                )
            reason = b"Bad Gateway" if fault.status == 502 else b"Service Unavailable"
            return Response(
                fault.status,
                b"<html><body><h1>%d %s</h1></body></html>" % (fault.status, reason),
                b"text/html",
            )
        resp = run()
        if fault.kind == "slow":
            resp.delay_s = self.config.faults.slow_delay_s
        elif fault.kind == "truncated_json" and resp.status == 200 and len(resp.body) > 1:
            resp.truncate_to = len(resp.body) // 2
        return resp

    # -- HubSpot -------------------------------------------------------------------------------

    def _hubspot_route(self, req: Request, p: list[str]) -> tuple[str, bool, Handler] | Response:
        api, m, n = self.hubspot, req.method, len(p)
        if n >= 4 and p[1] == "v3" and p[2] == "objects":
            obj = OBJECT_NAMES.get(p[3])
            if obj is None:
                return hubspot.validation_error(f"Unable to infer object type from: {p[3]}")
            if n == 4 and m == "GET":
                return "hubspot.list", False, lambda: api.list_objects(obj, p[3], req.query)
            if n == 5 and p[4] == "search" and m == "POST":
                return "hubspot.search", True, lambda: api.search(obj, req.body)
            if n == 5 and m == "GET":
                return "hubspot.get", False, lambda: api.get_object(obj, p[4], req.query)
        elif (
            n == 7 and p[1] == "v4" and p[2] == "associations" and p[5:] == ["batch", "read"] and m == "POST"
        ):
            a, b = OBJECT_NAMES.get(p[3]), OBJECT_NAMES.get(p[4])
            if a is None or b is None:
                return hubspot.validation_error(f"Unable to infer object types from: {p[3]}, {p[4]}")
            return "hubspot.associations", False, lambda: api.batch_read_associations(a, b, req.body)
        elif n >= 3 and p[1] == "v3" and p[2] == "owners" and m == "GET":
            if n == 3:
                return "hubspot.owners", False, lambda: api.list_owners(req.query)
            if n == 4:
                return "hubspot.owner", False, lambda: api.get_owner(p[3])
        elif n in (4, 5) and p[1] == "v3" and p[2] == "pipelines" and m == "GET":
            obj = OBJECT_NAMES.get(p[3], p[3])
            pid = p[4] if n == 5 else None
            return "hubspot.pipelines", False, lambda: api.pipelines(obj, pid)
        return hubspot.error(404, f"No endpoint {m} {req.path}", "OBJECT_NOT_FOUND")

    def _hubspot(self, req: Request, parts: list[str]) -> tuple[str, Response]:
        route = self._hubspot_route(req, parts)
        if isinstance(route, Response):
            return "hubspot.invalid", route
        label, is_search, run = route
        token = _bearer(req)
        if not token or not hmac.compare_digest(token.encode(), self._hs_token.encode()):
            return label, hubspot.error(401, _HS_401, "INVALID_AUTHENTICATION")
        headers: list[tuple[str, str]] = []
        limiter: HubSpotLimiter | None = None
        if self._hs_limited:
            limiter = self._hs_limiters.get(token)
            if limiter is None:
                lim = self.config.limits
                limiter = HubSpotLimiter(lim.hubspot_burst_per_10s, lim.hubspot_search_per_s, lim.daily)
                self._hs_limiters[token] = limiter
            decision = limiter.check(is_search)
            if not decision.allowed:
                return label, self._hubspot_429(decision, limiter, is_search, self.injector.retry_after())
            headers = decision.headers or []
        fault = self._fault(req, json_body=True, can_429=True)

        def synthetic_429(retry_after: bool) -> Response:
            return self._hubspot_429(
                Decision(False, "TEN_SECONDLY_ROLLING", 1.0), limiter, is_search, retry_after
            )

        resp = self._apply(fault, run, synthetic_429)
        if headers and resp.status != 429:
            resp.headers.extend(headers)
        return label, resp

    def _hubspot_429(
        self, decision: Decision, limiter: HubSpotLimiter | None, is_search: bool, retry_after: bool
    ) -> Response:
        body = {
            "status": "error",
            "message": _HS_429[decision.policy],
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": decision.policy,
            "requestId": str(uuid.uuid4()),
        }
        resp = _json(429, body)
        if limiter is not None and not is_search:
            resp.headers.extend(limiter.headers(time.monotonic()))
        if retry_after:
            resp.headers.append(("Retry-After", str(max(1, math.ceil(decision.wait_s)))))
        return resp

    # -- Calendly ------------------------------------------------------------------------------

    def _calendly_route(self, req: Request, p: list[str]) -> tuple[str, Handler] | None:
        api, n, q = self.calendly, len(p), req.query
        if req.method != "GET":
            return None
        root = p[0]
        if root == "users" and n == 2:
            return (
                ("calendly.users_me", api.users_me)
                if p[1] == "me"
                else ("calendly.user", lambda: api.get_user(p[1]))
            )
        if root == "organization_memberships" and n == 1:
            return "calendly.memberships", lambda: api.memberships(q)
        if root == "event_types":
            if n == 1:
                return "calendly.event_types", lambda: api.event_types(q)
            if n == 2:
                return "calendly.event_type", lambda: api.get_event_type(p[1])
        if root == "scheduled_events":
            if n == 1:
                return "calendly.scheduled_events", lambda: api.scheduled_events(q)
            if n == 2:
                return "calendly.scheduled_event", lambda: api.get_event(p[1])
            if n == 3 and p[2] == "invitees":
                return "calendly.invitees", lambda: api.invitees(p[1], q)
            if n == 4 and p[2] == "invitees":
                return "calendly.invitee", lambda: api.get_invitee(p[1], p[3])
        return None

    def _calendly(self, req: Request, parts: list[str]) -> tuple[str, Response]:
        route = self._calendly_route(req, parts)
        if route is None:
            return "calendly.invalid", calendly.error(404)
        label, run = route
        token = _bearer(req)
        if not token or not hmac.compare_digest(token.encode(), self._cal_token.encode()):
            return label, calendly.error(401)
        headers: list[tuple[str, str]] = []
        if self._cal_limited:
            limiter = self._cal_limiters.get(token)
            if limiter is None:
                limiter = self._cal_limiters[token] = CalendlyLimiter(self.config.limits.calendly_per_min)
            decision = limiter.check()
            headers = decision.headers or []
            if not decision.allowed:
                return label, self._calendly_429(headers, decision.wait_s, self.injector.retry_after())
        fault = self._fault(req, json_body=True, can_429=True)

        def guarded() -> Response:
            try:
                return run()
            except BadParam as exc:
                return calendly.invalid(exc.parameter, str(exc))

        resp = self._apply(fault, guarded, lambda ra: self._calendly_429(list(headers), 1.0, ra))
        if resp.status != 429:
            resp.headers.extend(headers)
        return label, resp

    def _calendly_429(self, headers: list[tuple[str, str]], wait_s: float, retry_after: bool) -> Response:
        resp = calendly.error(429)
        out = [(k, "0" if k == "X-RateLimit-Remaining" else v) for k, v in headers]
        if retry_after:
            out.append(("Retry-After", str(max(1, math.ceil(wait_s)))))
        resp.headers.extend(out)
        return resp

    # -- sheet and admin -----------------------------------------------------------------------

    def _sheet(self, req: Request, p: list[str]) -> tuple[str, Response]:
        if req.method != "GET" or len(p) != 4 or p[1] != "d" or p[3] != "export":
            return "sheet.invalid", Response(404, b"<html><body>Not Found</body></html>", b"text/html")
        fault = self._fault(req, json_body=False, can_429=False)
        return "sheet.export", self._apply(
            fault, lambda: self.sheet.export(p[2], req.query, req.headers), lambda _: Response(429)
        )

    def clock_body(self) -> dict[str, Any]:
        s = self.state
        return {
            "now_ms": s.clock_ms,
            "now": _iso(s.clock_ms),
            "start_ms": s.start_ms,
            "start": _iso(s.start_ms),
            "end_ms": s.end_ms,
            "end": _iso(s.end_ms),
            "at_end": s.clock_ms >= s.end_ms,
        }

    def _admin(self, req: Request, p: list[str]) -> tuple[str, Response]:
        name = p[1] if len(p) == 2 else ""
        if name == "clock" and req.method == "GET":
            return "admin.clock", _json(200, self.clock_body())
        if name == "clock" and req.method == "POST":
            return "admin.clock", self._move_clock(req.body)
        if name == "stats" and req.method == "GET":
            return "admin.stats", _json(200, self.stats())
        if name == "truth" and req.method == "GET":
            return "admin.truth", _json(200, self.world.truth)
        return "admin.invalid", _json(404, {"error": f"no admin endpoint {req.method} {req.path}"})

    def _move_clock(self, body: bytes) -> Response:
        try:
            spec = orjson.loads(body or b"{}")
            if not isinstance(spec, dict) or len({"advance_s", "set"} & spec.keys()) != 1:
                raise ConfigError('send {"advance_s": seconds} or {"set": "<ISO-8601 time>"}')
            if "advance_s" in spec:
                self.state.advance(float(spec["advance_s"]))
            else:
                target = to_ms(spec["set"])
                if target is None:
                    raise ConfigError("'set' must be an ISO-8601 time or epoch milliseconds")
                self.state.set_clock(target)
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            return _json(400, {"error": f"bad clock request: {exc}"})
        except ConfigError as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, self.clock_body())
