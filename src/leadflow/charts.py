"""Charts as plain SVG (no plotting dependency): the concession-outcome forest plot.

`outcomes_forest_svg(rows)` draws one line per sequence condition: the compliance rate as a dot, its
Wilson 95 % interval as a bar, the `direct` (control) rate as a dashed reference line, and the counts
and p-value beside it. Rows come from `marts.concession_outcomes` (`read_outcomes`), so the picture is
exactly what the mart says. The same SVG serves docs now and the dashboard later.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

CONDITION_LABELS = {
    "direct": "direct (control)",
    "door_in_the_face": "door-in-the-face",
    "door_in_the_face_other_requester": "DITF, other requester",
    "exposure_control": "exposure control",
}
ORDER = tuple(CONDITION_LABELS)


@dataclass(frozen=True)
class OutcomeRow:
    """One condition of one segment of `marts.concession_outcomes`."""

    condition: str
    n: int
    accepted: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


def read_outcomes(
    warehouse: Path, segment_type: str = "overall", segment_value: str = "all"
) -> list[OutcomeRow]:
    """The rows of one segment, read-only from the DuckDB warehouse."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select sequence_condition, n_asks, n_accepted, compliance_rate, compliance_ci_low,"
            " compliance_ci_high, p_value from marts.concession_outcomes"
            " where segment_type = ? and segment_value = ?",
            [segment_type, segment_value],
        ).fetchall()
    finally:
        con.close()
    return [OutcomeRow(str(c), int(n), int(a), r, lo, hi, p) for c, n, a, r, lo, hi, p in rows]


def _p_text(p: float | None) -> str:
    if p is None:
        return ""
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"


def outcomes_forest_svg(
    rows: list[OutcomeRow],
    title: str = "Compliance with the target ask",
    planted: dict[str, float] | None = None,
) -> str:
    """An SVG forest plot of compliance per condition with 95 % intervals and the direct baseline.

    `planted` (condition -> rate, e.g. a sandbox truth's planted acceptance) adds a hollow marker per
    condition, so a reader sees at once whether the interval covers the rate that was planted.
    """
    rows = sorted(rows, key=lambda r: ORDER.index(r.condition) if r.condition in ORDER else len(ORDER))
    width, left, right, top, row_h = 760, 190, 230, 58, 44
    plot_w = width - left - right
    height = top + row_h * max(len(rows), 1) + 48
    top_rate = max([r.ci_high or r.rate or 0.0 for r in rows] + [0.1])
    x_max = min(1.0, (int(top_rate * 10) + 1) / 10)

    def x(v: float) -> float:
        return left + plot_w * v / x_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="16" y="24" font-size="16" font-weight="bold">{escape(title)}</text>',
        '<text x="16" y="42" fill="#555">dot: compliance rate; bar: Wilson 95 % interval; '
        "dashed: direct (control)" + ("; ring: planted rate" if planted else "") + "</text>",
    ]
    axis_y = top + row_h * len(rows) + 6
    for i in range(int(x_max * 10) + 1):
        v = i / 10
        parts.append(f'<line x1="{x(v):.1f}" y1="{top - 8}" x2="{x(v):.1f}" y2="{axis_y}" stroke="#eee"/>')
        parts.append(
            f'<text x="{x(v):.1f}" y="{axis_y + 18}" text-anchor="middle" fill="#555">{v:.0%}</text>'
        )
    direct = next((r for r in rows if r.condition == "direct" and r.rate is not None), None)
    if direct is not None and direct.rate is not None:
        dx = x(direct.rate)
        parts.append(
            f'<line x1="{dx:.1f}" y1="{top - 8}" x2="{dx:.1f}" y2="{axis_y}" stroke="#888" stroke-dasharray="5,4"/>'
        )
    for i, r in enumerate(rows):
        cy = top + row_h * i + row_h / 2
        label = CONDITION_LABELS.get(r.condition, r.condition)
        parts.append(f'<text x="{left - 12}" y="{cy + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        colour = "#1f6feb" if r.condition != "direct" else "#444"
        if r.rate is None:
            parts.append(
                f'<text x="{left + 6}" y="{cy + 4:.1f}" fill="#a00">too little data (n = {r.n})</text>'
            )
            continue
        if r.ci_low is not None and r.ci_high is not None:
            parts.append(
                f'<line x1="{x(r.ci_low):.1f}" y1="{cy:.1f}" x2="{x(r.ci_high):.1f}" y2="{cy:.1f}" '
                f'stroke="{colour}" stroke-width="3"/>'
            )
        parts.append(f'<circle cx="{x(r.rate):.1f}" cy="{cy:.1f}" r="6" fill="{colour}"/>')
        if planted and r.condition in planted:
            parts.append(
                f'<circle cx="{x(planted[r.condition]):.1f}" cy="{cy:.1f}" r="9" fill="none" '
                'stroke="#d4a017" stroke-width="2"/>'
            )
        note = f"{r.rate:.1%}  ({r.accepted:,}/{r.n:,})  {_p_text(r.p_value)}"
        parts.append(f'<text x="{left + plot_w + 14}" y="{cy + 4:.1f}">{escape(note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
