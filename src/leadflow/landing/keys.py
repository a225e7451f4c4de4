"""How each raw table keys its records: the record id, the version timestamp and the payload as SQL.

Follows the table in section 3 of `docs/data-contract.md`. Expressions are DuckDB SQL over the staged
columns `rec` (one record as JSON), `meta` (the page's `Page.meta` as JSON) and `fetched_at_ms`.
HubSpot objects key on `id` and version on `updatedAt`; Calendly resources on `uri` / `updated_at`;
HubSpot associations (v4 batch-read results, which have no id or timestamp of their own) on
`<from_type>:<from_id>:<to_type>`, versioned by fetch time, with the payload rebuilt as
`{"from_type", "from_id", "to_type", "to"}`. The lead sheet is CSV and keyed in Python (`loader.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from leadflow.errors import LandingError

FETCH_TS = "to_timestamp(fetched_at_ms / 1000.0)"


@dataclass(frozen=True)
class KeyRule:
    """SQL for one raw table; the `*_field` names only feed quarantine reasons."""

    record_id: str
    version_ts: str
    payload: str
    id_field: str
    version_field: str


HUBSPOT = KeyRule(
    record_id="rec ->> 'id'",
    version_ts="try_cast(rec ->> 'updatedAt' AS TIMESTAMPTZ)",
    payload="rec",
    id_field="id",
    version_field="updatedAt",
)

HUBSPOT_ASSOCIATIONS = KeyRule(
    record_id="(meta ->> 'from_type') || ':' || (rec -> 'from' ->> 'id') || ':' || (meta ->> 'to_type')",
    version_ts=FETCH_TS,
    payload=(
        "json_object('from_type', meta ->> 'from_type', 'from_id', rec -> 'from' ->> 'id', "
        "'to_type', meta ->> 'to_type', 'to', coalesce(rec -> 'to', '[]'::JSON))"
    ),
    id_field="meta.from_type, from.id, meta.to_type",
    version_field="fetched_at",
)

CALENDLY = KeyRule(
    record_id="rec ->> 'uri'",
    version_ts="try_cast(rec ->> 'updated_at' AS TIMESTAMPTZ)",
    payload="rec",
    id_field="uri",
    version_field="updated_at",
)

# JSON bodies served for the sheet (not the usual CSV): key by lower-cased email, version by fetch time.
SHEET_JSON = KeyRule(
    record_id="lower(trim(rec ->> 'email'))",
    version_ts=FETCH_TS,
    payload="rec",
    id_field="email",
    version_field="fetched_at",
)


def rule_for(source: str, entity: str) -> KeyRule:
    """The key rule of `<source>__<entity>`; unknown entities of a known source use the source's rule."""
    if source == "hubspot":
        return HUBSPOT_ASSOCIATIONS if entity == "associations" else HUBSPOT
    if source == "calendly":
        return CALENDLY
    if source == "sheet":
        return SHEET_JSON
    raise LandingError(f"no key rule for source {source!r}; known sources: hubspot, calendly, sheet")
