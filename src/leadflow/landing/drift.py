"""Schema drift: compare the JSON shape of a staged batch with what earlier batches showed; record, never fail.

The observed shape of an entity is a set of paths (top-level keys, and the keys one level down inside
object-valued keys such as HubSpot's `properties`) with their JSON types as DuckDB's `json_type` names
them. `raw._schema` keeps every path ever seen per (source, entity); a batch records to
`raw._schema_drift`:

- `added`: a path never seen before (not for the entity's first batch, which sets the baseline);
- `missing`: a path that the previous batch of the entity had and this one lacks (only for batches of
  at least `MIN_ROWS_FOR_MISSING` records, since HubSpot omits unset properties and small incremental
  batches would otherwise report noise);
- `type_changed`: the non-null type of a path differs from the one recorded (null is compatible with
  every type: Calendly serves `null` for absent objects).

Key sets are computed over every record; types over the first `TYPE_SAMPLE_ROWS` records of each
landing file, because per-key `json_type` over a million payloads costs seconds while key sets cost a
tenth of that (see docs/landing.md). A type change confined to later records of a file goes unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import duckdb

from leadflow.landing.schema import SCHEMA

TYPE_SAMPLE_ROWS = 1_000
MIN_ROWS_FOR_MISSING = 50


@dataclass(frozen=True)
class DriftChange:
    path: str
    change: str
    old_type: str | None
    new_type: str | None


def _quote_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


Observed = dict[str, set[str]]
"""Path -> the non-null JSON types seen there (empty when only nulls were sampled)."""


def merge(into: Observed, more: Observed) -> Observed:
    """Union of two observations (segments of one batch are observed one by one)."""
    for path, types in more.items():
        into.setdefault(path, set()).update(types)
    return into


def json_type_name(value: Any) -> str:
    """The name DuckDB's `json_type` gives the JSON value that `value` was parsed from."""
    if isinstance(value, str):
        return "VARCHAR"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "UBIGINT" if 0 <= value < 1 << 64 else "BIGINT" if value >= -(1 << 63) else "DOUBLE"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, dict):
        return "OBJECT"
    if isinstance(value, list):
        return "ARRAY"
    return "NULL"


class RecordObserver:
    """`observe` for records a connector already parsed, fed page by page while a batch is landed.

    Same result as the SQL over the staged payloads (every record's top-level keys and the keys of
    its object-valued keys, types from the first `TYPE_SAMPLE_ROWS` records), except that it also
    looks inside a key that first holds an object past the sample in a record with a new key. It runs
    on the extracting thread and spares the single writer a pass over every payload (D28). A page that
    brings no new key costs a few set look-ups done in C (D36). Records that are not objects are
    skipped (the loader quarantines them).
    """

    def __init__(self) -> None:
        self.types: Observed = {}
        self._top: set[str] = set()  # top-level keys seen
        self._children: dict[str, set[str]] = {}  # key seen holding an object -> its keys seen
        self._sampled = 0

    def add(self, records: list[Any]) -> None:
        """Observe one page of records: the sample first, then key sets a page at a time."""
        objects = [r for r in records if type(r) is dict]
        if self._sampled < TYPE_SAMPLE_ROWS:
            for rec in objects[: TYPE_SAMPLE_ROWS - self._sampled]:
                self._sampled += 1
                self._sample(rec)
        elif self._nothing_new(objects):
            return
        self._add_keys(objects)

    def _nothing_new(self, objects: list[dict[str, Any]]) -> bool:
        """True when no record of the page has a key path not seen before (the common page)."""
        try:
            return self._top.issuperset(chain.from_iterable(objects)) and all(
                kids.issuperset(chain.from_iterable(map(itemgetter(k), objects)))
                for k, kids in self._children.items()
            )
        except (KeyError, TypeError):  # a record lacks the key, or it holds no object there
            return False

    def _add_keys(self, objects: list[dict[str, Any]]) -> None:
        types, top, children = self.types, self._top, self._children
        for rec in objects:
            if not top.issuperset(rec):  # a new key: note which of the record's keys hold objects
                for k in rec.keys() - top:
                    types.setdefault(k, set())
                top.update(rec)
                for k, v in rec.items():
                    if type(v) is dict:
                        children.setdefault(k, set())
        for k, kids in children.items():
            for rec in objects:
                v = rec.get(k)
                if type(v) is dict and not kids.issuperset(v):
                    for child in v.keys() - kids:
                        types.setdefault(f"{k}.{child}", set())
                    kids.update(v)

    def _sample(self, rec: dict[str, Any]) -> None:
        for k, v in rec.items():
            kinds = self.types.setdefault(k, set())
            if v is not None:
                kinds.add(json_type_name(v))
            if isinstance(v, dict):
                self._children.setdefault(k, set())
                for child, cv in v.items():
                    child_kinds = self.types.setdefault(f"{k}.{child}", set())
                    if cv is not None:
                        child_kinds.add(json_type_name(cv))


