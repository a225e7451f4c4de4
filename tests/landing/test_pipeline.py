"""pipeline.extract/load/sync/state with list-backed fake connectors (no network)."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from leadflow import pipeline
from leadflow.errors import ConfigError, SourceError, WarehouseBusy
from leadflow.landing.sink import Page
from leadflow.landing.warehouse import writer_lock
from leadflow.settings import load_settings
from leadflow.sources.base import ExtractResult

from .conftest import contact


def fake_connector(
    pages_per_entity: dict[str, list[list[dict[str, Any]]]], *, fail_after: int | None = None
) -> Any:
    """A module-like object whose extract() serves the given pages; cursor = number of pages served so far."""
    calls: list[dict[str, Any]] = []

    def extract(
        section: Any,
        http: Any,
        *,
        session: Any,
        cursors: Any,
        open_batch: Any,
        entities: Any = None,
        since: Any = None,
        progress: Any = None,
    ) -> list[ExtractResult]:
        calls.append({"since": since, "cursors": {e: cursors.get("hubspot", e) for e in pages_per_entity}})
        out = []
        for entity, pages in pages_per_entity.items():
            if entities and entity not in entities:
                continue
            sink = open_batch("hubspot", entity)
            start = (cursors.get("hubspot", entity) or {}).get("pages", 0)
            res = ExtractResult("hubspot", entity)
            for n, recs in enumerate(pages[start:], start=1):
                if fail_after is not None and n > fail_after:
                    raise SourceError("sandbox went away", source="hubspot")
                sink.write_page(Page("hubspot", entity, orjson.dumps({"results": recs}), "results", 1))
                res.pages += 1
                res.records += len(recs)
                if progress:
                    progress(entity, len(recs))
            res.cursor = {"pages": len(pages)}
            sink.complete(res.cursor)
            out.append(res)
        return out

    return types.SimpleNamespace(extract=extract, calls=calls)


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    return load_settings(
        tmp_path / "none.toml", {"LEADFLOW_HOME": str(tmp_path / "var"), "LEADFLOW_HUBSPOT_TOKEN": "t"}
    )


def count(settings: Any, table: str) -> int:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return int(con.execute(f"SELECT count(*) FROM raw.{table}").fetchall()[0][0])
    finally:
        con.close()


def test_sync_extracts_then_loads_and_a_second_sync_loads_nothing(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = {"contacts": [[contact(1), contact(2)], [contact(3)]], "deals": [[contact(7)]]}
    fake = fake_connector(pages)
    monkeypatch.setattr(pipeline, "_connector", lambda source: fake)
    seen: list[tuple[str, str, int]] = []
    report = pipeline.sync(settings, ["hubspot"], progress=lambda s, e, n: seen.append((s, e, n)))
    assert report.loaded.inserted == 4 and not report.errors
    assert seen == [("hubspot", "contacts", 2), ("hubspot", "contacts", 1), ("hubspot", "deals", 1)]
    assert count(settings, "hubspot__contacts") == 3
    again = pipeline.sync(settings, ["hubspot"])
    assert again.loaded.inserted == 0
    assert fake.calls[-1]["cursors"] == {"contacts": {"pages": 2}, "deals": {"pages": 1}}
    st = pipeline.state(settings)
    assert {t["table"]: t["rows"] for t in st.tables}["raw.hubspot__deals"] == 1


def test_failed_extract_leaves_no_batch_and_no_cursor(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_connector({"contacts": [[contact(1)], [contact(2)]]}, fail_after=1)
    monkeypatch.setattr(pipeline, "_connector", lambda source: fake)
    with pytest.raises(SourceError, match="went away"):
        pipeline.sync(settings, ["hubspot"])
    assert pipeline.state(settings).cursors == []
    assert count(settings, "hubspot__contacts") == 0
    assert list((settings.landing_dir / "tmp").iterdir()) == []
    fixed = fake_connector({"contacts": [[contact(1)], [contact(2)]]})
    monkeypatch.setattr(pipeline, "_connector", lambda source: fixed)
    assert pipeline.sync(settings, ["hubspot"]).loaded.inserted == 2


def test_an_unexpected_error_in_one_source_still_loads_the_others(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = fake_connector({"contacts": [[contact(1), contact(2)]]})

    def broken_extract(*args: Any, **kwargs: Any) -> list[ExtractResult]:
        raise ValueError("malformed page: id 'x' is not a number")

    broken = types.SimpleNamespace(extract=broken_extract)
    monkeypatch.setattr(pipeline, "_connector", lambda source: good if source == "hubspot" else broken)
    with pytest.raises(ValueError, match="malformed page"):
        pipeline.sync(settings, ["calendly", "hubspot"])
    assert count(settings, "hubspot__contacts") == 2  # the healthy source's batch was loaded anyway
    report = pipeline.sync(settings, ["calendly", "hubspot"], raise_errors=False)
    assert set(report.errors) == {"calendly"} and report.loaded.inserted == 0


def test_extract_only_lands_files_until_load(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_connector", lambda source: fake_connector({"contacts": [[contact(1)]]}))
    results = pipeline.extract(settings, "hubspot", entities=["contacts"])
    assert [(r.entity, r.records) for r in results] == [("contacts", 1)]
    assert not settings.warehouse.exists()
    assert len(pipeline.state(settings).pending_batches) == 1
    assert pipeline.load(settings).inserted == 1


def test_sync_without_configured_sources_is_a_config_error(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "none.toml", {"LEADFLOW_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="no source configured"):
        pipeline.sync(s)
    with pytest.raises(ConfigError, match="unknown source"):
        pipeline.extract(s, "salesforce")


_OTHER_WRITER = """
import sys, time
from pathlib import Path
from leadflow.landing.warehouse import connect_writer
with connect_writer(Path(sys.argv[1])) as con:
    con.execute(
        "insert into raw._cursors values ('hubspot', 'contacts', '{\\"pages\\": 1}', 'other', now())"
    )
    con.commit()
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_sync_queues_behind_another_writer_then_resumes_from_its_cursors(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process (a build, a sync) holds the writer lock and the DuckDB file read-write.
    holder = subprocess.Popen(
        [sys.executable, "-c", _OTHER_WRITER, str(settings.warehouse), "2.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        fake = fake_connector({"contacts": [[contact(1)], [contact(2)]]})
        monkeypatch.setattr(pipeline, "_connector", lambda source: fake)

        def no_reader(*_a: Any, **_k: Any) -> Any:
            raise AssertionError("a sync must not open the warehouse before it holds the writer lock")

        monkeypatch.setattr("leadflow.landing.state.connect_reader", no_reader)
        waited: list[float] = []
        started = time.monotonic()
        report = pipeline.sync(
            replace(settings, writer_wait_s=60), ["hubspot"], on_wait=lambda: waited.append(time.monotonic())
        )
    finally:
        holder.wait(30)
    assert holder.returncode == 0
    assert len(waited) == 1 and waited[0] - started < 1.0  # told at once, then waited its turn
    # it read the cursor the other writer committed: only the second page is new
    assert fake.calls[0]["cursors"]["contacts"] == {"pages": 1}
    assert report.loaded.inserted == 1 and count(settings, "hubspot__contacts") == 1


def test_sync_and_extract_give_up_with_warehouse_busy_after_writer_wait_s(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_connector({"contacts": [[contact(1)]]})
    monkeypatch.setattr(pipeline, "_connector", lambda source: fake)
    with writer_lock(settings.warehouse):
        with pytest.raises(WarehouseBusy, match=r"waited 0\.2 s"):
            pipeline.sync(replace(settings, writer_wait_s=0.2), ["hubspot"])
        # an extract reads the committed cursors between writers too
        with pytest.raises(WarehouseBusy, match=r"waited 0\.2 s"):
            pipeline.extract(replace(settings, writer_wait_s=0.2), "hubspot")
    assert fake.calls == []  # nothing was fetched that could not be loaded
    assert [r.records for r in pipeline.extract(settings, "hubspot")] == [1]
