"""HubSpot CRM search semantics: request validation, filter evaluation and sorting.

Follows `shared/reference/free-tool-apis.md` §1.3: filters inside a group AND, groups OR; operators
EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN
NOT_CONTAINS_TOKEN; at most 5 groups, 6 filters per group, 18 filters in all (the strictest of the
documented caps); one sort; `limit` 1..200 (default 10); integer `after` offset with
`after + limit <= 10000`; request body at most 3,000 characters. Date properties compare as epoch
milliseconds: filter values may be epoch-ms strings (as HubSpot documents) or ISO-8601.
String comparisons are case-insensitive.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_BODY_CHARS = 3000
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
MAX_RESULTS = 10_000
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_NO_VALUE = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY"})
_LIST_VALUE = frozenset({"IN", "NOT_IN"})
_DATE_NAMES = frozenset({"createdate", "lastmodifieddate", "hs_timestamp", "closedate", "ask_outcome_at"})
_TOKEN_SPLIT = re.compile(r"[\s,;:/()\[\]\"']+")


class SearchInvalid(ValueError):
    """The search request breaks a documented rule (answered with 400 VALIDATION_ERROR)."""


def is_date_property(name: str) -> bool:
    return (
        name in _DATE_NAMES
        or name.endswith(("date", "_time", "_at"))
        or name.startswith("hs_createdate")
        or name.startswith("hs_lastmodifieddate")
    )


def to_ms(value: Any) -> int | None:
    """Epoch ms from an epoch-ms string/number, an ISO-8601 date-time or a YYYY-MM-DD date."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(slots=True)
class Filter:
    prop: str
    op: str
    value: Any = None
    high: Any = None
    values: tuple[Any, ...] = ()
    is_date: bool = False

    def _coerce(self, raw: Any) -> Any:
        if self.is_date:
            return to_ms(raw)
        num = _number(raw)
        return num if num is not None else str(raw).casefold()

    @classmethod
    def parse(cls, spec: Any) -> Filter:
        if not isinstance(spec, dict) or not isinstance(spec.get("propertyName"), str):
            raise SearchInvalid("each filter needs a propertyName and an operator")
        op = str(spec.get("operator", "EQ")).upper()
        if op not in OPERATORS:
            raise SearchInvalid(f"unknown filter operator {op!r}; allowed: {', '.join(sorted(OPERATORS))}")
        f = cls(spec["propertyName"], op, is_date=is_date_property(spec["propertyName"]))
        if op in _LIST_VALUE:
            values = spec.get("values")
            if not isinstance(values, list) or not values:
                raise SearchInvalid(f"operator {op} needs a non-empty 'values' list")
            f.values = tuple(f._coerce(v) for v in values)
        elif op not in _NO_VALUE:
            if spec.get("value") is None:
                raise SearchInvalid(f"operator {op} needs a 'value'")
            f.value = (
                f._coerce(spec["value"])
                if not op.endswith("CONTAINS_TOKEN")
                else str(spec["value"]).casefold()
            )
            if op == "BETWEEN":
                if spec.get("highValue") is None:
                    raise SearchInvalid("operator BETWEEN needs 'value' (low) and 'highValue'")
                f.high = f._coerce(spec["highValue"])
            if f.is_date and f.value is None:
                raise SearchInvalid(f"filter on {f.prop}: value is neither epoch milliseconds nor ISO-8601")
        return f

    def matches(self, props: dict[str, Any]) -> bool:
        raw = props.get(self.prop)
        present = raw is not None and raw != ""
        op = self.op
        if op == "HAS_PROPERTY":
            return present
        if op == "NOT_HAS_PROPERTY":
            return not present
        if op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN") and not present:
            return True
        if not present:
            return False
        if op.endswith("CONTAINS_TOKEN"):
            text = str(raw).casefold()
            tokens = [t for t in _TOKEN_SPLIT.split(text) if t]
            pattern = str(self.value)
            if "*" in pattern:
                hit = fnmatch.fnmatchcase(text, pattern) or any(
                    fnmatch.fnmatchcase(t, pattern) for t in tokens
                )
            else:
                hit = pattern in tokens or pattern == text
            return hit if op == "CONTAINS_TOKEN" else not hit
        value = self._coerce(raw)
        if value is None:
            return op == "NEQ"
        if op == "IN":
            return value in self.values
        if op == "NOT_IN":
            return value not in self.values
        if op == "EQ":
            return value == self.value
        if op == "NEQ":
            return value != self.value
        if type(value) is not type(self.value):  # a number against text: no order
            value, target, high = str(value), str(self.value), str(self.high)
        else:
            target, high = self.value, self.high
        if op == "LT":
            return value < target
        if op == "LTE":
            return value <= target
        if op == "GT":
            return value > target
        if op == "GTE":
            return value >= target
        return target <= value <= high  # BETWEEN


