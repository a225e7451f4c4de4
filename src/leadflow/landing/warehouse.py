"""Connections to the DuckDB warehouse file: exactly one writer at a time, readers read-only.

DuckDB lets one process open a database file read-write, or several processes open it read-only,
never both (duckdb.org/docs/stable/connect/concurrency). The writer here first takes an exclusive
`flock` on `<warehouse>.lock` so that two leadflow writers (syncs, loads and dbt builds) queue (or
fail with `WarehouseBusy` after `wait_s`) instead of racing for DuckDB's own lock; then it opens the file and makes sure the `raw`
schema exists. Readers open the file with `read_only=True` and retry while a writer holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from leadflow.errors import LandingError, WarehouseBusy
from leadflow.landing.schema import ensure_schema


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def writer_lock(
    warehouse: Path, *, wait_s: float = 60.0, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the exclusive writer lock of `warehouse` (waits up to `wait_s`, then WarehouseBusy).

    `on_wait` is called once if the lock is taken when asked for (e.g. to tell the user). Not
    re-entrant: a process that holds it and asks again waits for itself."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"another leadflow process is writing {warehouse} (lock {lock_path(warehouse)}, "
                        f"waited {wait_s:g} s); wait for it to finish or raise writer_wait_s"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def connect_writer(
    warehouse: Path,
    *,
    wait_s: float = 60.0,
    threads: int | None = None,
    memory_limit: str | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The single read-write connection, under the writer lock, with the raw schema in place."""
    with writer_lock(warehouse, wait_s=wait_s, on_wait=on_wait):
        # Insertion order of raw rows carries no meaning; not preserving it lets DuckDB insert with less memory.
        config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            con = duckdb.connect(str(warehouse), config=config)
        except duckdb.Error as exc:
            raise LandingError(f"cannot open {warehouse} for writing: {exc}") from exc
        try:
            ensure_schema(con)
            yield con
        finally:
            con.close()


@contextmanager
def connect_reader(warehouse: Path, *, wait_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection, or None when the warehouse does not exist yet.

    Retries while another process holds the file read-write (DuckDB refuses readers then).
    """
    if not warehouse.exists():
        yield None
        return
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
            break
        except duckdb.Error as exc:
            if time.monotonic() >= deadline:
                raise LandingError(f"cannot open {warehouse} read-only: {exc}") from exc
            time.sleep(0.2)
    try:
        yield con
    finally:
        con.close()


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(rows[0][0])