def _type_name(types: set[str]) -> str | None:
    return "|".join(sorted(types)) if types else None


def observe(con: duckdb.DuckDBPyConnection, stage: str, where: str = "problem IS NULL") -> Observed:
    """The paths and JSON types of the staged payloads that can land.

    Key sets are read as whole lists (`SELECT DISTINCT json_keys(...)`): a batch has a handful of
    distinct key lists, so this is one pass without unnesting a row per key. Types and which keys
    hold objects come from the sample.
    """
    good = f"(SELECT payload FROM {stage} WHERE {where})"
    sample = f"(SELECT payload FROM {good} LIMIT {TYPE_SAMPLE_ROWS})"
    types: dict[str, set[str]] = {}
    for k, t in con.execute(
        f"SELECT k, json_type(payload -> k) FROM (SELECT payload, unnest(json_keys(payload)) AS k FROM {sample}) GROUP BY ALL"
    ).fetchall():
        types.setdefault(k, set())
        if t != "NULL":
            types[k].add(t)
    nested = sorted(k for k, ts in types.items() if "OBJECT" in ts)
    paths = ["$." + _quote_key(parent) for parent in nested]
    lists = ", ".join(["json_keys(payload)", *(f"json_keys(payload, ${i + 1})" for i in range(len(paths)))])
    for row in con.execute(f"SELECT DISTINCT {lists} FROM {good}", paths).fetchall():
        for k in row[0] or ():
            types.setdefault(k, set())
        for parent, children in zip(nested, row[1:], strict=True):
            for child in children or ():
                types.setdefault(f"{parent}.{child}", set())
    for parent, path in zip(nested, paths, strict=True):
        for child, t in con.execute(
            f"""SELECT k, json_type(payload -> ? -> k) FROM (
                    SELECT payload, unnest(json_keys(payload, ?)) AS k FROM {sample}
                ) GROUP BY ALL""",
            [parent, path],
        ).fetchall():
            if t != "NULL":
                types.setdefault(f"{parent}.{child}", set()).add(t)
    return types


def record_drift(
    con: duckdb.DuckDBPyConnection, source: str, entity: str, batch_id: str, seen: Observed, good_rows: int
) -> list[DriftChange]:
    """Compare a batch's observation with `raw._schema`, write drift rows and the updated schema."""
    if good_rows == 0:
        return []
    observed = {path: _type_name(types) for path, types in seen.items()}
    known_rows = con.execute(
        f"SELECT path, json_type, last_seen_batch_id FROM {SCHEMA}._schema WHERE source = ? AND entity = ?",
        [source, entity],
    ).fetchall()
    known = {p: (t, last) for p, t, last in known_rows}
    previous_batch = max((last for _, last in known.values()), default=None)
    changes: list[DriftChange] = []
    for path, new_type in sorted(observed.items()):
        if path not in known:
            if known:
                changes.append(DriftChange(path, "added", None, new_type))
            continue
        old_type = known[path][0]
        if old_type and new_type and old_type != new_type:
            changes.append(DriftChange(path, "type_changed", old_type, new_type))
    if good_rows >= MIN_ROWS_FOR_MISSING:
        for path, (old_type, last) in sorted(known.items()):
            if path not in observed and last == previous_batch:
                changes.append(DriftChange(path, "missing", old_type, None))
    if changes:
        con.executemany(
            f"INSERT INTO {SCHEMA}._schema_drift VALUES (?, ?, ?, ?, ?, ?, ?, now())",
            [[source, entity, c.path, c.change, c.old_type, c.new_type, batch_id] for c in changes],
        )
    _save_schema(con, source, entity, batch_id, observed, known)
    return changes


def _save_schema(
    con: duckdb.DuckDBPyConnection,
    source: str,
    entity: str,
    batch_id: str,
    observed: dict[str, str | None],
    known: dict[str, tuple[str | None, str]],
) -> None:
    """Update seen paths (type, last batch) and add new ones to `raw._schema`."""
    if not observed:
        return
    rows = [
        (path, new_type or (known[path][0] if path in known else None), path not in known)
        for path, new_type in observed.items()
    ]
    values = ", ".join(["(?, ?, ?)"] * len(rows))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _drift_obs AS SELECT * FROM (VALUES {values}) t(path, json_type, is_new)",
        [v for row in rows for v in row],
    )
    con.execute(
        f"""UPDATE {SCHEMA}._schema s SET json_type = o.json_type, last_seen_batch_id = ?
            FROM _drift_obs o WHERE s.source = ? AND s.entity = ? AND s.path = o.path AND NOT o.is_new""",
        [batch_id, source, entity],
    )
    con.execute(
        f"INSERT INTO {SCHEMA}._schema SELECT ?, ?, path, json_type, ?, ? FROM _drift_obs WHERE is_new",
        [source, entity, batch_id, batch_id],
    )
    con.execute("DROP TABLE _drift_obs")
