"""Shared test helpers: a list-backed PageSink, an in-memory cursor store, and a sandbox launcher."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from leadflow.landing.sink import Page


@dataclass
class ListSink:
    source: str
    entity: str
    pages: list[Page] = field(default_factory=list)
    cursor: dict[str, Any] | None = None
    completed: bool = False

    def write_page(self, page: Page) -> None:
        assert not self.completed, "write after complete"
        assert page.source == self.source and page.entity == self.entity
        orjson.loads(page.body) if page.content_type == "application/json" else page.body.decode()
        self.pages.append(page)

    def complete(self, cursor: dict[str, Any] | None) -> None:
        assert not self.completed, "completed twice"
        orjson.dumps(cursor)  # must be JSON-able
        self.cursor = cursor
        self.completed = True

    def records(self, *, deleted: bool | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in self.pages:
            if deleted is not None and p.is_deleted != deleted:
                continue
            data = orjson.loads(p.body)
            out.extend(data[p.records_path] if p.records_path else [data])
        return out


class Landing:
    """Batches of every run; `commit()` makes completed batches' cursors current (like a load)."""

    def __init__(self) -> None:
        self.runs: list[dict[tuple[str, str], ListSink]] = []
        self.cursors: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._lock = threading.Lock()

    def get(self, source: str, entity: str) -> dict[str, Any] | None:
        return self.cursors.get((source, entity))

    def new_run(self) -> dict[tuple[str, str], ListSink]:
        self.runs.append({})
        return self.runs[-1]

    def open_batch(self, source: str, entity: str) -> ListSink:
        with self._lock:
            run = self.runs[-1] if self.runs else self.new_run()
            assert (source, entity) not in run, "one batch per entity per run"
            sink = run[(source, entity)] = ListSink(source, entity)
            return sink

    def commit(self) -> None:
        for key, sink in self.runs[-1].items():
            if sink.completed:
                self.cursors[key] = sink.cursor

    @property
    def last(self) -> dict[tuple[str, str], ListSink]:
        return self.runs[-1]


@contextmanager
def serving(world: Any, **config: Any) -> Iterator[Any]:
    from leadflow.sandbox.server import SandboxServer, ServerConfig

    with SandboxServer(world, ServerConfig(**config)) as server:
        yield server
