"""The Calendly API v2 imitation: users, organization memberships, event types, scheduled events, invitees.

Follows `shared/reference/free-tool-apis.md` §2: `{"resource": ...}` for single resources,
`{"collection": [...], "pagination": {...}}` with the five pagination keys (null when there is no
such page), `count` default 20 and max 100, opaque `page_token`, `min_start_time`/`max_start_time`
filtering on start_time (min inclusive, max exclusive), `sort=start_time:asc|desc`, invitees with
`status`, `email`, `sort=created_at:asc|desc`; timestamps with 6 fractional digits; error bodies
`{title, message, details}` (§2.4). Resource URIs use the canonical base from the config; paging
links point at the sandbox itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson

from leadflow.sandbox.server.http import Response
from leadflow.sandbox.server.render import CalendlyCache
from leadflow.sandbox.server.search import to_ms
from leadflow.sandbox.server.state import ServerState
from leadflow.sandbox.webhook_events import iso_us
from leadflow.sandbox.world import EventType, Owner, Record, World

MAX_COUNT = 100
DEFAULT_COUNT = 20
_ERRORS = {
    400: ("Invalid Argument", "The supplied parameters are invalid."),
    401: ("Unauthenticated", "The access token is invalid"),
    403: ("Permission Denied", "You do not have permission to access this resource."),
    404: ("Resource Not Found", "The server could not find the requested resource."),
    429: ("Too Many Requests", "You have exceeded the rate limit. Please try again later."),
}


def error(status: int, details: list[dict[str, str]] | None = None) -> Response:
    title, message = _ERRORS.get(
        status, ("Internal Server Error", "The server encountered an unexpected error.")
    )
    body: dict[str, Any] = {"title": title, "message": message}
    if details:
        body["details"] = details
    return Response(status, orjson.dumps(body))


def invalid(parameter: str, message: str) -> Response:
    return error(400, [{"parameter": parameter, "message": message}])


class BadParam(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def _tail(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _encode_token(key: tuple[Any, ...], direction: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([direction, *key])).decode().rstrip("=")


def _decode_token(token: str) -> tuple[str, tuple[Any, ...]]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        direction, *key = raw
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise BadParam("page_token", "page_token is invalid") from exc
    if direction not in ("n", "p"):
        raise BadParam("page_token", "page_token is invalid")
    return direction, tuple(key)


def _count(params: dict[str, list[str]]) -> int:
    raw = params.get("count", [str(DEFAULT_COUNT)])[-1]
    try:
        count = int(raw)
    except ValueError as exc:
        raise BadParam("count", "count must be an integer") from exc
    if not 1 <= count <= MAX_COUNT:
        raise BadParam("count", f"count must be between 1 and {MAX_COUNT}")
    return count


class CalendlyApi:
    """Request handlers; each returns a Response."""

    def __init__(self, world: World, state: ServerState, uri_base: str) -> None:
        self.world = world
        self.state = state
        self.base = uri_base.rstrip("/")
        self.cache = CalendlyCache(world, self.base)
        self.org_uri = f"{self.base}/organizations/{world.organization_uuid}"
        self.owners = sorted(world.owners, key=lambda o: (o.created_ms, o.id))
        self.owner_by_uuid = {o.calendly_uuid: o for o in world.owners}
        self.tz_by_team = {t.id: t.timezone for t in world.teams}
        self.events = {e.id: e for e in world.events}
        self.event_start: dict[str, int] = {}
        for e in world.events:
            start = e.static.get("start_ms", e.static.get("start_time"))
            self.event_start[e.id] = to_ms(start) or 0
        self.invitees_by_event: dict[str, list[Record]] = {}
        for inv in sorted(world.invitees, key=lambda i: (i.created_ms, i.id)):
            self.invitees_by_event.setdefault(str(inv.static.get("event_uuid", "")), []).append(inv)
        self.renderer = self.cache.renderer

    # -- helpers -------------------------------------------------------------------------------

    def _paginate(
        self,
        items: list[tuple[tuple[Any, ...], Any]],
        params: dict[str, list[str]],
        path: str,
        render: Callable[[Any], bytes],
        desc: bool = False,
    ) -> Response:
        count = _count(params)
        token = params.get("page_token", [""])[-1]
        start = 0
        keys = [k for k, _ in items]
        if token:
            direction, key = _decode_token(token)
            if direction == "n":
                start = next((i for i, k in enumerate(keys) if not _before(k, key, desc)), len(keys))
            else:
                end = next((i for i, k in enumerate(keys) if not _before(k, key, desc)), len(keys))
                start = max(0, end - count)
        page = items[start : start + count]
        next_token = prev_token = None
        if start + count < len(items):
            next_key = keys[start + count]
            if len(page) >= 2 and self.state.injector.chance(
                "duplicate_across_pages", self.state.faults.duplicate_across_pages
            ):
                next_key = keys[start + count - 1]
            next_token = _encode_token(next_key, "n")
        if start > 0 and page:
            prev_token = _encode_token(keys[start], "p")
        kept = [(k, v) for k, vs in params.items() if k != "page_token" for v in vs]

        def link(tok: str | None) -> str | None:
            return (
                None
                if tok is None
                else f"{self.state.public_url}{path}?{urlencode([*kept, ('page_token', tok)])}"
            )

        pagination = {
            "count": len(page),
            "next_page": link(next_token),
            "previous_page": link(prev_token),
            "next_page_token": next_token,
            "previous_page_token": prev_token,
        }
        body = b'{"collection":[' + b",".join(render(obj) for _, obj in page) + b'],"pagination":'
        return Response(200, body + orjson.dumps(pagination) + b"}")

    def _user(self, o: Owner) -> dict[str, Any]:
        slug = o.email.split("@", 1)[0].replace(".", "-")
        stamp = iso_us(o.created_ms)
        return {
            "uri": f"{self.base}/users/{o.calendly_uuid}",
            "name": f"{o.first_name} {o.last_name}",
            "slug": slug,
            "email": o.email,
            "scheduling_url": f"https://calendly.com/{slug}",
            "timezone": self.tz_by_team.get(o.team_id, "UTC"),
            "avatar_url": None,
            "created_at": stamp,
            "updated_at": stamp,
            "current_organization": self.org_uri,
            "resource_type": "User",
            "locale": "en",
        }

    def _event_type(self, et: EventType) -> dict[str, Any]:
        owner = self.owner_by_uuid.get(et.owner_uuid)
        return {
            "uri": f"{self.base}/event_types/{et.uuid}",
            "name": et.name,
            "active": True,
            "slug": et.slug,
            "scheduling_url": f"https://calendly.com/{et.slug}",
            "duration": et.duration_min,
            "kind": "solo",
            "pooling_type": None,
            "type": "StandardEventType",
            "color": "#0069ff",
            "created_at": iso_us(et.created_ms),
            "updated_at": iso_us(et.updated_ms),
            "internal_note": None,
            "description_plain": None,
            "description_html": None,
            "profile": {
                "type": "User",
                "name": f"{owner.first_name} {owner.last_name}" if owner else "",
                "owner": f"{self.base}/users/{et.owner_uuid}",
            },
            "secret": False,
            "booking_method": "instant",
            "custom_questions": [],
            "deleted_at": None,
            "admin_managed": False,
            "locale": "en",
        }

    def _scope(self, params: dict[str, list[str]]) -> str | None:
        """The user uuid to restrict to (None = whole organization); checks organization/user params."""
        org = params.get("organization", [""])[-1]
        user = params.get("user", [""])[-1]
        if not org and not user:
            raise BadParam("organization", "organization or user is required")
        if org and _tail(org) != self.world.organization_uuid:
            raise BadParam("organization", "unknown organization")
        if user and _tail(user) not in self.owner_by_uuid:
            raise BadParam("user", "unknown user")
        return _tail(user) if user else None

    # -- endpoints -----------------------------------------------------------------------------

    def users_me(self) -> Response:
        if not self.owners:
            return error(404)
        return Response(200, orjson.dumps({"resource": self._user(self.owners[0])}))

    def get_user(self, user_uuid: str) -> Response:
        o = self.owner_by_uuid.get(user_uuid)
        if o is None or o.created_ms > self.state.clock_ms:
            return error(404)
        return Response(200, orjson.dumps({"resource": self._user(o)}))

    def memberships(self, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        user = self._scope(params)
        t = self.state.clock_ms
        owners = [o for o in self.owners if o.created_ms <= t and (user is None or o.calendly_uuid == user)]

        def render(o: Owner) -> bytes:
            stamp = iso_us(o.created_ms)
            role = "owner" if o is self.owners[0] else "user"
            return orjson.dumps(
                {
                    "uri": f"{self.base}/organization_memberships/{o.calendly_uuid}",
                    "role": role,
                    "user": self._user(o),
                    "organization": self.org_uri,
                    "updated_at": stamp,
                    "created_at": stamp,
                }
            )

        return self._paginate(
            sorted(((o.created_ms, o.calendly_uuid), o) for o in owners),
            params,
            "/organization_memberships",
            render,
        )

    def event_types(self, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        user = self._scope(params)
        t = self.state.clock_ms
        types = sorted(
            (
                et
                for et in self.world.event_types
                if et.created_ms <= t and (user is None or et.owner_uuid == user)
            ),
            key=lambda et: (et.name, et.uuid),
        )
        return self._paginate(
            [((et.name, et.uuid), et) for et in types],
            params,
            "/event_types",
            lambda et: orjson.dumps(self._event_type(et)),
        )

    def get_event_type(self, et_uuid: str) -> Response:
        for et in self.world.event_types:
            if et.uuid == et_uuid and et.created_ms <= self.state.clock_ms:
                return Response(200, orjson.dumps({"resource": self._event_type(et)}))
        return error(404)

    def _status(self, rec: Record, t: int) -> str:
        v = rec.version_at(t)
        props = v.properties if v else {}
        return str(props.get("status") or rec.static.get("status") or "active")

    def scheduled_events(self, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        user = self._scope(params)
        status = params.get("status", [""])[-1]
        if status and status not in ("active", "canceled"):
            raise BadParam("status", "status must be active or canceled")
        bounds = []
        for name in ("min_start_time", "max_start_time"):
            raw = params.get(name, [""])[-1]
            value = to_ms(raw) if raw else None
            if raw and (value is None or raw.strip().lstrip("-").isdigit()):
                raise BadParam(name, f"{name} must be an ISO-8601 UTC time")
            bounds.append(value)
        sort = params.get("sort", ["start_time:asc"])[-1]
        if sort not in ("start_time:asc", "start_time:desc"):
            raise BadParam("sort", "sort must be start_time:asc or start_time:desc")
        email = params.get("invitee_email", [""])[-1].casefold()
        t = self.state.clock_ms
        lo, hi = bounds
        picked = []
        for rec in self.world.events:
            if rec.created_ms > t:
                continue
            start = self.event_start[rec.id]
            if (lo is not None and start < lo) or (hi is not None and start >= hi):
                continue
            if user is not None and self.renderer.host_uuid(rec) != user:
                continue
            if status and self._status(rec, t) != status:
                continue
            if email and not any(
                str(i.static.get("email", "")).casefold() == email and i.created_ms <= t
                for i in self.invitees_by_event.get(rec.id, [])
            ):
                continue
            picked.append(((start, rec.id), rec))
        desc = sort.endswith("desc")
        picked.sort(key=lambda p: p[0], reverse=desc)
        return self._paginate(picked, params, "/scheduled_events", lambda rec: self.cache.event(rec, t), desc)

    def get_event(self, event_uuid: str) -> Response:
        rec = self.events.get(event_uuid)
        t = self.state.clock_ms
        if rec is None or rec.created_ms > t:
            return error(404)
        return Response(200, b'{"resource":' + self.cache.event(rec, t) + b"}")

    def invitees(self, event_uuid: str, query: str) -> Response:
        rec = self.events.get(event_uuid)
        t = self.state.clock_ms
        if rec is None or rec.created_ms > t:
            return error(404)
        params = parse_qs(query, keep_blank_values=True)
        status = params.get("status", [""])[-1]
        if status and status not in ("active", "canceled"):
            raise BadParam("status", "status must be active or canceled")
        sort = params.get("sort", ["created_at:asc"])[-1]
        if sort not in ("created_at:asc", "created_at:desc"):
            raise BadParam("sort", "sort must be created_at:asc or created_at:desc")
        email = params.get("email", [""])[-1].casefold()
        picked = [
            ((inv.created_ms, inv.id), inv)
            for inv in self.invitees_by_event.get(event_uuid, [])
            if inv.created_ms <= t
            and (not status or self._status(inv, t) == status)
            and (not email or str(inv.static.get("email", "")).casefold() == email)
        ]
        desc = sort.endswith("desc")
        picked.sort(key=lambda p: p[0], reverse=desc)
        path = f"/scheduled_events/{event_uuid}/invitees"
        return self._paginate(picked, params, path, lambda inv: self.cache.invitee(inv, t), desc)

    def get_invitee(self, event_uuid: str, invitee_uuid: str) -> Response:
        t = self.state.clock_ms
        for inv in self.invitees_by_event.get(event_uuid, []):
            if inv.id == invitee_uuid and inv.created_ms <= t:
                return Response(200, b'{"resource":' + self.cache.invitee(inv, t) + b"}")
        return error(404)


def _before(k: tuple[Any, ...], key: tuple[Any, ...], desc: bool) -> bool:
    """True when item key `k` comes before the token key in the listing order."""
    return k > key if desc else k < key
