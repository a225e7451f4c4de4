"""Where a `dbt build` spent its time: per-node timeline, SQL share, critical path, schedule bounds.

Reads the last invocation in dbt's debug log and the manifest next to it (a leadflow dbt work
directory, `$LEADFLOW_HOME/dbt`). Write the log at debug level and the manifest first (D45 made `info`
the default, D48 turned the manifest off for builds):

    LEADFLOW_DBT_FILE_LOG_LEVEL=debug LEADFLOW_DBT_WRITE_JSON=1 .venv/bin/python bench/dbt_build.py --dir W --replay-incremental 1
    .venv/bin/python bench/dbt_timeline.py W/home/dbt [--timeline] [--svg timeline.svg]

It prints the node phase's wall time, the summed node seconds (models, tests, seeds) and the part
of them spent waiting for SQL, the number of statements, and two bounds for the same DAG and node
times on as many workers as threads: the critical path (a node's children wait for its tests in
`dbt build`, so tests are on it) and a list-scheduling simulation in dbt's order (depth level, then
name) and in longest-remaining-path order. A build whose wall time is near the critical path gains
nothing from work removed beside it (docs/benchmarks.md, D45).
"""

from __future__ import annotations

import argparse
import heapq
import html
import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from _dbt_log import LINE, last_invocation


def parse_log(path: Path) -> tuple[dict[str, tuple[float, float, str]], dict[str, float], int]:
    """Node -> (start s, end s, thread), node -> SQL seconds, statement count; last invocation only."""
    t0: datetime | None = None
    began: dict[str, tuple[float, str]] = {}
    current: dict[str, str] = {}
    spans: dict[str, tuple[float, float, str]] = {}
    sql: dict[str, float] = defaultdict(float)
    statements = 0
    for line in last_invocation(path):
        m = LINE.match(line)
        if not m:
            continue
        at = datetime.strptime(m.group(1), "%H:%M:%S.%f")
        t0 = t0 or at
        t = (at - t0).total_seconds()
        thread, msg = m.group(2), m.group(3)
        if msg.startswith("Began running node "):
            node = msg.split()[-1]
            began[node] = (t, thread)
            current[thread] = node
        elif msg.startswith("Finished running node "):
            node = msg.split()[-1]
            spans[node] = (began[node][0], t, began[node][1])
            current.pop(thread, None)
        elif msg.startswith("SQL status") and thread in current:
            found = re.search(r"in ([\d.]+) seconds", msg)
            sql[current[thread]] += float(found.group(1)) if found else 0.0
            statements += 1
    return spans, sql, statements


def build_graph(manifest: dict, nodes: set[str]) -> dict[str, set[str]]:
    """Node -> parents among `nodes`, with `dbt build`'s extra edges: a test of a model blocks the
    model's children whose ancestors include every parent of the test."""
    parents = {
        n: {d for d in manifest["nodes"].get(n, {}).get("depends_on", {}).get("nodes", []) if d in nodes}
        for n in nodes
    }
    ancestors: dict[str, set[str]] = {}

    def upstream(n: str) -> set[str]:
        if n not in ancestors:
            ancestors[n] = set()
            for p in parents[n]:
                ancestors[n] |= {p} | upstream(p)
        return ancestors[n]

    children = defaultdict(set)
    for n, ps in parents.items():
        for p in ps:
            children[p].add(n)
    extra = defaultdict(set)
    for test in (n for n in nodes if n.startswith("test.")):
        for model in parents[test]:
            for child in children[model]:
                if not child.startswith("test.") and parents[test] <= upstream(child):
                    extra[child].add(test)
    return {n: parents[n] | extra[n] for n in nodes}


def schedule(parents: dict[str, set[str]], seconds: dict[str, float], workers: int, key) -> float:
    """Makespan of greedy list scheduling: whenever a worker is free, start the ready node with the
    smallest `key`."""
    children = defaultdict(set)
    waiting = {n: len(ps) for n, ps in parents.items()}
    for n, ps in parents.items():
        for p in ps:
            children[p].add(n)
    ready = [(key(n), n) for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < workers:
            _, n = heapq.heappop(ready)
            heapq.heappush(running, (now + seconds[n], n))
        now, n = heapq.heappop(running)
        for c in children[n]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (key(c), c))
    return now


