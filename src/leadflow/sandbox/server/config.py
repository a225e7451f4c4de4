"""Plain configuration of the sandbox HTTP server: tokens, rate limits, fault knobs, clock start.

The server does not know scenario files; `leadflow sandbox serve` maps a scenario onto these objects.
Limit values follow the HubSpot Free tier and the Calendly Free plan
(`shared/reference/free-tool-apis.md` §1.6, §2.1); a limit of 0 means unlimited. Fault rates are
per-request probabilities in [0, 1], all 0 (off) by default.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from leadflow.errors import ConfigError
from leadflow.settings import Secret


@dataclass(frozen=True)
class Limits:
    """Rate limits per token (0 = unlimited). Enforced on wall time, not the sandbox clock."""

    hubspot_burst_per_10s: int = 100
    hubspot_search_per_s: int = 5
    calendly_per_min: int = 50
    daily: int = 250_000

    @classmethod
    def unlimited(cls) -> Limits:
        return cls(0, 0, 0, 0)


@dataclass(frozen=True)
class Faults:
    """Injected faults; see docs/sandbox.md (part 2) "Faults" for what each knob does exactly."""

    rate_limit_429: float = 0.0
    retry_after_share: float = 0.5
    server_errors: float = 0.0
    slow_responses: float = 0.0
    slow_delay_s: float = 2.0
    truncated_json: float = 0.0
    duplicate_across_pages: float = 0.0
    update_between_pages: float = 0.0
    search_index_lag_s: float = 0.0

    def validate(self) -> None:
        for name in (
            "rate_limit_429",
            "retry_after_share",
            "server_errors",
            "slow_responses",
            "truncated_json",
            "duplicate_across_pages",
            "update_between_pages",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"fault {name!r} must be a probability in [0, 1], got {value}")
        if self.slow_delay_s < 0 or self.search_index_lag_s < 0:
            raise ConfigError("fault delays (slow_delay_s, search_index_lag_s) must not be negative")


def _random_token(prefix: str) -> Secret:
    return Secret(f"{prefix}-{secrets.token_urlsafe(24)}")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs besides the World.

    Tokens default to fresh random values (never a constant in code). `clock_ms` None starts the
    sandbox clock at `world.clock_start_ms` (the scenario's `clock.initial`, default the world end). `public_url` is the base used in `paging.next.link` and
    Calendly `next_page` URLs (default: the bound http://host:port). Calendly resource `uri`s use
    `calendly_uri_base` so that record ids do not depend on the port.
    """

    hubspot_token: Secret = field(default_factory=lambda: _random_token("hs-sandbox"))
    calendly_token: Secret = field(default_factory=lambda: _random_token("cal-sandbox"))
    host: str = "127.0.0.1"
    port: int = 0
    limits: Limits = field(default_factory=Limits)
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    clock_ms: int | None = None
    sheet_key: str = "sandbox-lead-sheet"
    public_url: str | None = None
    calendly_uri_base: str = "https://api.calendly.com"


# Scenario knob names that map onto another name here, and knobs that belong to the webhook sender.
_LIMIT_ALIASES = {"hubspot_daily": "daily"}
_NOT_SERVER_FAULTS = frozenset({"webhook_duplicates", "webhook_reorder"})


def _values(source: object) -> dict[str, Any]:
    if isinstance(source, dict):
        return dict(source)
    if is_dataclass(source) and not isinstance(source, type):
        return {f.name: getattr(source, f.name) for f in fields(source)}
    raise ConfigError(f"cannot read sandbox settings from a {type(source).__name__}")


def _check_known(kind: str, names: set[str], known: set[str]) -> None:
    unknown = names - known
    if unknown:
        # a renamed knob on one side must fail loudly, not fall back to a default
        raise ConfigError(f"unknown sandbox {kind} {sorted(unknown)}; known: {sorted(known)}")


def limits_from(source: object | None) -> Limits:
    """Limits from a mapping or dataclass with Limits' field names (a scenario's `limits` says `hubspot_daily`)."""
    if source is None:
        return Limits()
    raw = {_LIMIT_ALIASES.get(k, k): v for k, v in _values(source).items()}
    _check_known("limits", set(raw), set(Limits.__dataclass_fields__))
    return Limits(**{k: int(float(v)) for k, v in raw.items() if v is not None})


def faults_from(source: object | None) -> Faults:
    """Faults from a mapping or dataclass with Faults' field names (e.g. a scenario's `faults`)."""
    if source is None:
        return Faults()
    raw = {k: v for k, v in _values(source).items() if k not in _NOT_SERVER_FAULTS}
    _check_known("faults", set(raw), set(Faults.__dataclass_fields__))
    faults = Faults(**{k: float(v) for k, v in raw.items() if v is not None})
    faults.validate()
    return faults


def config_from_scenario(
    scenario: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock_ms: int | None = None,
    hubspot_token: str | None = None,
    calendly_token: str | None = None,
    no_limits: bool = False,
    no_faults: bool = False,
) -> ServerConfig:
    """Map a scenario (its `limits`, `faults`, `seed`) and run-time choices onto a ServerConfig."""
    kwargs: dict[str, Any] = {
        "host": host,
        "port": port,
        "clock_ms": clock_ms,
        "seed": int(getattr(scenario, "seed", 0) or 0),
        "limits": Limits.unlimited() if no_limits else limits_from(getattr(scenario, "limits", None)),
        "faults": Faults() if no_faults else faults_from(getattr(scenario, "faults", None)),
    }
    if hubspot_token:
        kwargs["hubspot_token"] = Secret(hubspot_token)
    if calendly_token:
        kwargs["calendly_token"] = Secret(calendly_token)
    return ServerConfig(**kwargs)
