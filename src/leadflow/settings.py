"""One typed settings object, read from `leadflow.toml` and then the environment.

Precedence (highest first): environment variables `LEADFLOW_<SECTION>_<KEY>` (for example
`LEADFLOW_HUBSPOT_TOKEN`), then `leadflow.toml` in the working directory (or the file named by
`LEADFLOW_CONFIG`), then the defaults below. Tokens are held in `Secret` so that they never
print in reprs, logs or error messages.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from leadflow.errors import ConfigError


class Secret(str):
    """A string that hides itself in repr/str; use `.reveal()` where the value is needed."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def __str__(self) -> str:
        return "***" if self else ""

    def reveal(self) -> str:
        return str.__str__(self)


NO_TOKEN = Secret("")


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_retries: int = 8
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str = "https://api.hubapi.com"
    token: Secret = NO_TOKEN
    burst_per_10s: int = 100
    search_per_s: int = 5
    search_lookback_s: int = 300
    batch_records: int = 50_000  # a long pass completes a resumable batch every N records; 0: one per run


@dataclass(frozen=True)
class CalendlySettings:
    base_url: str = "https://api.calendly.com"
    token: Secret = NO_TOKEN
    requests_per_min: int = 50
    reread_window_days: int = 30


@dataclass(frozen=True)
class SheetSettings:
    url: str = ""


@dataclass(frozen=True)
class Settings:
    home: Path = Path("var")
    warehouse: Path = Path("var/leadflow.duckdb")
    landing_dir: Path = Path("var/landing")
    dbt_target: str = "duckdb"
    writer_wait_s: float = 600.0  # how long a sync or a build waits for another writer of the warehouse
    http: HttpSettings = field(default_factory=HttpSettings)
    hubspot: HubSpotSettings = field(default_factory=HubSpotSettings)
    calendly: CalendlySettings = field(default_factory=CalendlySettings)
    sheet: SheetSettings = field(default_factory=SheetSettings)


_SECTIONS = {
    "http": HttpSettings,
    "hubspot": HubSpotSettings,
    "calendly": CalendlySettings,
    "sheet": SheetSettings,
}


def _coerce(value: Any, current: Any, name: str) -> Any:
    try:
        if isinstance(current, Secret):
            return Secret(str(value))
        if isinstance(current, bool):
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes", "on"}
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, Path):
            return Path(str(value))
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"setting {name!r}: cannot read {type(current).__name__} from the given value"
        ) from exc


def _apply(obj: Any, values: dict[str, Any], prefix: str) -> Any:
    known = {f.name for f in fields(obj)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) {sorted(prefix + k for k in unknown)}; known: {sorted(known)}")
    changes = {}
    for key, value in values.items():
        current = getattr(obj, key)
        if key in _SECTIONS and isinstance(value, dict):
            changes[key] = _apply(current, value, f"{prefix}{key}.")
        else:
            changes[key] = _coerce(value, current, prefix + key)
    return replace(obj, **changes)


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    top = {f.name for f in fields(Settings)} - set(_SECTIONS)
    for key, value in environ.items():
        if not key.startswith("LEADFLOW_") or key == "LEADFLOW_CONFIG":
            continue
        rest = key[len("LEADFLOW_") :].lower()
        section, _, name = rest.partition("_")
        if section in _SECTIONS and name in {f.name for f in fields(_SECTIONS[section])}:
            out.setdefault(section, {})[name] = value
        elif rest in top:
            out[rest] = value
    return out


def load_settings(config_path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read settings: defaults, then `leadflow.toml`, then `LEADFLOW_*` environment variables.

    `warehouse` and `landing_dir` follow `home` unless they are set themselves.
    """
    env = dict(os.environ if environ is None else environ)
    path = config_path or Path(env.get("LEADFLOW_CONFIG", "leadflow.toml"))
    file_values: dict[str, Any] = {}
    if path.exists():
        try:
            file_values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    env_values = _from_env(env)
    settings = _apply(_apply(Settings(), file_values, ""), env_values, "")
    explicit = set(file_values) | set(env_values)
    if "warehouse" not in explicit:
        settings = replace(settings, warehouse=settings.home / "leadflow.duckdb")
    if "landing_dir" not in explicit:
        settings = replace(settings, landing_dir=settings.home / "landing")
    return settings
