"""The landing store: content-addressed segments, atomic manifests, incomplete batches invisible."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from leadflow.errors import LandingError
from leadflow.landing import files
from leadflow.landing.files import LandingStore, Manifest
from leadflow.landing.sink import Page

from .conftest import contact, hs_page, land


def test_segments_are_named_by_their_sha256_and_rotate(store: LandingStore) -> None:
    small = LandingStore(store.root, segment_bytes=600)
    land(small, "hubspot", "contacts", [hs_page([contact(i)]) for i in range(5)], {"after": "5"})
    [manifest] = small.pending()
    assert len(manifest.files) > 1, "segments should rotate at segment_bytes"
    assert manifest.pages == 5
    assert manifest.cursor == {"after": "5"}
    assert manifest.layouts == (("results", "application/json"),)
    for ref in manifest.files:
        data = small.segment_path(ref.sha256).read_bytes()
        assert hashlib.sha256(data).hexdigest() == ref.sha256
        assert len(data) == ref.bytes
        for line in data.splitlines():
            page = orjson.loads(line)
            assert orjson.loads(page["body"])["results"][0]["id"] in {str(i) for i in range(5)}
    assert list(small.tmp_dir.iterdir()) == []


def test_page_body_is_kept_byte_for_byte(store: LandingStore) -> None:
    body = b'{"results": [ {"id": "1", "updatedAt": "2024-01-01T00:00:00Z", "x": "\\u00e9 \xc3\xa9"} ]}'
    land(store, "hubspot", "contacts", [Page("hubspot", "contacts", body, "results", 1, meta={"k": 1})], None)
    [m] = store.pending()
    line = orjson.loads(store.segment_path(m.files[0].sha256).read_bytes())
    assert line["body"].encode() == body
    assert line["meta"] == {"k": 1}


def test_incomplete_batch_has_no_manifest_and_abort_cleans_up(store: LandingStore) -> None:
    batch = store.open_batch("hubspot", "contacts")
    batch.write_page(hs_page([contact(1)]))
    assert store.pending() == []
    assert store.abort_open() == 1
    assert list(store.tmp_dir.iterdir()) == []
    assert store.pending() == []


def test_manifest_is_atomic_and_readable(store: LandingStore) -> None:
    batch_id = land(store, "hubspot", "deals", [hs_page([contact(1)], entity="deals")], {"c": 1})
    [m] = store.pending()
    assert m.batch_id == batch_id and m.source == "hubspot" and m.entity == "deals"
    again = Manifest.read(m.path)
    assert again == m and again.sha256 == hashlib.sha256(m.path.read_bytes()).hexdigest()
    store.mark_loaded(m)
    store.mark_loaded(m)  # idempotent
    assert store.pending() == [] and (store.loaded_dir / m.path.name).exists()


def test_wrong_entity_and_double_complete_are_refused(store: LandingStore) -> None:
    batch = store.open_batch("hubspot", "contacts")
    with pytest.raises(LandingError, match="one batch per entity"):
        batch.write_page(hs_page([contact(1)], entity="deals"))
    batch.complete(None)
    with pytest.raises(LandingError, match="already complete"):
        batch.complete(None)
    with pytest.raises(LandingError, match="already complete"):
        batch.write_page(hs_page([contact(1)]))


def test_bad_names_and_corrupt_manifest(store: LandingStore) -> None:
    with pytest.raises(LandingError, match="not a valid name"):
        store.open_batch("hub spot", "contacts")
    (store.pending_dir / "20000101T000000.000000Z-x.json").write_text("{not json")
    with pytest.raises(LandingError, match="unreadable"):
        store.pending()


def test_identical_segments_are_stored_once(store: LandingStore) -> None:
    page = hs_page([contact(1)])
    land(store, "hubspot", "contacts", [page], None)
    land(store, "hubspot", "contacts", [page], None)
    a, b = store.pending()
    assert a.files[0].sha256 == b.files[0].sha256
    assert len(list(store.files_dir.rglob("*.jsonl"))) == 1


def test_a_failing_disk_write_stops_landing_and_writes_no_manifest(
    store: LandingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk work runs on the store's disk thread (D36): its failure reaches the extractor and drain."""

    def full(self: object, store: LandingStore) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files._Segment, "close", full)
    batch = store.open_batch("hubspot", "contacts")
    batch.write_page(hs_page([contact(1)]))
    batch.complete({"after": "1"})  # returns at once; the segment is closed on the disk thread
    with pytest.raises(LandingError, match="No space left on device"):
        store.drain()
    assert store.pending() == [] and batch.manifest is None
    with pytest.raises(LandingError, match="could not be written"):
        store.open_batch("hubspot", "deals").write_page(hs_page([contact(2)], entity="deals"))


def test_complete_hands_lines_to_the_disk_thread_in_order(
    store: LandingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of two batches interleaved, with chunks flushed mid-segment: every byte lands in its order."""
    monkeypatch.setattr(files, "WRITE_CHUNK_BYTES", 1_000)
    small = LandingStore(store.root, segment_bytes=3_000)
    a, b = small.open_batch("hubspot", "contacts"), small.open_batch("hubspot", "deals")
    for i in range(40):
        a.write_page(hs_page([contact(i)]))
        b.write_page(hs_page([contact(100 + i)], entity="deals"))
    a.complete({"a": 1})
    b.complete({"b": 1})
    small.drain()
    for batch, first in ((a, 0), (b, 100)):
        assert batch.manifest is not None and len(batch.manifest.files) > 1
        ids = [
            orjson.loads(orjson.loads(line)["body"])["results"][0]["id"]
            for ref in batch.manifest.files
            for line in small.segment_path(ref.sha256).read_bytes().splitlines()
        ]
        assert ids == [str(first + i) for i in range(40)]
