"""Run the dbt project (`dbt_project/`) in-process with dbt's programmatic `dbtRunner`.

`build(settings, ...)` is the plain function behind `leadflow build` (and, later, an Airflow task):
it points the project's `profiles.yml` at the warehouse through environment variables
(`LEADFLOW_WAREHOUSE`, `LEADFLOW_DBT_TARGET`, `LEADFLOW_PG_*`), runs `dbt build` with an optional
selection and `--full-refresh`, reports per-node progress and returns a `BuildSummary`.
dbt docs followed: https://docs.getdbt.com/reference/programmatic-invocations (one invocation at a
time per process; callbacks receive every structured event).

dbt's unit tests and the singular tests tagged `reference` (the statistics macros against reference
values) are left out unless asked for (`unit_tests=True`, `leadflow build --unit-tests`): they check
SQL logic on fixed inputs, so they run in development and CI, not in production (D30). A plain
`build` on DuckDB also leaves out the seeds whose files have not changed since they were loaded
into this warehouse (`unchanged_seeds`, D45) and the exposures (documentation, no-op nodes).

Incremental builds run with DuckDB's checkpoint vacuum off (`LEADFLOW_DBT_VACUUM_TASKS=0`, see
`profile_env`): rows deleted by delete+insert keep their space until a `compact=True` or
`--full-refresh` build, instead of every small build rewriting the tables it deleted from.

A DuckDB build holds the warehouse's writer lock (`landing.warehouse.writer_lock`, D49) from its
seed check to its seed stamp: a sync or another build started meanwhile waits for it (and it for
them) up to `settings.writer_wait_s`, then fails with `WarehouseBusy`.

Known limits: dbt's global flags and adapter caches are per process, so two builds must not run
concurrently in one process (they serialize on a process lock); the lock is not re-entrant, so a
caller holding the writer lock must not call `build`; a reader that is not leadflow's (a BI tool
holding the file open) still makes the build fail with DuckDB's own lock error.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadflow.errors import ConfigError, TransformError
from leadflow.landing.warehouse import writer_lock
from leadflow.settings import Settings

ProgressFn = Callable[[int, int, str], None]
"""(nodes done, nodes total, unique id of the node that just finished) -> None."""

_LOCK = threading.Lock()
_VACUUM_TASKS = 100  # DuckDB's default `max_vacuum_tasks`
_RESULT_EVENTS = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult", "LogNodeResult"}


def project_dir() -> Path:
    """The dbt project: `LEADFLOW_DBT_PROJECT_DIR`, else `dbt_project/` next to `src/`."""
    env = os.environ.get("LEADFLOW_DBT_PROJECT_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "dbt_project"
    if not (path / "dbt_project.yml").exists():
        raise ConfigError(f"no dbt project at {path}; set LEADFLOW_DBT_PROJECT_DIR")
    return path


@dataclass
class BuildSummary:
    """What a `dbt build` did: status counts, failures (node, message) and wall time."""

    success: bool
    target: str
    elapsed_s: float
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    node_seconds: dict[str, float] = field(default_factory=dict)
    node_statuses: dict[str, str] = field(default_factory=dict)
    """Each node's status (`success`, `pass`, `warn`, `error`, ...), by unique id."""
    node_details: dict[str, str] = field(default_factory=dict)
    """What a node measured, where dbt says it: a source's newest load and its age (`source freshness`)."""
    seeds_unchanged: list[str] = field(default_factory=list)
    """Seeds left out because the warehouse already holds their current files (D45)."""

    @property
    def nodes(self) -> int:
        return sum(self.statuses.values())


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _prepare_duckdb(
    warehouse: Path, seeds: dict[str, str], relations: dict[str, tuple[str, str]]
) -> list[str]:
    """Create the raw schema and tables if a sync has not yet (so sources resolve on a fresh file);
    return the seeds of `seeds` the warehouse already holds in that state (D45)."""
    import duckdb

    from leadflow.landing.schema import ensure_schema
    from leadflow.transform.seed_state import unchanged_seeds

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with closing(duckdb.connect(str(warehouse))) as con:
        ensure_schema(con)
        return unchanged_seeds(con, seeds, relations) if seeds else []


