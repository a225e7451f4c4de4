"""Which seeds a DuckDB warehouse already holds in their current version (decision D45).

`dbt build` reloads every seed each time (delete and insert, plus the seeds' tests): about a tenth of
the nodes of an incremental build, for lookups that change a few times a year. After a build, the
runner stamps each seed table it loaded with a comment holding the seed's *state*: a hash of the
seed's CSV file and of the files that configure it (`seeds/_seeds.yml`, `dbt_project.yml`). Before a
build, a seed whose table carries the state of the files as they are now is left out of the build
(with its tests: they passed on the same rows when it was loaded).

A table without the stamp (first build, a table recreated by hand, an older warehouse) or with another
state is loaded as before. Editing a seed table in the warehouse by hand is not detected: reload it
with `leadflow build --select <seed>` or `--full-refresh`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

STAMP_PREFIX = "leadflow seed state "


def seed_states(project: Path) -> dict[str, str]:
    """Seed name -> hash of its CSV file and of the project files that configure seeds."""
    config = b"".join(
        path.read_bytes()
        for path in (project / "dbt_project.yml", project / "seeds" / "_seeds.yml")
        if path.exists()
    )
    states: dict[str, str] = {}
    for csv in sorted((project / "seeds").glob("*.csv")):
        digest = hashlib.sha256(config)
        digest.update(b"\0" + csv.read_bytes())
        states[csv.stem] = digest.hexdigest()
    return states


RELATIONS_FILE = "seed_relations.json"


def seed_relations(work_dir: Path) -> dict[str, tuple[str, str]]:
    """Seed name -> (schema, table) where the DuckDB builds of dbt work directory `work_dir` placed
    the seeds: the runner's own record (`remember_seed_relations`; builds do not write dbt's
    manifest.json, D48), else the manifest a dbt command wrote there."""
    record = work_dir / RELATIONS_FILE
    if record.exists():
        return {name: (rel[0], rel[1]) for name, rel in json.loads(record.read_text()).items()}
    manifest = work_dir / "target" / "manifest.json"
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text()).get("nodes", {})
    return {
        node["name"]: (node["schema"], node.get("alias") or node["name"])
        for node in nodes.values()
        if node.get("resource_type") == "seed"
    }


def remember_seed_relations(work_dir: Path, loaded: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Add where a build just loaded seeds to the record of `work_dir`; return the whole record."""
    known = {**seed_relations(work_dir), **loaded}
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / RELATIONS_FILE).write_text(
        json.dumps({k: list(v) for k, v in sorted(known.items())}, indent=1)
    )
    return known


def unchanged_seeds(
    con: duckdb.DuckDBPyConnection, states: dict[str, str], relations: dict[str, tuple[str, str]]
) -> list[str]:
    """The seeds whose table in `con`'s database is stamped with their current state."""
    rows = con.execute(
        "select schema_name, table_name, comment from duckdb_tables() where comment like ?",
        [STAMP_PREFIX + "%"],
    ).fetchall()
    stamped = {(schema, table): comment[len(STAMP_PREFIX) :] for schema, table, comment in rows}
    return sorted(
        name for name, state in states.items() if name in relations and stamped.get(relations[name]) == state
    )


def stamp_seeds(
    con: duckdb.DuckDBPyConnection,
    states: dict[str, str],
    relations: dict[str, tuple[str, str]],
    loaded: list[str],
) -> None:
    """Stamp the tables of the seeds just `loaded` with their state."""
    for name in loaded:
        if name not in relations or name not in states:
            continue
        schema, table = relations[name]
        ident = f'"{schema.replace(chr(34), chr(34) * 2)}"."{table.replace(chr(34), chr(34) * 2)}"'
        con.execute(f"comment on table {ident} is '{STAMP_PREFIX}{states[name]}'")
