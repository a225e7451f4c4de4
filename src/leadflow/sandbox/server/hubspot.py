"""The HubSpot CRM imitation: v3 objects (list, read, search), owners, pipelines, v4 associations.

Shapes and rules follow `shared/reference/free-tool-apis.md` §1 (checklist §5.1-5.3): list `limit`
default 10 clamped to 100, opaque `after` cursor, `paging.next.{after,link}` omitted on the last
page, `archived=true` returns only archived records; search as in `search.py`; v4 batch/read with
integer `toObjectId` and HUBSPOT_DEFINED association type ids. Records are served as they stand at
the sandbox clock; search sees the world `search_index_lag_s` earlier (indexing lag).
Auth, rate limits and transient faults are applied by `app.py` before these handlers run.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import uuid
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson

from leadflow.sandbox.server.http import Response
from leadflow.sandbox.server.render import DEFAULT_PROPERTIES, HubSpotRenderer, iso_ms
from leadflow.sandbox.server.search import SearchInvalid, matches, parse_request, sort_key_values
from leadflow.sandbox.server.snapshot import HubSpotIndex
from leadflow.sandbox.server.state import ServerState
from leadflow.sandbox.world import HUBSPOT_OBJECT_TYPE_IDS, LAST_MODIFIED_PROPERTY, Owner, Record, World

OBJECT_NAMES: dict[str, str] = {name: name for name in HUBSPOT_OBJECT_TYPE_IDS} | {
    type_id: name for name, type_id in HUBSPOT_OBJECT_TYPE_IDS.items()
}
# HUBSPOT_DEFINED association type ids (reference §1.5; email->contact 198, deal->email 209,
# email->deal 210, deal->meeting 211 follow HubSpot's published table but are not in the reference).
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "deals"): 4,
    ("deals", "contacts"): 3,
    ("contacts", "calls"): 193,
    ("calls", "contacts"): 194,
    ("contacts", "emails"): 197,
    ("emails", "contacts"): 198,
    ("contacts", "meetings"): 199,
    ("meetings", "contacts"): 200,
    ("deals", "calls"): 205,
    ("calls", "deals"): 206,
    ("deals", "emails"): 209,
    ("emails", "deals"): 210,
    ("deals", "meetings"): 211,
    ("meetings", "deals"): 212,
}
LIST_MAX = 100
OWNERS_MAX = 500
_SEARCH_CACHE = 32


def error(status: int, message: str, category: str, **extra: Any) -> Response:
    """A HubSpot error body (reference §1.7)."""
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    body.update(extra)
    return Response(status, orjson.dumps(body))


def validation_error(message: str) -> Response:
    return error(400, message, "VALIDATION_ERROR", errors=[{"message": message, "code": "INVALID_REQUEST"}])


def encode_cursor(record_id: int) -> str:
    return base64.urlsafe_b64encode(str(record_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Raises ValueError for anything that is not a cursor this server issued."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return int(raw.decode("ascii"))
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(cursor) from exc


def _names(values: list[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    names = {p.strip() for v in values for p in v.split(",") if p.strip()}
    return tuple(sorted(names)) or None


class HubSpotApi:
    """Request handlers; each returns a Response (errors included)."""

    def __init__(self, world: World, state: ServerState) -> None:
        self.world = world
        self.state = state
        self.index = HubSpotIndex(world)
        self.renderer = HubSpotRenderer(self.index)
        self.owners: list[Owner] = sorted(world.owners, key=lambda o: int(o.id))
        self._search_cache: OrderedDict[tuple[Any, ...], list[tuple[Record, int]]] = OrderedDict()

    # -- objects -------------------------------------------------------------------------------

    def list_objects(self, obj: str, segment: str, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        try:
            limit = int(params.get("limit", ["10"])[-1] or 10)
        except ValueError:
            return validation_error("limit must be an integer")
        if limit < 1:
            return validation_error("limit must be at least 1")
        limit = min(limit, LIST_MAX)
        after = params.get("after", [""])[-1]
        try:
            after_id = decode_cursor(after) if after else None
        except ValueError:
            return validation_error(f"invalid 'after' cursor: {after!r}")
        archived = params.get("archived", ["false"])[-1].lower() == "true"
        names = _names(params.get("properties")) or DEFAULT_PROPERTIES[obj]
        assoc = _names(params.get("associations")) or ()
        resolved = tuple(OBJECT_NAMES.get(a, a) for a in assoc)
        unknown = [a for a in resolved if a not in DEFAULT_PROPERTIES]
        if unknown:
            return validation_error(f"unknown association object type(s): {', '.join(unknown)}")
        t = self.state.clock_ms
        snap = self.index.snapshot(obj, t, archived)
        start = bisect.bisect_left(snap.ids, after_id) if after_id is not None else 0
        entries = snap.entries[start : start + limit]
        render = self.renderer
        frags = [render.fragment(obj, rec, vi, archived, names) for rec, vi in entries]
        if resolved:
            frags = [
                render.with_associations(obj, rec, f, resolved, t)
                for (rec, _), f in zip(entries, frags, strict=True)
            ]
        parts = [b'{"results":[', b",".join(frags), b"]"]
        end = start + limit
        if end < len(snap.ids):
            next_id = snap.ids[end]
            if len(entries) >= 2 and self.state.injector.chance(
                "duplicate_across_pages", self.state.faults.duplicate_across_pages
            ):
                next_id = snap.ids[end - 1]  # the next page starts with this page's last record
            cursor = encode_cursor(next_id)
            kept = [(k, v) for k, vs in params.items() if k != "after" for v in vs]
            link = f"{self.state.public_url}/crm/v3/objects/{segment}?{urlencode([*kept, ('after', cursor)])}"
            parts.append(b',"paging":' + orjson.dumps({"next": {"after": cursor, "link": link}}))
        parts.append(b"}")
        return Response(200, b"".join(parts))

    def get_object(self, obj: str, record_id: str, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        archived = params.get("archived", ["false"])[-1].lower() == "true"
        t = self.state.clock_ms
        rec = self.index.by_id[obj].get(record_id)
        if rec is None or rec.created_ms > t or (rec.is_archived_at(t) and not archived):
            return error(404, "Object not found.", "OBJECT_NOT_FOUND", context={"id": [record_id]})
        names = _names(params.get("properties")) or DEFAULT_PROPERTIES[obj]
        assoc = tuple(OBJECT_NAMES.get(a, a) for a in _names(params.get("associations")) or ())
        if any(a not in DEFAULT_PROPERTIES for a in assoc):
            return validation_error("unknown association object type")
        is_archived = rec.is_archived_at(t)
        frag = self.renderer.fragment(obj, rec, self.index.current(obj, rec, t), is_archived, names)
        if assoc:
            frag = self.renderer.with_associations(obj, rec, frag, assoc, t)
        return Response(200, frag)

    # -- search --------------------------------------------------------------------------------

    def search(self, obj: str, body: bytes) -> Response:
        if len(body.decode("utf-8", "replace")) > 3000:
            return validation_error("the request body is longer than 3000 characters")
        try:
            decoded = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return validation_error("the request body is not valid JSON")
        if not isinstance(decoded, dict):
            return validation_error("the request body must be a JSON object")
        canonical = orjson.dumps(
            {k: decoded.get(k) for k in ("filterGroups", "sorts", "query")}, option=orjson.OPT_SORT_KEYS
        )
        try:
            req = parse_request(decoded, canonical)
        except SearchInvalid as exc:
            return validation_error(str(exc))
        t = self.state.clock_ms
        seen_at = t - int(self.state.faults.search_index_lag_s * 1000)
        results = self._search_results(obj, req, t, seen_at)
        total = len(results)
        page_source = results
        lm = LAST_MODIFIED_PROPERTY[obj]
        if (
            req.after > 0
            and req.sort_prop in (lm, "hs_lastmodifieddate", "lastmodifieddate")
            and not req.descending
            and self.state.injector.chance("update_between_pages", self.state.faults.update_between_pages)
        ):
            # One record of the previous page "was modified" meanwhile: it moves to the end of the
            # ascending order, so every later record shifts one place forward (see docs/sandbox.md (part 2)).
            first = max(0, min(req.after, total) - req.limit)
            moved = first + self.state.injector.pick("update_between_pages", min(req.after, total) - first)
            page_source = results[:moved] + results[moved + 1 :] + results[moved : moved + 1]
        page = page_source[req.after : req.after + req.limit]
        names = req.names or DEFAULT_PROPERTIES[obj]
        frags = [self.renderer.fragment(obj, rec, vi, False, names) for rec, vi in page]
        parts = [b'{"total":%d,"results":[' % total, b",".join(frags), b"]"]
        if req.after + req.limit < total:
            parts.append(b',"paging":{"next":{"after":"%d"}}' % (req.after + req.limit))
        parts.append(b"}")
        return Response(200, b"".join(parts))

    def _search_results(self, obj: str, req: Any, t: int, seen_at: int) -> list[tuple[Record, int]]:
        key = (obj, t, seen_at, req.key)
        cached = self._search_cache.get(key)
        if cached is not None:
            self._search_cache.move_to_end(key)
            return cached
        snap = self.index.snapshot(obj, seen_at, False)
        query_names = DEFAULT_PROPERTIES[obj]
        hits = [
            (rec, vi)
            for rec, vi in snap.entries
            if not rec.is_archived_at(t) and matches(req, rec.id, rec.versions[vi].properties, query_names)
        ]
        if req.sort_prop:
            prop = req.sort_prop
            raw = [
                rec.id if prop == "hs_object_id" else rec.versions[vi].properties.get(prop)
                for rec, vi in hits
            ]
            values = sort_key_values(prop, raw)
            present = [(v, h) for v, h in zip(values, hits, strict=True) if v is not None]
            missing = [h for v, h in zip(values, hits, strict=True) if v is None]
            present.sort(key=lambda p: p[0], reverse=req.descending)
            hits = [h for _, h in present] + missing
        self._search_cache[key] = hits
        if len(self._search_cache) > _SEARCH_CACHE:
            self._search_cache.popitem(last=False)
        return hits

    # -- associations v4 -----------------------------------------------------------------------

    def batch_read_associations(self, from_obj: str, to_obj: str, body: bytes) -> Response:
        try:
            decoded = orjson.loads(body or b"{}")
            inputs = decoded["inputs"]
            ids = [str(item["id"]) for item in inputs]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return validation_error('the body must look like {"inputs": [{"id": "..."}]}')
        if len(ids) > 1000:
            return validation_error(f"too many inputs: {len(ids)} > 1000")
        type_id = ASSOCIATION_TYPE_IDS.get((from_obj, to_obj))
        if type_id is None:
            return validation_error(f"no association is defined from {from_obj} to {to_obj}")
        t = self.state.clock_ms
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for record_id in ids:
            if not self.index.visible(from_obj, record_id, t):
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": f"No {from_obj} with id {record_id}",
                        "context": {"fromObjectId": [record_id]},
                    }
                )
                continue
            to_ids = self.index.associated(from_obj, record_id, to_obj, t)
            if to_ids:
                kinds = [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]
                results.append(
                    {
                        "from": {"id": record_id},
                        "to": [{"toObjectId": int(i), "associationTypes": kinds} for i in to_ids],
                    }
                )
        stamp = iso_ms(t)
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if errors:
            out |= {"numErrors": len(errors), "errors": errors}
        return Response(207 if errors else 200, orjson.dumps(out))

    # -- owners and pipelines ------------------------------------------------------------------

    def _owner(self, o: Owner) -> dict[str, Any]:
        stamp = iso_ms(o.created_ms)
        return {
            "id": o.id,
            "email": o.email,
            "type": "PERSON",
            "firstName": o.first_name,
            "lastName": o.last_name,
            "userId": o.user_id,
            "userIdIncludingInactive": o.user_id,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
            "teams": [{"id": o.team_id, "name": o.team_name, "primary": True}],
        }

    def list_owners(self, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        try:
            limit = min(max(int(params.get("limit", ["100"])[-1] or 100), 1), OWNERS_MAX)
            after = params.get("after", [""])[-1]
            after_id = decode_cursor(after) if after else None
        except ValueError:
            return validation_error("limit must be an integer and after a cursor from paging.next.after")
        t = self.state.clock_ms
        email = params.get("email", [""])[-1].casefold()
        archived = params.get("archived", ["false"])[-1].lower() == "true"
        owners = [
            o
            for o in self.owners
            if o.created_ms <= t and not archived and (not email or o.email.casefold() == email)
        ]
        ids = [int(o.id) for o in owners]
        start = bisect.bisect_left(ids, after_id) if after_id is not None else 0
        out: dict[str, Any] = {"results": [self._owner(o) for o in owners[start : start + limit]]}
        if start + limit < len(owners):
            cursor = encode_cursor(ids[start + limit])
            kept = [(k, v) for k, vs in params.items() if k != "after" for v in vs]
            link = f"{self.state.public_url}/crm/v3/owners?{urlencode([*kept, ('after', cursor)])}"
            out["paging"] = {"next": {"after": cursor, "link": link}}
        return Response(200, orjson.dumps(out))

    def get_owner(self, owner_id: str) -> Response:
        for o in self.owners:
            if o.id == owner_id and o.created_ms <= self.state.clock_ms:
                return Response(200, orjson.dumps(self._owner(o)))
        return error(404, f"Owner {owner_id} not found.", "OBJECT_NOT_FOUND")

    def pipelines(self, obj: str, pipeline_id: str | None) -> Response:
        found = self.world.pipelines if obj == "deals" else []
        if pipeline_id is None:
            return Response(200, orjson.dumps({"results": found}))
        for p in found:
            if str(p.get("id")) == pipeline_id:
                return Response(200, orjson.dumps(p))
        return error(404, f"Pipeline {pipeline_id} not found.", "OBJECT_NOT_FOUND")
