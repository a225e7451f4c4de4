"""Lead sheet connector: CSV against the sandbox's published-sheet export, unchanged sheets skipped."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from leadflow.errors import ConfigError, RequestRejected
from leadflow.sandbox.server import Limits
from leadflow.sandbox.server.testworld import make_world
from leadflow.sandbox.world import World
from leadflow.settings import HttpSettings, SheetSettings
from leadflow.sources import sheet

from .conftest import Landing, serving
from .test_http import Reply, Stub

FAST = HttpSettings(
    connect_timeout_s=2.0, read_timeout_s=5.0, max_retries=4, backoff_base_s=0.01, backoff_max_s=0.05
)


def url(server) -> str:  # type: ignore[no-untyped-def]
    return f"{server.url}/spreadsheets/d/{server.config.sheet_key}/export?format=csv&gid=0"


def run(sheet_url: str, landing: Landing, **kw):  # type: ignore[no-untyped-def]
    landing.new_run()
    (result,) = sheet.extract(
        SheetSettings(url=sheet_url), FAST, session=None, cursors=landing, open_batch=landing.open_batch, **kw
    )
    landing.commit()
    return result


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(60, days=30)


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_sheet_lands_once_then_skips_while_unchanged(world: World) -> None:
    landing = Landing()
    t1 = world.start_ms + 10 * 86_400_000
    with serving(world, clock_ms=t1, limits=Limits.unlimited()) as server:
        first = run(url(server), landing)
        page = landing.last[("sheet", "leads")].pages[0]
        assert page.content_type == "text/csv" and page.records_path == "" and not page.is_deleted
        # the published link's key grants access: it never reaches lineage in the landing files
        assert server.config.sheet_key not in page.request and "/spreadsheets/d/***/export" in page.request
        expected = [r.values for r in world.sheet_rows if r.added_ms <= t1]
        assert rows_of(page.body) == [{c: v.get(c, "") for c in world.sheet_columns} for v in expected]
        assert first.mode == "full" and first.records == len(expected) > 0

        second = run(url(server), landing)  # same clock: 304 to If-None-Match
        assert second.mode == "unchanged" and second.pages == 0
        sink = landing.last[("sheet", "leads")]
        assert sink.completed and sink.pages == [] and sink.cursor == first.cursor

        # without an ETag in the cursor the content hash decides
        landing.cursors[("sheet", "leads")] = {k: v for k, v in first.cursor.items() if k != "etag"}
        third = run(url(server), landing)
        assert third.mode == "unchanged" and landing.last[("sheet", "leads")].pages == []
        stats = server.stats()["requests"]["sheet.export"]
        assert stats == {"200": 2, "304": 1}

        later = next(r.added_ms for r in world.sheet_rows if r.added_ms > t1)
        server.set_clock(later)
        fourth = run(url(server), landing)
        assert fourth.mode == "full" and fourth.records == len(expected) + 1
        assert fourth.cursor["sha256"] != first.cursor["sha256"]


def test_since_forces_a_load(world: World) -> None:
    landing = Landing()
    with serving(world, limits=Limits.unlimited()) as server:
        run(url(server), landing)
        again = run(url(server), landing, since=datetime(2026, 1, 1, tzinfo=UTC))
    assert again.mode == "full" and len(landing.last[("sheet", "leads")].pages) == 1


def test_malformed_csv_is_retried_not_landed() -> None:
    stub = Stub()
    stub.thread.start()
    try:
        good = b"email,first_name\r\na@example.org,Ann\r\nb@example.org,Bo\r\n"
        stub.script["/pub"] = [
            Reply(body=b"email,first_name\r\na@example.org,Ann\r\nb@exa"),
            Reply(body=good),
        ]
        landing = Landing()
        result = run(stub.url + "/pub?output=csv", landing)
    finally:
        stub.server.shutdown()
        stub.server.server_close()
    assert [p.body for p in landing.last[("sheet", "leads")].pages] == [good]
    assert result.records == 2 and stub.hits("/pub") == 2


def test_wrong_link_and_missing_url_say_what_to_fix(world: World) -> None:
    landing = Landing()
    with (
        serving(world, limits=Limits.unlimited()) as server,
        pytest.raises(RequestRejected, match="404 Not Found"),
    ):
        run(f"{server.url}/spreadsheets/d/not-the-key/export?format=csv&gid=0", landing)
    with pytest.raises(ConfigError, match="LEADFLOW_SHEET_URL"):
        run("", landing)