def write_svg(
    path: Path,
    spans: dict[str, tuple[float, float, str]],
    sql: dict[str, float],
    critical: set[str],
    title: str,
) -> None:
    """The node timeline as an SVG: one lane per dbt thread, models blue and tests orange, the darker
    part of a bar its share of time waiting for SQL, the critical path outlined."""
    threads = sorted({thread for _, _, thread in spans.values()})
    origin = min(start for start, _, _ in spans.values())
    span_s = max(max(end for _, end, _ in spans.values()) - origin, 1e-3)
    left, width, lane, top = 90, 1100, 70, 56
    scale = width / span_s
    height = top + lane * len(threads) + 60
    colors = {"model": ("#9ecae1", "#3182bd"), "test": ("#fdd0a2", "#e6550d"), "seed": ("#c7e9c0", "#31a354")}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" height="{height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11">',
        f'<rect width="{left + width + 20}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>',
        '<text x="12" y="40" fill="#555">blue: model, orange: test; darker part: share of the node spent in SQL; '
        "red outline: critical path (with dbt build's test edges)</text>",
    ]
    step = 0.5 if span_s <= 10 else 1.0 if span_s <= 20 else 5.0
    tick = 0.0
    while tick <= span_s + 1e-9:
        x = left + tick * scale
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + lane * len(threads)}" stroke="#eee"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + lane * len(threads) + 16}" text-anchor="middle" fill="#555">{tick:g} s</text>'
        )
        tick += step
    for i, thread in enumerate(threads):
        y = top + i * lane
        out.append(f'<text x="12" y="{y + lane / 2 + 4}" fill="#333">{thread.split()[0]}</text>')
        for node, (start, end, t) in sorted(spans.items(), key=lambda kv: kv[1][0]):
            if t != thread:
                continue
            light, dark = colors.get(node.split(".")[0], ("#ddd", "#888"))
            x, w = left + (start - origin) * scale, max((end - start) * scale, 1.0)
            share = min(sql.get(node, 0.0) / (end - start), 1.0) if end > start else 0.0
            h = lane - 14
            stroke = (
                ' stroke="#cb181d" stroke-width="2"'
                if node in critical
                else ' stroke="#fff" stroke-width="0.5"'
            )
            out.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{h}" fill="{light}"{stroke}/>')
            out.append(
                f'<rect x="{x:.1f}" y="{y + 4 + h * (1 - share):.1f}" width="{w:.1f}" height="{h * share:.1f}" fill="{dark}" opacity="0.55"/>'
            )
            label = node.split(".")[2]
            if w > len(label) * 6.2 + 4:
                out.append(f'<text x="{x + 3:.1f}" y="{y + 17}" fill="#111">{label}</text>')
            elif w > 30:
                out.append(
                    f'<text x="{x + 3:.1f}" y="{y + 17}" fill="#111">{label[: int((w - 4) / 6.2) - 1]}…</text>'
                )
    out.append(
        f'<text x="{left}" y="{height - 12}" fill="#555">seconds from the first node\'s start; '
        "the build also spends time before it (dbt start, manifest, adapter cache) and after (artifacts)</text>"
    )
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbt_dir", type=Path, help="leadflow's dbt work directory (holds logs/ and target/)")
    parser.add_argument("--timeline", action="store_true", help="also print every node's start and end")
    parser.add_argument("--svg", type=Path, help="also draw the timeline into this SVG file")
    parser.add_argument("--title", default="dbt build timeline", help="the SVG's title")
    args = parser.parse_args()
    spans, sql, statements = parse_log(args.dbt_dir / "logs" / "dbt.log")
    manifest = json.loads((args.dbt_dir / "target" / "manifest.json").read_text())
    seconds = {n: end - start for n, (start, end, _) in spans.items()}
    parents = build_graph(manifest, set(seconds))
    children = defaultdict(set)
    for n, ps in parents.items():
        for p in ps:
            children[p].add(n)
    remaining: dict[str, float] = {}

    def rank(n: str) -> float:  # the node's seconds plus its longest chain of descendants
        if n not in remaining:
            remaining[n] = seconds[n] + max((rank(c) for c in children[n]), default=0.0)
        return remaining[n]

    level: dict[str, int] = {}

    def depth(n: str) -> int:
        if n not in level:
            level[n] = 1 + max((depth(p) for p in parents[n]), default=-1)
        return level[n]

    workers = len({thread for _, _, thread in spans.values()}) or 1
    console = Console()
    if args.timeline:
        timeline = Table(title="nodes by start")
        for col in ("start", "end", "s", "thread", "node"):
            timeline.add_column(col, justify="right" if col in {"start", "end", "s"} else "left")
        for node, (start, end, thread) in sorted(spans.items(), key=lambda kv: kv[1][0]):
            timeline.add_row(
                f"{start:.2f}", f"{end:.2f}", f"{end - start:.2f}", thread, node.split(".", 1)[1]
            )
        console.print(timeline)
    phase = max(end for _, end, _ in spans.values()) - min(start for start, _, _ in spans.values())
    table = Table(title=f"dbt build: {len(spans)} nodes on {workers} threads")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for kind in ("model", "test", "seed"):
        kind_nodes = [n for n in spans if n.startswith(kind + ".")]
        node_s = sum(seconds[n] for n in kind_nodes)
        table.add_row(
            f"{kind}s: nodes, node s, SQL s",
            f"{len(kind_nodes)}, {node_s:.2f}, {sum(sql[n] for n in kind_nodes):.2f}",
        )
    table.add_row("SQL statements", f"{statements}")
    table.add_row("node phase, wall s", f"{phase:.2f}")
    table.add_row("summed node s / threads", f"{sum(seconds.values()) / workers:.2f}")
    table.add_row("critical path s", f"{max(rank(n) for n in spans):.2f}")
    table.add_row(
        "simulated, dbt's order s", f"{schedule(parents, seconds, workers, lambda n: (depth(n), n)):.2f}"
    )
    table.add_row(
        "simulated, longest path first s",
        f"{schedule(parents, seconds, workers, lambda n: (-rank(n), n)):.2f}",
    )
    console.print(table)
    path, on_path, node = [], set(), max(spans, key=rank)
    while node:
        path.append(f"{node.split('.')[2]} {seconds[node]:.2f}")
        on_path.add(node)
        node = max(children[node], key=rank, default="")
    console.print("critical path: " + " -> ".join(path))
    if args.svg:
        write_svg(args.svg, spans, sql, on_path, args.title)
        console.print(f"timeline drawn into {args.svg}")


if __name__ == "__main__":
    main()