def _stamp_loaded_seeds(
    warehouse: Path, seeds: dict[str, str], relations: dict[str, tuple[str, str]], loaded: list[str]
) -> None:
    import duckdb

    from leadflow.transform.seed_state import stamp_seeds

    with closing(duckdb.connect(str(warehouse))) as con:
        stamp_seeds(con, seeds, relations, loaded)


def _release_duckdb() -> None:
    """Close dbt-duckdb's process-wide database handle so that others can open the file again."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        conn = getattr(env, "conn", None)
        if conn is not None:
            conn.close()
    DuckDBConnectionManager.close_all_connections()


def profile_env(
    warehouse: Path,
    target: str,
    *,
    full_refresh: bool = False,
    compact: bool | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment `profiles.yml` reads: warehouse, target and DuckDB's `max_vacuum_tasks`.

    Vacuuming (merging row groups that have deleted rows) rewrites whole tables at a checkpoint, so it
    is off unless `compact` (default: `full_refresh`); `extra` entries win.
    """
    vacuum = full_refresh if compact is None else compact
    return {
        "LEADFLOW_WAREHOUSE": str(warehouse),
        "LEADFLOW_DBT_TARGET": target,
        "LEADFLOW_DBT_VACUUM_TASKS": str(_VACUUM_TASKS if vacuum else 0),
        **(extra or {}),
    }


_HEADING = re.compile(r"(Runtime|Database|Compilation) Error( in .*)?$")
# how a model whose columns changed since its table was built fails: DuckDB's and PostgreSQL's words
# for an insert naming a column the table lacks (the table named is group 1), and dbt's
# `on_schema_change: fail` (the Postgres target's incremental models)
_MISSING_COLUMN = re.compile(
    r'Table "([^"]+)" does not have a column with name "[^"]+"|column "[^"]+" of relation "([^"]+)" does not exist'
)
_OUT_OF_SYNC = "schemas on this incremental model are out of sync"


def failure_summary(node: str, message: str) -> str:
    """One line for a failed node: the database's own error rather than dbt's "Runtime Error in model
    ..." headings, and, when the model's table was built before the model's columns changed, the
    command that rebuilds it."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return "failed"
    while len(lines) > 1 and _HEADING.match(lines[0]):
        lines = lines[1:]
    detail = lines[0]
    model = node.split(".")[2] if node.startswith("model.") and node.count(".") >= 2 else None
    missing = _MISSING_COLUMN.search(message)
    changed = (missing is not None and model in missing.groups()) or _OUT_OF_SYNC in message
    if model and changed:
        detail += "".join(f"; {line}" for line in lines if line.startswith("Source columns not in target"))
        detail += (
            f" (table {model} was built before the model's columns changed: rebuild it and what reads it"
            f" with `leadflow build --full-refresh --select {model}+`)"
        )
    return detail


NEVER_LOADED = "never loaded or synced"
# commands that read only the project, never the warehouse: no writer lock for them
_PROJECT_ONLY = frozenset({"parse", "list", "ls"})


def _freshness_detail(result: Any) -> str:
    """The age of a `source freshness` result's newest load ('' for other results)."""
    age, newest = getattr(result, "age", None), getattr(result, "max_loaded_at", None)
    if age is None or newest is None:
        return ""
    if newest.year <= 1:  # dbt's stand-in when the loaded_at query found no row and no cursor
        return NEVER_LOADED
    return f"{newest:%Y-%m-%d %H:%M} UTC, {age / 3600:.1f} h ago"


def _stale_message(freshness: str) -> str:
    """The failure message of a stale source (dbt leaves it empty)."""
    return f"stale: {freshness}" if freshness == NEVER_LOADED else f"stale: newest load {freshness}"


