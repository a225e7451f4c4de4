"""The concession-outcome forest plot: positions follow the numbers, thin segments say so."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from leadflow.charts import OutcomeRow, outcomes_forest_svg

NS = "{http://www.w3.org/2000/svg}"


def rows() -> list[OutcomeRow]:
    return [
        OutcomeRow("exposure_control", 400, 100, 0.25, 0.21, 0.29, 0.001),
        OutcomeRow("direct", 600, 100, 100 / 600, 0.14, 0.20, None),
        OutcomeRow("door_in_the_face", 500, 250, 0.5, 0.456, 0.544, 1e-20),
        OutcomeRow("door_in_the_face_other_requester", 12, 2, None, None, None, None),
    ]


def test_dots_and_intervals_sit_at_their_rates() -> None:
    root = ET.fromstring(outcomes_forest_svg(rows()))
    dots = [float(c.get("cx", "0")) for c in root.iter(f"{NS}circle")]
    assert len(dots) == 3  # the thin segment gets no dot
    # rows are drawn in a fixed order: direct, DITF, (other requester: no data), exposure control
    direct_x, ditf_x, exposure_x = dots
    assert direct_x < exposure_x < ditf_x
    # the x scale is linear: (ditf - direct) / (exposure - direct) equals the ratio of rate gaps
    ratio = (ditf_x - direct_x) / (exposure_x - direct_x)
    assert abs(ratio - (0.5 - 100 / 600) / (0.25 - 100 / 600)) < 1e-2


def test_text_reports_counts_p_values_and_thin_data() -> None:
    svg = outcomes_forest_svg(rows(), title="A <b> & c")
    text = " ".join(t.text or "" for t in ET.fromstring(svg).iter(f"{NS}text"))
    assert "50.0%  (250/500)  p < 0.0001" in text
    assert "25.0%  (100/400)  p = 0.001" in text
    assert "too little data (n = 12)" in text
    assert "A <b> & c" in text and "&lt;b&gt;" in svg  # escaped in the file, intact when parsed
    assert re.search(r'stroke-dasharray="5,4"', svg)  # the direct baseline is drawn


def test_planted_rates_are_ringed_where_they_belong() -> None:
    plain = ET.fromstring(outcomes_forest_svg(rows()))
    ringed = ET.fromstring(outcomes_forest_svg(rows(), planted={"direct": 0.167, "door_in_the_face": 0.5}))
    dots = {c.get("cx") for c in plain.iter(f"{NS}circle")}
    rings = [c for c in ringed.iter(f"{NS}circle") if c.get("fill") == "none"]
    assert len(rings) == 2
    # the DITF rate equals its planted rate here, so its ring sits exactly on its dot
    assert {r.get("cx") for r in rings} & dots
