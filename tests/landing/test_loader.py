"""The loader: one transaction per batch, exactly once, quarantine and drift without failing the batch."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from leadflow.errors import LandingError
from leadflow.landing import loader
from leadflow.landing.files import LandingStore
from leadflow.landing.sink import Page
from leadflow.landing.warehouse import connect_writer

from .conftest import contact, hs_page, land


def rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def load(store: LandingStore, warehouse: Path) -> loader.LoadReport:
    with connect_writer(warehouse) as con:
        return loader.load_pending(con, store)


CONTACTS = "SELECT record_id, version_ts::VARCHAR, is_deleted, payload, record_hash FROM raw.hubspot__contacts ORDER BY ALL"


def test_batch_lands_rows_ledger_and_cursor(store: LandingStore, warehouse: Path) -> None:
    bid = land(
        store,
        "hubspot",
        "contacts",
        [hs_page([contact(1), contact(2)]), hs_page([contact(3)])],
        {"after": "3"},
    )
    report = load(store, warehouse)
    assert [(b.records, b.inserted, b.quarantined, b.cursor_advanced) for b in report.batches] == [
        (3, 3, 0, True)
    ]
    got = rows(warehouse, CONTACTS)
    assert [r[0] for r in got] == ["1", "2", "3"]
    assert got[0][1].startswith("2024-01-02 00:00:00")
    assert orjson.loads(got[0][3]) == contact(1)
    assert rows(warehouse, "SELECT DISTINCT _batch_id FROM raw.hubspot__contacts") == [(bid,)]
    assert rows(warehouse, "SELECT source, entity, cursor, batch_id FROM raw._cursors") == [
        ("hubspot", "contacts", '{"after":"3"}', bid)
    ]
    kinds = rows(warehouse, "SELECT kind, pages, records, rows_inserted FROM raw._ledger ORDER BY kind")
    assert kinds == [("manifest", 2, 3, 3), ("segment", 2, 3, 3)]
    assert store.pending() == []


def test_payloads_are_stored_with_zstd(store: LandingStore, warehouse: Path) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(i) for i in range(1, 200)])], {"c": 1})
    with connect_writer(warehouse) as con:
        loader.load_pending(con, store)
        con.execute("CHECKPOINT")
        used = con.execute(
            """SELECT DISTINCT compression FROM pragma_storage_info('raw.hubspot__contacts')
               WHERE column_name = 'payload' AND segment_type = 'JSON'"""
        ).fetchall()
    assert used == [("ZSTD",)]  # D44: faster to checkpoint than FSST and half the size for JSON


def test_loading_the_same_batch_twice_changes_nothing(store: LandingStore, warehouse: Path) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(1), contact(2)])], {"after": "2"})
    [manifest] = store.pending()
    copy = manifest.path.read_bytes()
    load(store, warehouse)
    before = rows(warehouse, CONTACTS), rows(warehouse, "SELECT count(*) FROM raw._ledger")
    manifest.path.write_bytes(copy)  # the manifest shows up again (e.g. crash before it was moved)
    report = load(store, warehouse)
    assert report.batches[0].skipped and report.inserted == 0
    assert (rows(warehouse, CONTACTS), rows(warehouse, "SELECT count(*) FROM raw._ledger")) == before


def test_a_version_lands_once_across_pages_and_batches(store: LandingStore, warehouse: Path) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(1), contact(2)]), hs_page([contact(2)])], {"c": 1})
    changed = contact(2, updated="2024-02-01T00:00:00.000Z", firstname="Bo")
    land(store, "hubspot", "contacts", [hs_page([contact(1), changed], fetched_at_ms=5)], {"c": 2})
    report = load(store, warehouse)
    assert [(b.records, b.inserted, b.duplicates) for b in report.batches] == [(3, 2, 1), (2, 1, 1)]
    got = rows(warehouse, "SELECT record_id, count(*) FROM raw.hubspot__contacts GROUP BY 1 ORDER BY 1")
    assert got == [("1", 1), ("2", 2)]
    assert rows(warehouse, "SELECT cursor FROM raw._cursors") == [('{"c":2}',)]


def test_fetch_versioned_values_that_change_back_land_again(store: LandingStore, warehouse: Path) -> None:
    """Sheet rows carry no time of their own: A -> B -> A must end with A as the latest version."""
    for i, status in enumerate(["new", "contacted", "new", "new"]):
        body = f"email,status\r\na@x.com,{status}\r\n".encode()
        page = Page("sheet", "leads", body, "", 1_700_000_000_000 + i * 60_000, content_type="text/csv")
        land(store, "sheet", "leads", [page], {"n": i})
    report = load(store, warehouse)
    assert [b.inserted for b in report.batches] == [1, 1, 1, 0]  # the 4th fetch repeats the latest
    latest = rows(warehouse, "SELECT arg_max(payload, version_ts) FROM raw.sheet__leads")[0][0]
    assert orjson.loads(latest)["status"] == "new"
    # a HubSpot record re-served at an older version (search index lag) still adds nothing
    land(store, "hubspot", "contacts", [hs_page([contact(1)])], {"c": 1})
    land(
        store,
        "hubspot",
        "contacts",
        [hs_page([contact(1, updated="2024-03-01T00:00:00.000Z", firstname="A")])],
        {"c": 2},
    )
    land(store, "hubspot", "contacts", [hs_page([contact(1)])], {"c": 3})
    assert [b.inserted for b in load(store, warehouse).batches] == [1, 1, 0]


def test_fetch_versioned_latest_is_defined_when_one_fetch_holds_two_payloads(
    store: LandingStore, warehouse: Path
) -> None:
    """A sheet listing one e-mail twice lands both rows at one fetch time; the latest is the one staging
    keeps (the larger record_hash), whatever order the rows came in, so re-serving it adds nothing."""
    for order in (("a", "b"), ("b", "a")):
        home = warehouse.parent / "".join(order)
        home.mkdir()
        st, wh = LandingStore(home / "landing"), home / "w.duckdb"
        first = "email,status\r\n" + "".join(f"x@x.com,{v}\r\n" for v in order)
        land(
            st,
            "sheet",
            "leads",
            [Page("sheet", "leads", first.encode(), "", 1_000, content_type="text/csv")],
            {},
        )
        assert [b.inserted for b in load(st, wh).batches] == [2]
        winner = rows(
            wh, "SELECT payload ->> 'status' FROM raw.sheet__leads ORDER BY record_hash DESC LIMIT 1"
        )[0][0]
        loser = "b" if winner == "a" else "a"
        for i, status in enumerate((winner, loser)):
            body = f"email,status\r\nx@x.com,{status}\r\n".encode()
            land(
                st,
                "sheet",
                "leads",
                [Page("sheet", "leads", body, "", 2_000 + i, content_type="text/csv")],
                {},
            )
        assert [b.inserted for b in load(st, wh).batches] == [0, 1]


def test_identical_segment_in_two_batches_loads_once(store: LandingStore, warehouse: Path) -> None:
    page = hs_page([contact(1)])
    land(store, "hubspot", "contacts", [page], {"c": 1})
    land(store, "hubspot", "contacts", [page], {"c": 2})
    report = load(store, warehouse)
    assert [b.inserted for b in report.batches] == [1, 0]
    assert rows(warehouse, "SELECT count(*) FROM raw._ledger WHERE kind = 'segment'") == [(1,)]
    assert rows(warehouse, "SELECT cursor FROM raw._cursors") == [('{"c":2}',)]


def test_bad_records_are_quarantined_and_the_rest_loads(store: LandingStore, warehouse: Path) -> None:
    pages = [
        hs_page([contact(1), {"no": "id"}, 7, contact(2, updated="yesterday"), contact(3)]),
        Page("hubspot", "contacts", b'{"results": [{"id": "9"', "results", 1),
        Page("hubspot", "contacts", b'{"total": 0}', "results", 1),
        Page("hubspot", "contacts", b'{"results": []}', "results", 1),
    ]
    land(store, "hubspot", "contacts", pages, {"c": 1})
    report = load(store, warehouse)
    assert (report.inserted, report.quarantined) == (2, 5)
    assert [r[0] for r in rows(warehouse, CONTACTS)] == ["1", "3"]
    reasons = sorted(r[0] for r in rows(warehouse, "SELECT reason FROM raw._quarantine"))
    assert reasons == [
        "no records at records_path 'results'",
        "page body is not valid JSON",
        "record has no id (id)",
        "record has no readable version timestamp (updatedAt)",
        "record is not a JSON object",
    ]
    assert rows(warehouse, "SELECT record FROM raw._quarantine WHERE reason LIKE 'record is not%'") == [
        ("7",)
    ]
    assert rows(warehouse, "SELECT count(*) FROM raw._cursors") == [(1,)]


def test_calendly_associations_and_sheet_are_keyed_per_contract(store: LandingStore, warehouse: Path) -> None:
    invitee = {
        "uri": "https://api.calendly.com/scheduled_events/E/invitees/I",
        "updated_at": "2024-03-01T10:00:00.000000Z",
    }
    land(
        store,
        "calendly",
        "invitees",
        [Page("calendly", "invitees", orjson.dumps({"collection": [invitee]}), "collection", 1)],
        None,
    )
    me = {"uri": "https://api.calendly.com/users/U", "updated_at": "2024-03-01T10:00:00.000000Z"}
    land(
        store,
        "calendly",
        "users",
        [Page("calendly", "users", orjson.dumps({"resource": me}), "resource", 1)],
        None,
    )
    assoc = {
        "results": [{"from": {"id": "11"}, "to": [{"toObjectId": 5, "associationTypes": [{"typeId": 200}]}]}]
    }
    meta = {"from_type": "meetings", "to_type": "contacts"}
    land(
        store,
        "hubspot",
        "associations",
        [Page("hubspot", "associations", orjson.dumps(assoc), "results", 1_700_000_000_000, meta=meta)],
        None,
    )
    csv_body = b"Email,name\r\nAnn@Example.com,Ann\r\n,Nobody\r\nbad@example.com\r\n"
    land(
        store,
        "sheet",
        "leads",
        [Page("sheet", "leads", csv_body, "", 1_700_000_000_000, content_type="text/csv")],
        {"etag": "1"},
    )
    report = load(store, warehouse)
    assert report.inserted == 4 and report.quarantined == 2
    assert rows(warehouse, "SELECT record_id, version_ts::VARCHAR FROM raw.calendly__invitees") == [
        (invitee["uri"], "2024-03-01 10:00:00+00")
    ]
    assert rows(warehouse, "SELECT record_id FROM raw.calendly__users") == [(me["uri"],)]
    [(rid, ts, payload)] = rows(
        warehouse, "SELECT record_id, epoch_ms(version_ts), payload FROM raw.hubspot__associations"
    )
    assert (rid, ts) == ("meetings:11:contacts", 1_700_000_000_000)
    assert orjson.loads(payload) == {
        "from_type": "meetings",
        "from_id": "11",
        "to_type": "contacts",
        "to": assoc["results"][0]["to"],
    }
    [(rid, payload)] = rows(warehouse, "SELECT record_id, payload FROM raw.sheet__leads")
    assert rid == "ann@example.com" and orjson.loads(payload) == {"Email": "Ann@Example.com", "name": "Ann"}
    assert sorted(r[0] for r in rows(warehouse, "SELECT reason FROM raw._quarantine")) == [
        "CSV row has 1 fields, the header has 2",
        "record has no id (email)",
    ]


def test_tombstones_land_as_new_versions(store: LandingStore, warehouse: Path) -> None:
    archived = contact(1) | {"archived": True, "archivedAt": "2024-03-01T00:00:00.000Z"}
    land(
        store, "hubspot", "contacts", [hs_page([contact(1)]), hs_page([archived], is_deleted=True)], {"c": 1}
    )
    land(store, "hubspot", "contacts", [hs_page([archived], is_deleted=True, fetched_at_ms=9)], {"c": 2})
    load(store, warehouse)
    assert rows(warehouse, "SELECT record_id, is_deleted FROM raw.hubspot__contacts ORDER BY 2") == [
        ("1", False),
        ("1", True),
    ]


def test_schema_drift_is_recorded_not_fatal(store: LandingStore, warehouse: Path) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(i, phone="1") for i in range(60)])], {"c": 1})
    new = [contact(i, updated="2024-05-01T00:00:00.000Z", lead_channel="web") for i in range(60)]
    for rec in new:
        rec["archived"] = "no"  # type change BOOLEAN -> VARCHAR
    land(store, "hubspot", "contacts", [hs_page(new)], {"c": 2})
    report = load(store, warehouse)
    assert report.inserted == 120
    drift = rows(warehouse, "SELECT path, change, old_type, new_type FROM raw._schema_drift ORDER BY ALL")
    assert drift == [
        ("archived", "type_changed", "BOOLEAN", "VARCHAR"),
        ("properties.lead_channel", "added", None, "VARCHAR"),
        ("properties.phone", "missing", "VARCHAR", None),
    ]


def test_failure_inside_the_transaction_rolls_everything_back(
    store: LandingStore, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(1), contact(2)])], {"c": 1})

    def boom(phase: str, detail: str = "") -> None:
        if phase == "load.cursor":
            raise RuntimeError("killed")

    monkeypatch.setattr(loader, "pause_at", boom)
    with pytest.raises(RuntimeError):
        load(store, warehouse)
    assert rows(warehouse, "SELECT count(*) FROM raw.hubspot__contacts") == [(0,)]
    assert rows(warehouse, "SELECT count(*) FROM raw._ledger") == [(0,)]
    assert rows(warehouse, "SELECT count(*) FROM raw._cursors") == [(0,)]
    assert len(store.pending()) == 1
    monkeypatch.setattr(loader, "pause_at", lambda phase, detail="": None)
    assert load(store, warehouse).inserted == 2


def test_an_older_batch_never_moves_the_cursor_back(store: LandingStore, warehouse: Path) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(1)])], {"c": "old"})
    land(store, "hubspot", "contacts", [hs_page([contact(2)])], {"c": "new"})
    old, _ = store.pending()
    # load the newer batch first (as if the older one had been stuck somewhere)
    stash = old.path.with_suffix(".stash")
    shutil.move(old.path, stash)
    load(store, warehouse)
    shutil.move(stash, old.path)
    report = load(store, warehouse)
    assert report.batches[0].inserted == 1 and not report.batches[0].cursor_advanced
    assert rows(warehouse, "SELECT cursor FROM raw._cursors") == [('{"c":"new"}',)]


def test_missing_landing_file_is_a_clear_error(store: LandingStore, warehouse: Path) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(1)])], {"c": 1})
    [m] = store.pending()
    store.segment_path(m.files[0].sha256).unlink()
    with pytest.raises(LandingError, match="is missing"):
        load(store, warehouse)
