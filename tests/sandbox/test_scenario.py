"""Scenario parsing and validation: defaults, the shipped files, and an error naming each bad key."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leadflow.errors import ConfigError, ScenarioError
from leadflow.sandbox.scenario import (
    DEFAULT_ACCEPTANCE,
    STRATEGIES,
    Scenario,
    load_scenario,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_minimal_file_takes_every_default(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text("seed: 5\n")
    sc = load_scenario(path)
    assert sc.name == "mini"  # the file stem
    assert sc.seed == 5
    assert sc.start == dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    assert sc.end == sc.start + dt.timedelta(days=84)
    assert sc.clock_initial_ms == sc.end_ms  # clock.initial defaults to the end
    assert sc.acceptance == DEFAULT_ACCEPTANCE
    assert abs(sum(sc.strategy_mix.values()) - 1) < 1e-9
    assert sc.limits.hubspot_burst_per_10s == 100 and sc.limits.hubspot_search_per_s == 5
    assert sc.limits.calendly_per_min == 50 and sc.limits.hubspot_daily == 250_000
    assert sc.faults.rate_limit_429 == 0 and sc.faults.webhook_duplicates == 0


def test_empty_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_scenario(path).seed == Scenario().seed


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.end > sc.start


def test_shipped_scenario_set_is_complete() -> None:
    assert {p.name for p in SCENARIOS} >= {"example.yaml", "cialdini-1975.yaml", "faults.yaml", "tiny.yaml"}


def test_faults_file_switches_every_probability_knob_on() -> None:
    faults = load_scenario(ROOT / "scenarios" / "faults.yaml").faults
    for name, value in vars(faults).items():
        assert value > 0, f"faults.{name} is off in faults.yaml"


def test_partial_sections_merge_with_defaults() -> None:
    sc = parse_scenario(
        {"acceptance": {"direct": 0.3}, "leads_per_day": 7, "teams": [{"name": "A", "reps": 2}]}
    )
    assert sc.acceptance["direct"] == 0.3
    assert sc.acceptance["door_in_the_face"] == DEFAULT_ACCEPTANCE["door_in_the_face"]
    assert (sc.leads_per_day.weekday, sc.leads_per_day.weekend) == (7.0, 7.0)
    assert len(sc.teams[0].reps) == 2 and sc.teams[0].timezone == "UTC"
    assert len(set(sc.teams[0].reps)) == 2


def test_rep_count_names_are_deterministic() -> None:
    a = parse_scenario({"seed": 3, "teams": [{"name": "A", "reps": 5}, {"name": "B", "reps": 5}]})
    b = parse_scenario({"seed": 3, "teams": [{"name": "A", "reps": 5}, {"name": "B", "reps": 5}]})
    assert a.teams == b.teams
    names = [r for t in a.teams for r in t.reps]
    assert len(names) == len(set(names)) == 10


def test_dates_accept_iso_times_and_normalise_to_utc() -> None:
    sc = parse_scenario({"start": "2025-01-06T02:00:00+02:00", "end": "2025-02-01T00:00:00Z"})
    assert sc.start == dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    assert sc.end_ms == int(dt.datetime(2025, 2, 1, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_echo_round_trips(path: Path) -> None:
    """`to_dict()` (the truth file's echo) parses back to the same scenario."""
    sc = load_scenario(path)
    again = parse_scenario(yaml.safe_load(yaml.safe_dump(sc.to_dict())))
    assert again == sc


BAD_CASES = [
    ({"sed": 1}, "`sed`"),
    ({"seed": -1}, "`seed`"),
    ({"seed": "abc"}, "`seed`"),
    ({"seed": True}, "`seed`"),
    ({"start": "not a date"}, "`start`"),
    ({"start": "2025-02-01", "end": "2025-01-01"}, "`end`"),
    ({"clock": {"initial": "2030-01-01"}}, "`clock.initial`"),
    ({"clock": {"initail": "2025-01-10"}}, "`clock.initail`"),
    ({"leads_per_day": -3}, "`leads_per_day`"),
    ({"leads_per_day": {"weekday": 3, "holiday": 1}}, "`leads_per_day.holiday`"),
    ({"channel_mix": {"web": 0.7, "mobile": 0.7}}, "`channel_mix`"),
    ({"channel_mix": {"fax": 1.0}}, "`channel_mix.fax`"),
    ({"lead_sources": {"mobile_outbound_list": 2}}, "`lead_sources.mobile_outbound_list`"),
    ({"teams": []}, "`teams`"),
    ({"teams": [{"name": "A", "timezone": "Mars/Olympus"}]}, "`teams[0].timezone`"),
    ({"teams": [{"name": "A", "reps": 0}]}, "`teams[0].reps`"),
    ({"teams": [{"name": "A", "reps": ["X", "X"]}]}, "`teams[0].reps`"),
    ({"teams": [{"name": "A"}, {"name": "A"}]}, "`teams[1].name`"),
    ({"teams": [{"name": "A", "colour": "red"}]}, "`teams[0].colour`"),
    ({"teams": [{"name": "Solo", "reps": 1}]}, "`teams[0].reps`"),  # other-requester needs 2 reps
    ({"strategy_mix": {"direct": 0.5}}, "`strategy_mix`"),
    ({"strategy_mix": {"dirct": 1.0}}, "`strategy_mix.dirct`"),
    ({"acceptance": {"direct": 1.5}}, "`acceptance.direct`"),
    ({"acceptance": {"foot_in_the_door": 0.2}}, "`acceptance.foot_in_the_door`"),
    ({"large_ask_acceptance": -0.1}, "`large_ask_acceptance`"),
    ({"no_response_share": "often"}, "`no_response_share`"),
    ({"response_delay_hours": [5, 1]}, "`response_delay_hours`"),
    ({"response_delay_hours": [1, 2, 3]}, "`response_delay_hours`"),
    ({"response_delay_hours": [1, -2]}, "`response_delay_hours[1]`"),
    ({"retreat_gap": {"same_day": 0.2}}, "`retreat_gap`"),
    ({"target_ask": "coffee_5"}, "`target_ask`"),
    ({"target_ask": "workshop_60", "large_ask": "intro_15"}, "`target_ask`"),
    ({"booking_rate": 1.01}, "`booking_rate`"),
    ({"cancellation_rate": 0.5, "reschedule_rate": 0.4, "no_show_rate": 0.3}, "`no_show_rate`"),
    ({"contacts": {"delete_rate": 2}}, "`contacts.delete_rate`"),
    ({"contacts": {"purge_rate": 0.1}}, "`contacts.purge_rate`"),
    ({"contacts": {"activity_updates": -1}}, "`contacts.activity_updates`"),
    ({"contacts": {"activity_updates": 51}}, "`contacts.activity_updates`"),
    ({"contacts": {"activity_updates": "daily"}}, "`contacts.activity_updates`"),
    ({"sheet": {"bad_rows": 0.95}}, "`sheet.bad_rows`"),
    ({"sheet": {"share": "most"}}, "`sheet.share`"),
    ({"limits": {"hubspot_search_per_s": 2.5}}, "`limits.hubspot_search_per_s`"),
    ({"limits": {"calendly_per_min": -1}}, "`limits.calendly_per_min`"),
    ({"faults": {"rate_limit_429": 1.2}}, "`faults.rate_limit_429`"),
    ({"faults": {"slow_delay_s": -1}}, "`faults.slow_delay_s`"),
    ({"faults": {"webhook_failures": 0.1}}, "`faults.webhook_failures`"),
    ([1, 2], "`(top level)`"),
]


@pytest.mark.parametrize(("data", "key"), BAD_CASES, ids=[c[1] for c in BAD_CASES])
def test_bad_values_name_the_key(data: object, key: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="bad.yaml")
    message = str(info.value)
    assert key in message
    assert message.startswith("bad.yaml: ")
    assert isinstance(info.value, ConfigError)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        load_scenario(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1,\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(broken)


def test_cli_rejects_bad_scenario_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nacceptance: {direct: 3}\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "leadflow", "sandbox", "generate", "--scenario", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "acceptance.direct" in proc.stderr
    assert not (out / "truth.json").exists()


def test_strategy_names_match_world_semantics() -> None:
    assert set(STRATEGIES) == {
        "direct",
        "door_in_the_face",
        "door_in_the_face_other_requester",
        "exposure_control",
        "direct_large",
    }
