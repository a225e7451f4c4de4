"""One writer at a time; cursors and state read through read-only connections."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from leadflow.errors import WarehouseBusy
from leadflow.landing import loader
from leadflow.landing.files import LandingStore
from leadflow.landing.state import CommittedCursors, read_state
from leadflow.landing.warehouse import connect_reader, connect_writer, writer_lock

from .conftest import contact, hs_page, land


def test_second_writer_waits_then_fails_clearly(warehouse: Path) -> None:
    with (
        writer_lock(warehouse),
        pytest.raises(WarehouseBusy, match="another leadflow process is writing"),
        writer_lock(warehouse, wait_s=0.2),
    ):
        pass


def test_writer_proceeds_once_the_first_releases(warehouse: Path) -> None:
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with writer_lock(warehouse):
            order.append("first-in")
            holding.set()
            time.sleep(0.3)
            order.append("first-out")

    t = threading.Thread(target=first)
    t.start()
    assert holding.wait(10)  # the first writer holds the lock before the second asks for it
    with writer_lock(warehouse, wait_s=30):
        order.append("second-in")
    t.join()
    assert order == ["first-in", "first-out", "second-in"]


def test_reader_on_missing_warehouse_and_cursor_snapshot(store: LandingStore, warehouse: Path) -> None:
    with connect_reader(warehouse) as con:
        assert con is None
    assert CommittedCursors.read(warehouse).get("hubspot", "contacts") is None
    land(store, "hubspot", "contacts", [hs_page([contact(1)])], {"last_modified_ms": 5})
    with connect_writer(warehouse) as con:
        loader.load_pending(con, store)
    cursors = CommittedCursors.read(warehouse)
    assert cursors.get("hubspot", "contacts") == {"last_modified_ms": 5}
    assert cursors.get("hubspot", "deals") is None


def test_state_reports_tables_cursors_loads_and_pending(store: LandingStore, warehouse: Path) -> None:
    land(store, "hubspot", "contacts", [hs_page([contact(1), contact(2), 3])], {"c": 1})
    with connect_writer(warehouse) as con:
        loader.load_pending(con, store)
    land(store, "hubspot", "deals", [hs_page([contact(9)], entity="deals")], {"c": 1})
    st = read_state(warehouse, store.root)
    tables = {t["table"]: t["rows"] for t in st.tables}
    assert tables["raw.hubspot__contacts"] == 2 and tables["raw.hubspot__deals"] == 0
    assert "raw._ledger" not in tables
    assert [(c["source"], c["entity"], c["cursor"]) for c in st.cursors] == [
        ("hubspot", "contacts", '{"c":1}')
    ]
    assert [(x["entity"], x["rows_inserted"], x["rows_quarantined"]) for x in st.last_loads] == [
        ("contacts", 2, 1)
    ]
    assert len(st.pending_batches) == 1 and "hubspot-deals" in st.pending_batches[0]
    assert st.quarantine[0]["reason"] == "record is not a JSON object"