@dataclass(slots=True)
class SearchRequest:
    groups: list[list[Filter]]
    sort_prop: str | None
    descending: bool
    names: tuple[str, ...] | None
    limit: int
    after: int
    query: str
    key: bytes  # canonical form of what selects and orders results (not paging, not properties)


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value))
    except ValueError as exc:
        raise SearchInvalid(f"{name} must be an integer (got {value!r})") from exc


def parse_request(body: dict[str, Any], canonical: bytes) -> SearchRequest:
    """Validate a decoded `PublicObjectSearchRequest`; raises SearchInvalid."""
    groups_spec = body.get("filterGroups") or []
    if not isinstance(groups_spec, list):
        raise SearchInvalid("filterGroups must be a list")
    if len(groups_spec) > MAX_GROUPS:
        raise SearchInvalid(f"too many filterGroups: {len(groups_spec)} > {MAX_GROUPS}")
    groups: list[list[Filter]] = []
    total = 0
    for g in groups_spec:
        filters = g.get("filters") if isinstance(g, dict) else None
        if not isinstance(filters, list):
            raise SearchInvalid("each filter group needs a 'filters' list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise SearchInvalid(f"too many filters in a group: {len(filters)} > {MAX_FILTERS_PER_GROUP}")
        total += len(filters)
        groups.append([Filter.parse(f) for f in filters])
    if total > MAX_FILTERS:
        raise SearchInvalid(f"too many filters: {total} > {MAX_FILTERS}")
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list):
        raise SearchInvalid("sorts must be a list")
    if len(sorts) > 1:
        raise SearchInvalid("only one sort is allowed")
    sort_prop, descending = None, False
    if sorts:
        s = sorts[0]
        if isinstance(s, str):
            sort_prop, descending = s.lstrip("-"), s.startswith("-")
        elif isinstance(s, dict) and isinstance(s.get("propertyName"), str):
            direction = str(s.get("direction", "ASCENDING")).upper()
            if direction not in ("ASCENDING", "DESCENDING"):
                raise SearchInvalid("sort direction must be ASCENDING or DESCENDING")
            sort_prop, descending = s["propertyName"], direction == "DESCENDING"
        else:
            raise SearchInvalid("a sort needs a propertyName")
    limit = _int(body.get("limit", 10), "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise SearchInvalid(f"limit must be between 1 and {MAX_LIMIT}")
    after = _int(body.get("after", 0) or 0, "after")
    if after < 0:
        raise SearchInvalid("after must not be negative")
    if after + limit > MAX_RESULTS:
        raise SearchInvalid(
            f"paging past {MAX_RESULTS} results is not supported (after + limit > {MAX_RESULTS})"
        )
    props = body.get("properties")
    names: tuple[str, ...] | None = None
    if props:
        if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
            raise SearchInvalid("properties must be a list of property names")
        names = tuple(sorted(set(props)))
    query = body.get("query") or ""
    if not isinstance(query, str):
        raise SearchInvalid("query must be a string")
    return SearchRequest(groups, sort_prop, descending, names, limit, after, query.casefold(), canonical)


def matches(req: SearchRequest, rec_id: str, props: dict[str, Any], query_names: tuple[str, ...]) -> bool:
    if req.query and not any(req.query in str(props.get(n) or "").casefold() for n in query_names):
        return False
    if not req.groups:
        return True
    view = props if "hs_object_id" in props else {**props, "hs_object_id": rec_id}
    return any(all(f.matches(view) for f in group) for group in req.groups)


def sort_key_values(prop: str, raw_values: list[Any]) -> list[Any]:
    """Comparable sort values (None = missing): ms for dates, numbers when all parse, else text."""
    if is_date_property(prop):
        return [to_ms(v) for v in raw_values]
    nums = [_number(v) if v not in (None, "") else None for v in raw_values]
    if all(n is not None for n, v in zip(nums, raw_values, strict=True) if v not in (None, "")):
        return nums
    return [str(v).casefold() if v not in (None, "") else None for v in raw_values]
