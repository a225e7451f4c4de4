"""Rich tables of the marts for the terminal: the funnel and the concession outcomes.

Reads `marts.leads` and `marts.concession_outcomes` from the DuckDB warehouse (read-only) and
renders them with rich (https://rich.readthedocs.io/en/stable/tables.html).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from leadflow.errors import TransformError

FUNNEL_STAGES = (
    ("lead_created", "created_at", "-"),
    ("contacted", "contacted_at", "Connect"),
    ("engaged", "engaged_at", "Explore"),
    ("appointment_booked", "appointment_booked_at", "Explore"),
    ("appointment_held", "appointment_held_at", "Leverage"),
    ("active_prospect", "active_prospect_at", "Resolve"),
    ("won", "won_at", "Act"),
)
CONDITIONS = ("direct", "door_in_the_face", "door_in_the_face_other_requester", "exposure_control")


def _query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise TransformError(f"cannot open warehouse {warehouse}: {exc}") from exc
    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise TransformError(f"marts not built yet in {warehouse} (run `leadflow build`): {exc}") from exc
    finally:
        con.close()


def funnel_counts(warehouse: Path) -> list[tuple[str, str, int]]:
    """(stage, CELRA step, leads that reached it) from `marts.leads`."""
    cols = ", ".join(f"count({col})" for _, col, _ in FUNNEL_STAGES)
    row = _query(warehouse, f"select {cols} from marts.leads")[0]
    return [(stage, celra, int(n)) for (stage, _, celra), n in zip(FUNNEL_STAGES, row, strict=True)]


def funnel_table(warehouse: Path) -> Table:
    """The funnel: leads per stage, share of all leads and conversion from the previous stage."""
    table = Table(title="Funnel (marts.leads)")
    for name, justify in (
        ("stage", "left"),
        ("CELRA", "left"),
        ("leads", "right"),
        ("of created", "right"),
        ("from previous", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    counts = funnel_counts(warehouse)
    first = counts[0][2] or 1
    prev = None
    for stage, celra, n in counts:
        step = "" if prev is None else (f"{n / prev:.1%}" if prev else "-")
        table.add_row(stage, celra, f"{n:,}", f"{n / first:.1%}", step)
        prev = n
    return table


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def outcomes_table(warehouse: Path, segment_type: str = "overall") -> Table:
    """Concession outcomes of one segment type: compliance with 95 % CI, lift over direct, p-value."""
    rows = _query(
        warehouse,
        "select segment_value, sequence_condition, n_asks, n_accepted, compliance_rate, compliance_ci_low,"
        " compliance_ci_high, lift_vs_direct, lift_ci_low, lift_ci_high, p_value, held_rate, data_status"
        f" from marts.concession_outcomes where segment_type = '{segment_type}'"
        " order by segment_value, case sequence_condition when 'direct' then 0"
        " when 'door_in_the_face' then 1 when 'door_in_the_face_other_requester' then 2 else 3 end",
    )
    table = Table(title=f"Concession outcomes by {segment_type} (marts.concession_outcomes)")
    heads = (
        "segment",
        "condition",
        "n",
        "accepted",
        "compliance [95% CI]",
        "lift vs direct [95% CI]",
        "p",
        "held",
    )
    for head in heads:
        table.add_column(head, justify="left" if head in ("segment", "condition") else "right")
    for seg, cond, n, acc, rate, lo, hi, lift, llo, lhi, p, held, status in rows:
        if status == "insufficient_data":
            table.add_row(seg, cond, str(n), str(acc), "[dim]too few asks[/]", "", "", "")
            continue
        ci = f"{_pct(rate)} [{_pct(lo)}, {_pct(hi)}]"
        lift_s = "" if lift is None else f"{lift * 100:+.1f} pp [{llo * 100:+.1f}, {lhi * 100:+.1f}]"
        p_s = "" if p is None else (f"{p:.2g}" if p >= 1e-4 else "<1e-4")
        table.add_row(seg, cond, f"{n:,}", f"{acc:,}", ci, lift_s, p_s, _pct(held))
    return table