def dbt_args(
    command: str,
    *,
    full_refresh: bool = False,
    select: Sequence[str] | None = None,
    target: str,
    work_dir: Path,
    dbt_vars: dict[str, Any] | None = None,
    unit_tests: bool = True,
    exclude: Sequence[str] | None = None,
) -> list[str]:
    """The dbt CLI arguments for one invocation (target and log paths kept out of the project).

    `unit_tests=False` (for `build`, `test` and `list`) leaves out dbt's unit tests and the tests
    tagged `reference`; `build` leaves out exposures (no-op nodes); `exclude` adds dbt exclusions.
    `build`, `run` and `test` write no manifest.json or run_results.json unless
    `LEADFLOW_DBT_WRITE_JSON=1`.
    """
    proj = project_dir()
    args = [
        *command.split(),  # e.g. "source freshness", "docs generate"
        "--project-dir",
        str(proj),
        "--profiles-dir",
        str(proj),
        "--target",
        target,
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        # dbt's file log defaults to debug: every statement's SQL, a fifth of dbt's own CPU time in an
        # incremental build (D45); LEADFLOW_DBT_FILE_LOG_LEVEL=debug brings it back when needed
        "--log-level-file",
        os.environ.get("LEADFLOW_DBT_FILE_LOG_LEVEL", "info"),
    ]
    if command in {"build", "run", "test"} and os.environ.get("LEADFLOW_DBT_WRITE_JSON") != "1":
        # dbt writes manifest.json (1.2 MB) after parsing and again at the end of every invocation,
        # ~0.4 s of a 5 s incremental build (D48); nothing here reads it after a build.
        # LEADFLOW_DBT_WRITE_JSON=1 keeps it (and run_results.json), e.g. for bench/dbt_timeline.py
        args.append("--no-write-json")
    if full_refresh:
        args.append("--full-refresh")
    for item in select or ():
        args += ["--select", item]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    excluded = list(exclude or ())
    if not unit_tests:
        excluded.append("tag:reference")
    if excluded:
        args += ["--exclude", *excluded]
    skipped_types = ([] if unit_tests else ["unit_test"]) + (["exposure"] if command == "build" else [])
    for kind in skipped_types:
        args += ["--exclude-resource-type", kind]
    return args


