"""The landing store: immutable, content-addressed page files and atomic batch manifests on disk.

Layout under `Settings.landing_dir`:

    files/<h[:2]>/<sha256>.jsonl      segments: one JSON line per page, named by their SHA-256
    tmp/                              segments and manifests being written (never read by the loader)
    batches/pending/<batch_id>.json   complete batches waiting for the loader
    batches/loaded/<batch_id>.json    batches the loader has committed (kept for replay and lineage)

A `BatchWriter` is the `PageSink` a connector writes one (source, entity) batch to. Each page becomes
one line `{"fetched_at_ms", "is_deleted", "records_path", "content_type", "request", "meta", "body"}`
with the body kept byte-for-byte as a JSON string (it is parsed by DuckDB at load time, so a body that
is not valid JSON quarantines one page instead of breaking the file). Pages are appended to a segment
that rotates at `segment_bytes`; a closed segment is fsynced, renamed to its SHA-256 and the directory
fsynced (the POSIX tmp + fsync + rename pattern). `complete(cursor)` closes the last segment, then
writes the manifest (files, their SHA-256, page counts, the cursor) the same way: a batch exists for the
loader only once its manifest is in `batches/pending`. A crash before that leaves only unreferenced
files: the batch was never complete, its cursor never advanced, and the next run fetches it again.

Hashing, writes, fsync and manifests run in order on the store's disk thread, off the network thread
(D36); `LandingStore.drain` waits for them. Durability is per segment, not per page: fsyncing every 100-record page would dominate the run, and
an incomplete batch is never loaded anyway (see docs/landing.md).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from leadflow.errors import LandingError
from leadflow.landing.drift import RecordObserver
from leadflow.landing.pause import pause_at
from leadflow.landing.schema import check_identifier
from leadflow.landing.sink import Page

MANIFEST_FORMAT = 1
DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024
WRITE_CHUNK_BYTES = 1 << 20  # lines handed to the disk thread at a time
MAX_QUEUED_BYTES = 64 * 1024 * 1024  # lines waiting for the disk thread before write_page blocks


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, tmp_dir: Path) -> None:
    """Write `data` to `path` durably: tmp file, fsync, rename, fsync of the directory."""
    tmp = tmp_dir / f"{path.name}.{secrets.token_hex(6)}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class SegmentRef:
    """One landing file of a batch."""

    sha256: str
    pages: int
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """A complete batch: its files and the cursor it advances (source, entity) to."""

    batch_id: str
    source: str
    entity: str
    opened_at_ms: int
    completed_at_ms: int
    cursor: dict[str, Any] | None
    files: tuple[SegmentRef, ...]
    layouts: tuple[tuple[str, str], ...]  # distinct (records_path, content_type) of its pages
    max_line_bytes: int  # the longest page line, so the loader can size DuckDB's JSON reader
    path: Path = field(compare=False)
    sha256: str = field(compare=False, default="")
    observed: dict[str, list[str]] | None = None  # record shape seen while landing (None: not every page)

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.files)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "format": MANIFEST_FORMAT,
                "batch_id": self.batch_id,
                "source": self.source,
                "entity": self.entity,
                "opened_at_ms": self.opened_at_ms,
                "completed_at_ms": self.completed_at_ms,
                "cursor": self.cursor,
                "files": [{"sha256": f.sha256, "pages": f.pages, "bytes": f.bytes} for f in self.files],
                "layouts": [list(x) for x in self.layouts],
                "max_line_bytes": self.max_line_bytes,
                "observed": self.observed,
            },
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )

    @classmethod
    def read(cls, path: Path) -> Manifest:
        raw = path.read_bytes()
        try:
            doc = orjson.loads(raw)
            if doc.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"unknown manifest format {doc.get('format')!r}")
            files = tuple(SegmentRef(f["sha256"], int(f["pages"]), int(f["bytes"])) for f in doc["files"])
            return cls(
                batch_id=doc["batch_id"],
                source=doc["source"],
                entity=doc["entity"],
                opened_at_ms=int(doc["opened_at_ms"]),
                completed_at_ms=int(doc["completed_at_ms"]),
                cursor=doc["cursor"],
                files=files,
                layouts=tuple((str(a), str(b)) for a, b in doc["layouts"]),
                max_line_bytes=int(doc["max_line_bytes"]),
                observed=doc.get("observed"),
                path=path,
                sha256=hashlib.sha256(raw).hexdigest(),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LandingError(
                f"manifest {path} is unreadable ({exc}); move it aside and rerun extract"
            ) from exc


def new_batch_id(source: str, entity: str) -> str:
    """A batch id that sorts by creation time: `20240102T030405.123456Z-hubspot-contacts-1a2b3c4d`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{source}-{entity}-{secrets.token_hex(4)}"


