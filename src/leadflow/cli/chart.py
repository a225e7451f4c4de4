"""`leadflow chart`: write the concession-outcome forest plot (SVG) from the marts."""

from __future__ import annotations

from pathlib import Path

import click

from leadflow.settings import load_settings


@click.command("chart")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--segment-type", default="overall", show_default=True, help="e.g. overall, channel, team")
@click.option("--segment-value", default="all", show_default=True, help="e.g. all, web, mobile")
@click.option("--title", default="Compliance with the target ask, by sequence condition", show_default=True)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a sandbox truth.json: mark its planted acceptance rates",
)
def command(
    out_path: Path, segment_type: str, segment_value: str, title: str, truth_path: Path | None
) -> None:
    """Draw compliance with 95 % intervals per condition from marts.concession_outcomes as SVG."""
    import json

    from leadflow.charts import outcomes_forest_svg, read_outcomes
    from leadflow.errors import TransformError

    rows = read_outcomes(load_settings().warehouse, segment_type, segment_value)
    if not rows:
        raise TransformError(f"no concession outcomes for segment {segment_type}={segment_value}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    planted = json.loads(truth_path.read_text())["planted"]["acceptance"] if truth_path else None
    out_path.write_text(outcomes_forest_svg(rows, title, planted))
    click.echo(f"wrote {out_path} ({len(rows)} conditions)")
