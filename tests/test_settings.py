"""Settings: defaults, leadflow.toml, environment precedence, secrets that never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadflow.errors import ConfigError
from leadflow.settings import Secret, load_settings


def test_defaults_point_at_the_real_services(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "absent.toml", environ={})
    assert s.hubspot.base_url == "https://api.hubapi.com"
    assert s.calendly.base_url == "https://api.calendly.com"
    assert s.hubspot.burst_per_10s == 100 and s.hubspot.search_per_s == 5
    assert s.calendly.requests_per_min == 50
    assert s.warehouse == Path("var/leadflow.duckdb")


def test_file_then_environment_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "leadflow.toml"
    cfg.write_text('home = "/data/lf"\n[hubspot]\nbase_url = "http://127.0.0.1:9"\nsearch_lookback_s = 60\n')
    s = load_settings(
        cfg, environ={"LEADFLOW_HUBSPOT_SEARCH_LOOKBACK_S": "120", "LEADFLOW_HUBSPOT_TOKEN": "t0k"}
    )
    assert s.hubspot.base_url == "http://127.0.0.1:9"
    assert s.hubspot.search_lookback_s == 120  # environment wins over the file
    assert s.warehouse == Path("/data/lf/leadflow.duckdb")  # derived from home
    assert s.landing_dir == Path("/data/lf/landing")
    assert s.hubspot.token.reveal() == "t0k"


def test_tokens_never_print(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "absent.toml", environ={"LEADFLOW_CALENDLY_TOKEN": "very-secret-value"})
    assert "very-secret-value" not in repr(s)
    assert "very-secret-value" not in str(s.calendly.token)
    assert f"{s.calendly.token}" == "***"
    assert isinstance(s.calendly.token, Secret)


def test_unknown_and_malformed_settings_are_clear_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "leadflow.toml"
    cfg.write_text("[hubspot]\nbase_ulr = 'x'\n")
    with pytest.raises(ConfigError, match=r"hubspot\.base_ulr"):
        load_settings(cfg, environ={})
    with pytest.raises(ConfigError, match="search_per_s"):
        load_settings(tmp_path / "absent.toml", environ={"LEADFLOW_HUBSPOT_SEARCH_PER_S": "fast"})
    cfg.write_text("not = [toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg, environ={})