class LandingStore:
    """The landing directory: opens batch writers, lists pending batches, marks them loaded."""

    def __init__(self, root: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.root = Path(root)
        self.segment_bytes = segment_bytes
        self.files_dir = self.root / "files"
        self.tmp_dir = self.root / "tmp"
        self.pending_dir = self.root / "batches" / "pending"
        self.loaded_dir = self.root / "batches" / "loaded"
        for d in (self.files_dir, self.tmp_dir, self.pending_dir, self.loaded_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._open: set[BatchWriter] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self.events = 0  # batches completed through this store object, plus `notify` calls
        self.cancelled: str | None = None
        self.disk = DiskThread()

    def drain(self) -> None:
        """Wait until every batch completed through this store is in `batches/pending` (or failed)."""
        self.disk.drain()

    def check_running(self, what: str) -> None:
        """Raise LandingError when this store was cancelled or its disk work failed."""
        if self.cancelled:
            raise LandingError(f"{what} stopped: {self.cancelled}")
        self.disk.check()

    def notify(self) -> None:
        """Count an event and wake whoever waits in `wait_for_event` (e.g. a producer finished)."""
        with self._changed:
            self.events += 1
            self._changed.notify_all()

    def wait_for_event(self, seen: int, timeout: float) -> None:
        """Block until `events` differs from `seen` (read it before checking what to wait for), or `timeout`."""
        with self._changed:
            self._changed.wait_for(lambda: self.events != seen, timeout)

    def cancel(self, reason: str) -> None:
        """Make every later `write_page` of this store's writers fail with `reason` (stops extractors)."""
        self.cancelled = reason
        self.notify()

    def segment_path(self, sha256: str) -> Path:
        return self.files_dir / sha256[:2] / f"{sha256}.jsonl"

    def open_batch(self, source: str, entity: str) -> BatchWriter:
        """A fresh `PageSink` for one batch of (source, entity)."""
        writer = BatchWriter(self, check_identifier(source, "source"), check_identifier(entity, "entity"))
        with self._lock:
            self._open.add(writer)
        return writer

    def _closed(self, writer: BatchWriter, *, completed: bool = False) -> None:
        with self._lock:
            self._open.discard(writer)
        if completed:
            self.notify()

    def abort_open(self) -> int:
        """Abort every batch opened here and not completed (after a failed extract); returns how many."""
        with self._lock:
            writers = list(self._open)
        for w in writers:
            w.abort()
        self.disk.wait()  # their open segments are deleted
        return len(writers)

    def pending(self) -> list[Manifest]:
        """Complete, not yet loaded batches in load order (batch ids sort by creation time)."""
        return [Manifest.read(p) for p in sorted(self.pending_dir.glob("*.json"))]

    def check_files(self, manifest: Manifest) -> None:
        """Raise LandingError when a file the manifest lists is missing or has the wrong size."""
        for ref in manifest.files:
            path = self.segment_path(ref.sha256)
            if not path.exists():
                raise LandingError(f"batch {manifest.batch_id}: landing file {path} is missing")
            if path.stat().st_size != ref.bytes:
                raise LandingError(f"batch {manifest.batch_id}: landing file {path} has the wrong size")

    def mark_loaded(self, manifest: Manifest) -> None:
        """Move a committed batch's manifest to `batches/loaded` (idempotent)."""
        target = self.loaded_dir / manifest.path.name
        if manifest.path.exists():
            os.replace(manifest.path, target)

    def clean_tmp(self, older_than_s: float = 3600.0) -> int:
        """Delete leftovers of crashed writers older than `older_than_s`; returns how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for p in self.tmp_dir.iterdir():
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class BatchWriter:
    """`PageSink` for one (source, entity) batch: appends pages to segments, then writes the manifest.

    The calling (network) thread only encodes each page line and observes its records; hashing,
    writing, fsync and the manifest run in order on the store's disk thread (D36), so `complete`
    returns at once and the batch reaches `batches/pending` moments later (`LandingStore.drain`
    waits for that). Durability and order are as before: a manifest is written only after the
    segments it lists are durable.
    """

    def __init__(self, store: LandingStore, source: str, entity: str) -> None:
        self.store = store
        self.source = source
        self.entity = entity
        self.batch_id = new_batch_id(source, entity)
        self.opened_at_ms = int(time.time() * 1000)
        self.pages = 0
        self.manifest: Manifest | None = None  # set by the disk thread once the manifest is durable
        self._closing = False  # complete() or abort() was called: no more pages
        self._segments: list[SegmentRef] = []  # closed segments (appended on the disk thread)
        self._layouts: set[tuple[str, str]] = set()
        self._max_line = 0
        self._observer: RecordObserver | None = RecordObserver()
        self._segment: _Segment | None = None
        self._segment_count = 0
        self._chunk: list[bytes] = []
        self._chunk_bytes = 0
        self._lock = threading.Lock()

    def write_page(self, page: Page) -> None:
        """Append one page to the current segment (rotating it when full)."""
        if page.source != self.source or page.entity != self.entity:
            raise LandingError(
                f"batch {self.source}/{self.entity} got a page of {page.source}/{page.entity}; open one batch per entity"
            )
        self.store.check_running(f"landing of {self.source}/{self.entity}")
        line = (
            orjson.dumps(
                {
                    "fetched_at_ms": page.fetched_at_ms,
                    "is_deleted": page.is_deleted,
                    "records_path": page.records_path,
                    "content_type": page.content_type,
                    "request": page.request,
                    "meta": page.meta,
                    "body": page.body.decode("utf-8", errors="replace"),
                }
            )
            + b"\n"
        )
        with self._lock:
            if self._closing:
                raise LandingError(f"batch {self.batch_id} is already complete")
            if self._segment is None:
                tmp = self.store.tmp_dir / f"{self.batch_id}.{self._segment_count:05d}.jsonl.tmp"
                self._segment = _Segment(tmp, open(tmp, "wb"))  # noqa: SIM115 - closed on the disk thread
                self._segment_count += 1
            self._layouts.add((page.records_path, page.content_type))
            self._max_line = max(self._max_line, len(line))
            self._observe(page)
            self._chunk.append(line)
            self._chunk_bytes += len(line)
            self._segment.pages += 1
            self._segment.size += len(line)
            self.pages += 1
            if self._chunk_bytes >= WRITE_CHUNK_BYTES:
                self._flush_chunk()
            if self._segment.size >= self.store.segment_bytes:
                self._close_segment()
        pause_at("extract.page")

    def _observe(self, page: Page) -> None:
        """Feed the page's parsed records to the drift observer; a page without them turns it off."""
        if self._observer is None:
            return
        records = page.parsed
        if isinstance(records, dict) and page.records_path:
            records = records.get(page.records_path)
        if isinstance(records, dict):
            records = [records]
        if page.parsed is None or not isinstance(records, list):
            self._observer = None  # the loader observes this batch in SQL
            return
        self._observer.add(records)

    def _flush_chunk(self) -> None:
        """Hand the buffered lines of the open segment to the disk thread."""
        if not self._chunk or self._segment is None:
            return
        lines, size, segment = self._chunk, self._chunk_bytes, self._segment
        self._chunk, self._chunk_bytes = [], 0
        self.store.disk.submit(lambda: segment.append(lines), size)

    def _close_segment(self) -> None:
        if self._segment is None:
            return
        self._flush_chunk()
        segment, self._segment = self._segment, None
        self.store.disk.submit(lambda: self._segments.append(segment.close(self.store)))

    def complete(self, cursor: dict[str, Any] | None) -> None:
        """Close the batch: the disk thread makes the last segment durable, then writes the manifest
        with `cursor` atomically."""
        with self._lock:
            if self._closing:
                raise LandingError(f"batch {self.batch_id} is already complete")
            self._closing = True
            self._close_segment()
            completed_at_ms = int(time.time() * 1000)
            observed = (
                {path: sorted(types) for path, types in self._observer.types.items()}
                if self._observer is not None and self.pages
                else None
            )
            layouts, max_line = tuple(sorted(self._layouts)), self._max_line

        def write_manifest() -> None:
            manifest = Manifest(
                batch_id=self.batch_id,
                source=self.source,
                entity=self.entity,
                opened_at_ms=self.opened_at_ms,
                completed_at_ms=completed_at_ms,
                cursor=cursor,
                files=tuple(self._segments),
                layouts=layouts,
                max_line_bytes=max_line,
                path=self.store.pending_dir / f"{self.batch_id}.json",
                observed=observed,
            )
            write_atomic(manifest.path, manifest.to_json(), self.store.tmp_dir)
            self.manifest = manifest
            self.store._closed(self, completed=True)
            pause_at("extract.complete")

        self.store.disk.submit(write_manifest)

    def abort(self) -> None:
        """Drop an incomplete batch: its open segment is deleted, closed segments stay unreferenced."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            segment, self._segment = self._segment, None
            self._chunk, self._chunk_bytes = [], 0
        if segment is not None:
            self.store.disk.submit(segment.discard, always=True)
        self.store._closed(self)


@dataclass
class _Segment:
    """A segment being written: its temporary file, running SHA-256 and counts."""

    tmp: Path
    fh: IO[bytes]
    pages: int = 0
    size: int = 0
    hash: Any = field(default_factory=hashlib.sha256)

    def append(self, lines: list[bytes]) -> None:
        # One hash update and one write per chunk: each releases the GIL, and every release makes the
        # network thread wait to take it back, so per-line calls slowed extraction (D44).
        chunk = b"".join(lines)
        self.hash.update(chunk)
        self.fh.write(chunk)

    def close(self, store: LandingStore) -> SegmentRef:
        """fsync, rename to its SHA-256 (keeping an identical file already there), fsync the directory."""
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        sha = self.hash.hexdigest()
        target = store.segment_path(sha)
        target.parent.mkdir(exist_ok=True)
        if target.exists():  # identical content already landed: keep the existing immutable file
            self.tmp.unlink()
        else:
            os.replace(self.tmp, target)
            _fsync_dir(target.parent)
        return SegmentRef(sha, self.pages, self.size)

    def discard(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class DiskThread:
    """One thread per store that runs landing's disk work (hashing, writes, fsync, manifests) in order.

    `submit` applies back-pressure once `MAX_QUEUED_BYTES` of lines wait, so a slow disk slows the
    extractors instead of filling memory. The first failure stops later work (except clean-ups) and
    is raised by every later `submit`, `check` and `drain`.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pool: ThreadPoolExecutor | None = None
        self._jobs = 0
        self._queued_bytes = 0
        self.failure: BaseException | None = None

    def submit(self, job: Callable[[], Any], nbytes: int = 0, *, always: bool = False) -> None:
        with self._cond:
            if not always:
                self._cond.wait_for(lambda: self._queued_bytes < MAX_QUEUED_BYTES or self.failure is not None)
                self.check()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-disk")
            self._jobs += 1
            self._queued_bytes += nbytes
        self._pool.submit(self._run, job, nbytes, always)

    def _run(self, job: Callable[[], Any], nbytes: int, always: bool) -> None:
        try:
            if always or self.failure is None:
                job()
        except BaseException as exc:
            with self._cond:
                self.failure = self.failure or exc
        finally:
            with self._cond:
                self._jobs -= 1
                self._queued_bytes -= nbytes
                self._cond.notify_all()

    def check(self) -> None:
        """Raise LandingError if a disk job failed."""
        if self.failure is not None:
            raise LandingError(f"landing files could not be written: {self.failure}") from self.failure

    def wait(self) -> None:
        """Wait until every submitted job ran."""
        with self._cond:
            self._cond.wait_for(lambda: self._jobs == 0)

    def drain(self) -> None:
        """Wait until every submitted job ran; raise the first failure."""
        self.wait()
        self.check()