def build(
    settings: Settings,
    full_refresh: bool = False,
    select: Sequence[str] | None = None,
    target: str | None = None,
    progress: ProgressFn | None = None,
    *,
    as_of: str | None = None,
    command: str = "build",
    env: dict[str, str] | None = None,
    raise_on_failure: bool = True,
    compact: bool | None = None,
    unit_tests: bool = False,
) -> BuildSummary:
    """Run `dbt build` (or `command`: `test`, `source freshness`, `docs generate`, ...) on the warehouse
    of `settings`; return what happened.

    `target` is `duckdb` (default: `settings.dbt_target`) or `postgres`; `as_of` (ISO-8601 UTC) fixes
    the point in time the marts describe (default: the newest source version in the data).
    `env` adds environment variables for the profile (e.g. `LEADFLOW_PG_SCHEMA`). `compact` (DuckDB;
    default: only with `full_refresh`) lets checkpoints vacuum row groups, i.e. reclaim the space of
    rows deleted by incremental builds; without it a build after a small sync writes only what
    changed instead of rewriting every table it deleted from. `unit_tests` runs dbt's unit tests
    too; off by default: they check model logic on static inputs, so they belong to development and
    CI (`tests/transform/test_unit_tests.py` runs them), not to every production build (decision D30).
    Raises `TransformError` naming the failed nodes unless `raise_on_failure` is false, and
    `WarehouseBusy` when another writer kept the DuckDB warehouse longer than `settings.writer_wait_s`.
    """
    from dbt.cli.main import dbtRunner

    from leadflow.transform.seed_state import remember_seed_relations, seed_relations, seed_states

    tgt = target or settings.dbt_target
    warehouse = settings.warehouse.resolve()
    work_dir = (settings.home / "dbt").resolve()
    # seeds are stamped and skipped on DuckDB builds (D45); a selection or --full-refresh loads as asked
    seeds = seed_states(project_dir()) if tgt == "duckdb" and command == "build" else {}
    checked = {} if full_refresh or select else seeds
    # where the previous builds placed the seeds, read only when they are checked
    relations = seed_relations(work_dir) if checked else {}
    unchanged: list[str] = []
    with ExitStack() as writer:
        if tgt == "duckdb" and command not in _PROJECT_ONLY:
            # one writer at a time (D49): a sync or another build queues here instead of failing on
            # DuckDB's own file lock midway
            waiting = (lambda: progress(0, 0, "waiting for another writer")) if progress else None
            writer.enter_context(writer_lock(warehouse, wait_s=settings.writer_wait_s, on_wait=waiting))
            unchanged = _prepare_duckdb(warehouse, checked, relations)
        dbt_vars = {"as_of": as_of} if as_of else None
        args = dbt_args(
            command,
            full_refresh=full_refresh,
            select=select,
            target=tgt,
            work_dir=work_dir,
            dbt_vars=dbt_vars,
            unit_tests=unit_tests or command not in {"build", "test", "list", "ls"},
            exclude=[f"resource_type:seed,{name}" for name in unchanged],
        )
        if unchanged:
            # leave out the unchanged seeds and their own tests, not the tests of models that read them
            args += ["--indirect-selection", "cautious"]
        args.append("--quiet")
        statuses: Counter[str] = Counter()
        failures: list[tuple[str, str]] = []
        seconds: dict[str, float] = {}
        node_statuses: dict[str, str] = {}
        node_details: dict[str, str] = {}
        loaded_seeds: dict[str, tuple[str, str]] = {}

        def on_event(event: Any) -> None:
            name = event.info.name
            if name not in _RESULT_EVENTS:
                return
            data = event.data
            node = getattr(getattr(data, "node_info", None), "unique_id", "") or getattr(
                data, "description", ""
            )
            if progress is not None:
                progress(int(getattr(data, "index", 0)), int(getattr(data, "total", 0)), node)

        values = profile_env(warehouse, tgt, full_refresh=full_refresh, compact=compact, extra=env)
        started = time.perf_counter()
        with _LOCK, _environment(values):
            try:
                result = dbtRunner(callbacks=[on_event]).invoke(args)
            finally:
                _release_duckdb()
        elapsed = time.perf_counter() - started
        run = result.result
        for res in getattr(run, "results", None) or []:
            status = str(getattr(res.status, "value", res.status))
            statuses[status] += 1
            seconds[res.node.unique_id] = float(res.execution_time or 0.0)
            node_statuses[res.node.unique_id] = status
            freshness = _freshness_detail(res)
            if freshness:
                node_details[res.node.unique_id] = freshness
            if status in {"error", "fail", "runtime error"}:
                failures.append((res.node.unique_id, str(res.message or "") or _stale_message(freshness)))
            elif status == "success" and res.node.resource_type == "seed":
                loaded_seeds[res.node.name] = (res.node.schema, res.node.alias or res.node.name)
        if result.exception is not None:
            failures.append(("dbt", str(result.exception)))
        if seeds and loaded_seeds:
            _stamp_loaded_seeds(
                warehouse, seeds, remember_seed_relations(work_dir, loaded_seeds), sorted(loaded_seeds)
            )
    summary = BuildSummary(
        success=bool(result.success),
        target=tgt,
        elapsed_s=elapsed,
        statuses=dict(statuses),
        failures=failures,
        node_seconds=seconds,
        node_statuses=node_statuses,
        node_details=node_details,
        seeds_unchanged=unchanged,
    )
    if raise_on_failure and not summary.success:
        shown = "; ".join(f"{node}: {failure_summary(node, msg)}" for node, msg in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        raise TransformError(f"dbt {command} failed on target {tgt}: {shown or 'see dbt logs'}{more}")
    return summary
