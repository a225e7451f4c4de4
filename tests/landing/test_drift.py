"""Schema drift observed while landing (Python, D28) equals the loader's SQL observation of the payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.landing import drift
from leadflow.landing.files import LandingStore
from leadflow.landing.warehouse import connect_writer

from .conftest import contact, hs_page, land
from .test_loader import load, rows

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=2), st.dictionaries(st.sampled_from("xyz"), scalars, max_size=3)
)
records = st.lists(
    st.dictionaries(st.sampled_from(["id", "a", "b", "properties"]), values, max_size=4), max_size=30
)


def sql_observe(recs: list[Any]) -> drift.Observed:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE s (payload JSON, problem VARCHAR)")
    if recs:
        con.executemany("INSERT INTO s VALUES (?, NULL)", [[orjson.dumps(r).decode()] for r in recs])
    return drift.observe(con, "s")


FILLER = [{"id": str(i), "properties": {"email": "x"}} for i in range(drift.TYPE_SAMPLE_ROWS)]


@settings(max_examples=60, deadline=None)
@given(records, st.booleans())
def test_the_landing_observer_sees_what_the_sql_observer_sees(
    recs: list[dict[str, Any]], past_sample: bool
) -> None:
    """Within the type sample and past it (where key sets are taken a page at a time)."""
    recs = (FILLER if past_sample else []) + recs
    observer = drift.RecordObserver()
    for start in range(0, len(recs), 100):  # pages of 100, as HubSpot serves them
        observer.add(recs[start : start + 100])
    sql = sql_observe(recs)
    if not past_sample:
        assert observer.types == sql
        return
    # Past the sample the SQL pass only looks inside keys that held an object in the sample; the
    # landing observer also looks inside keys that first hold an object in a record of a new shape.
    assert {k: v for k, v in observer.types.items() if k in sql} == sql
    for extra in set(observer.types) - set(sql):
        parent, _, child = extra.partition(".")
        assert any(type(r.get(parent)) is dict and child in r[parent] for r in recs), extra


def test_json_type_names_match_duckdb() -> None:
    samples = ["a", True, 0, 1 << 63, (1 << 64) - 1, -1, -(1 << 63), 1.5, None, {}, []]
    con = duckdb.connect()
    got = [
        con.execute("SELECT json_type(?::JSON)", [orjson.dumps(v).decode()]).fetchall()[0][0] for v in samples
    ]
    assert [drift.json_type_name(v) for v in samples] == got


@pytest.mark.parametrize("parsed", [True, False])
def test_drift_is_the_same_whether_landing_or_the_loader_observed_it(tmp_path: Path, parsed: bool) -> None:
    store = LandingStore(tmp_path / "landing")
    warehouse = tmp_path / "w.duckdb"

    def page(recs: list[dict[str, Any]]) -> Any:
        return hs_page(recs, parsed={"results": recs} if parsed else None)

    first = [contact(i, phone="1") for i in range(60)]
    second = [contact(i, updated="2024-05-01T00:00:00.000Z", lead_channel="web") for i in range(60)]
    for rec in second:
        rec["archived"] = "no"
    land(store, "hubspot", "contacts", [page(first)], {"c": 1})
    land(store, "hubspot", "contacts", [page(second)], {"c": 2})
    manifests = store.pending()
    assert all((m.observed is not None) == parsed for m in manifests)
    assert load(store, warehouse).inserted == 120
    assert rows(warehouse, "SELECT path, change, old_type, new_type FROM raw._schema_drift ORDER BY ALL") == [
        ("archived", "type_changed", "BOOLEAN", "VARCHAR"),
        ("properties.lead_channel", "added", None, "VARCHAR"),
        ("properties.phone", "missing", "VARCHAR", None),
    ]
    with connect_writer(warehouse) as con:
        schema = con.execute("SELECT path, json_type FROM raw._schema ORDER BY path").fetchall()
    assert ("properties.email", "VARCHAR") in schema and ("archived", "VARCHAR") in schema
