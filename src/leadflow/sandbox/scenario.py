"""Sandbox scenarios: the YAML file that drives the world generator, parsed and validated.

A scenario names the seed, the time range, the sales org (teams, reps, time zones), the lead flow,
the planted behaviour (strategy mix, acceptance rates, booking/cancel/no-show/deal rates, deletes and
merges), the lead sheet's share of malformed rows, and the limits and faults the sandbox server
applies. Every key has a default, so `seed: 1` alone is a valid scenario. The format is documented
key by key in `docs/sandbox.md (part 1)`; `Scenario.to_dict()` is the normalised echo written into
the truth file.

Validation never guesses: an unknown key, a wrong type or an out-of-range value raises
`ScenarioError` naming the dotted key at fault (for example `acceptance.direct`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from leadflow.errors import ScenarioError

STRATEGIES = (
    "direct",
    "door_in_the_face",
    "door_in_the_face_other_requester",
    "exposure_control",
    "direct_large",
)
CHANNELS = ("web", "mobile")
GAP_BUCKETS = ("same_day", "within_week", "later")
# The ask ladder the generator plants (the dbt seed `ask_ladder` must agree): key -> (level, minutes, event type).
LADDER: dict[str, tuple[int, int, str]] = {
    "intro_15": (1, 15, "15 Minute Intro"),
    "demo_30": (2, 30, "30 Minute Demo"),
    "workshop_60": (3, 60, "60 Minute Workshop"),
}

DEFAULT_STRATEGY_MIX = {
    "direct": 0.4,
    "door_in_the_face": 0.25,
    "door_in_the_face_other_requester": 0.1,
    "exposure_control": 0.15,
    "direct_large": 0.1,
}
# Cialdini et al. 1975 exp. 1 rates for direct / DITF / exposure control; no gain for another requester.
DEFAULT_ACCEPTANCE = {
    "direct": 0.167,
    "door_in_the_face": 0.5,
    "door_in_the_face_other_requester": 0.167,
    "exposure_control": 0.25,
    "direct_large": 0.05,
}
DEFAULT_START = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
DEFAULT_DAYS = 84


@dataclass(frozen=True)
class TeamSpec:
    """One distributed team: its name, IANA time zone and rep names."""

    name: str
    timezone: str
    reps: tuple[str, ...]


@dataclass(frozen=True)
class LeadsPerDay:
    """Expected new leads per calendar day (UTC), Poisson-distributed around these means."""

    weekday: float = 40.0
    weekend: float = 12.0


MAX_ACTIVITY_UPDATES = 50.0  # mean activity versions per contact; more is not a CRM, it is a log


@dataclass(frozen=True)
class ContactsSpec:
    """Contact churn: deleted contacts, merged-away duplicates, extra property updates, and the mean
    number of activity versions per live contact (tracked page views; 0 = none, the default)."""

    delete_rate: float = 0.02
    merge_rate: float = 0.03
    update_rate: float = 0.2
    activity_updates: float = 0.0


@dataclass(frozen=True)
class SheetSpec:
    """The published lead sheet: share of web leads that arrive through it, and malformed rows."""

    share: float = 0.7
    bad_rows: float = 0.03


@dataclass(frozen=True)
class Limits:
    """Rate limits the sandbox server enforces (0 = unlimited)."""

    hubspot_burst_per_10s: int = 100
    hubspot_search_per_s: int = 5
    hubspot_daily: int = 250_000
    calendly_per_min: int = 50


@dataclass(frozen=True)
class Faults:
    """Fault injection knobs for the sandbox server and webhook sender (all off by default)."""

    rate_limit_429: float = 0.0
    retry_after_share: float = 0.5
    server_errors: float = 0.0
    slow_responses: float = 0.0
    slow_delay_s: float = 2.0
    truncated_json: float = 0.0
    duplicate_across_pages: float = 0.0
    update_between_pages: float = 0.0
    search_index_lag_s: float = 0.0
    webhook_duplicates: float = 0.0
    webhook_reorder: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Times are aware UTC datetimes; `*_ms` properties give epoch ms."""

    name: str = "scenario"
    description: str = ""
    seed: int = 1
    start: dt.datetime = DEFAULT_START
    end: dt.datetime = DEFAULT_START + dt.timedelta(days=DEFAULT_DAYS)
    clock_initial: dt.datetime | None = None
    leads_per_day: LeadsPerDay = field(default_factory=LeadsPerDay)
    channel_mix: dict[str, float] = field(default_factory=lambda: {"web": 0.6, "mobile": 0.4})
    mobile_outbound_share: float = 0.6
    teams: tuple[TeamSpec, ...] = (
        TeamSpec("East", "America/New_York", ("Avery Stone", "Blake Rivera", "Casey Nguyen", "Drew Patel")),
        TeamSpec("Central Europe", "Europe/Berlin", ("Elif Kaya", "Finn Weber", "Greta Lang")),
    )
    strategy_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STRATEGY_MIX))
    acceptance: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ACCEPTANCE))
    large_ask_acceptance: float = 0.05
    no_response_share: float = 0.3
    contact_rate: float = 0.95
    first_contact_delay_hours: tuple[float, float] = (0.5, 48.0)
    response_delay_hours: tuple[float, float] = (1.0, 72.0)
    retreat_gap: dict[str, float] = field(
        default_factory=lambda: {"same_day": 0.5, "within_week": 0.35, "later": 0.15}
    )
    target_ask: str = "intro_15"
    large_ask: str = "workshop_60"
    booking_rate: float = 0.8
    cancellation_rate: float = 0.1
    reschedule_rate: float = 0.1
    no_show_rate: float = 0.15
    deal_rate: float = 0.4
    win_rate: float = 0.3
    contacts: ContactsSpec = field(default_factory=ContactsSpec)
    sheet: SheetSpec = field(default_factory=SheetSpec)
    limits: Limits = field(default_factory=Limits)
    faults: Faults = field(default_factory=Faults)

    @property
    def start_ms(self) -> int:
        return _ms(self.start)

    @property
    def end_ms(self) -> int:
        return _ms(self.end)

    @property
    def clock_initial_ms(self) -> int:
        return _ms(self.clock_initial) if self.clock_initial is not None else self.end_ms

    def to_dict(self) -> dict[str, Any]:
        """The normalised scenario as plain JSON-able values (the truth file's echo)."""
        out = asdict(self)
        out["start"] = _iso(self.start)
        out["end"] = _iso(self.end)
        out["clock"] = {"initial": _iso(self.clock_initial) if self.clock_initial else _iso(self.end)}
        del out["clock_initial"]
        out["lead_sources"] = {"mobile_outbound_list": out.pop("mobile_outbound_share")}
        out["teams"] = [{"name": t.name, "timezone": t.timezone, "reps": list(t.reps)} for t in self.teams]
        out["first_contact_delay_hours"] = list(self.first_contact_delay_hours)
        out["response_delay_hours"] = list(self.response_delay_hours)
        if not self.contacts.activity_updates:
            del out["contacts"]["activity_updates"]  # off: the echo (and truth file) of earlier versions
        return out


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file; the scenario name defaults to the file stem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {p}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    return parse_scenario(data, source=str(p), default_name=p.stem)


def parse_scenario(data: Any, *, source: str = "scenario", default_name: str = "scenario") -> Scenario:
    """Validate a scenario given as a mapping (already parsed YAML/JSON)."""
    return _Parser(source).scenario(data, default_name)


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class _Parser:
    """Reads one mapping level at a time; every error names the dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: `{key}`: {message}")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...] | list[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key or "(top level)", f"must be a mapping, got {type(value).__name__}")
        for k in value:
            if k not in allowed:
                where = f"{key}.{k}" if key else str(k)
                raise self.fail(where, f"unknown key; expected one of: {', '.join(allowed)}")
        return value

    def number(self, value: Any, key: str, *, lo: float = 0.0, hi: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, got {value!r}")
        x = float(value)
        if not math.isfinite(x) or x < lo or x > hi:
            bounds = f"between {lo:g} and {hi:g}" if hi != math.inf else f">= {lo:g}"
            raise self.fail(key, f"must be {bounds}, got {value!r}")
        return x

    def prob(self, value: Any, key: str) -> float:
        return self.number(value, key, lo=0.0, hi=1.0)

    def integer(self, value: Any, key: str, *, lo: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {value!r}")
        if value < lo:
            raise self.fail(key, f"must be >= {lo}, got {value}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def when(self, value: Any, key: str) -> dt.datetime:
        if isinstance(value, dt.datetime):
            t = value
        elif isinstance(value, dt.date):
            t = dt.datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise self.fail(key, f"must be a date or ISO-8601 time (UTC), got {value!r}") from None
        else:
            raise self.fail(key, f"must be a date or ISO-8601 time (UTC), got {value!r}")
        return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)

    def hours_range(self, value: Any, key: str, default: tuple[float, float]) -> tuple[float, float]:
        if value is None:
            return default
        if isinstance(value, int | float) and not isinstance(value, bool):
            x = self.number(value, key)
            return (x, x)
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(key, f"must be a number or a list [min, max], got {value!r}")
        lo = self.number(value[0], f"{key}[0]")
        hi = self.number(value[1], f"{key}[1]")
        if hi < lo:
            raise self.fail(key, f"max ({hi:g}) is below min ({lo:g})")
        return (lo, hi)

    def shares(
        self, value: Any, key: str, names: tuple[str, ...], default: dict[str, float]
    ) -> dict[str, float]:
        """A distribution over `names`: missing names are 0; the values must sum to 1."""
        if value is None:
            return dict(default)
        raw = self.mapping(value, key, names)
        out = {n: self.prob(raw.get(n, 0.0), f"{key}.{n}") for n in names}
        total = sum(out.values())
        if abs(total - 1.0) > 1e-6:
            raise self.fail(key, f"shares must sum to 1, got {total:.6g}")
        return out

    def dataclass_section(self, value: Any, key: str, cls: type, kinds: dict[str, str]) -> Any:
        names = [f.name for f in fields(cls)]
        raw = self.mapping(value, key, names)
        kwargs: dict[str, Any] = {}
        for name, v in raw.items():
            k = f"{key}.{name}"
            kind = kinds[name]
            if kind == "prob":
                kwargs[name] = self.prob(v, k)
            elif kind == "int":
                kwargs[name] = self.integer(v, k)
            else:
                kwargs[name] = self.number(v, k)
        return cls(**kwargs)

    def teams(self, value: Any, key: str, seed: int) -> tuple[TeamSpec, ...]:
        if value is None:
            return Scenario.teams
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list of teams")
        teams: list[TeamSpec] = []
        seen: set[str] = set()
        used_names: set[str] = set()
        for i, item in enumerate(value):
            k = f"{key}[{i}]"
            raw = self.mapping(item, k, ("name", "timezone", "reps"))
            name = self.text(raw.get("name"), f"{k}.name")
            if name in seen:
                raise self.fail(f"{k}.name", f"duplicate team name {name!r}")
            seen.add(name)
            tz = self.text(raw.get("timezone", "UTC"), f"{k}.timezone")
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.fail(f"{k}.timezone", f"unknown IANA time zone {tz!r}") from None
            reps_raw = raw.get("reps", 3)
            if isinstance(reps_raw, int) and not isinstance(reps_raw, bool):
                count = self.integer(reps_raw, f"{k}.reps", lo=1)
                from leadflow.sandbox.people import rep_names

                reps = tuple(rep_names(seed, name, count, used_names))
            elif isinstance(reps_raw, list) and reps_raw:
                reps = tuple(self.text(r, f"{k}.reps[{j}]") for j, r in enumerate(reps_raw))
                dupes = {r for r in reps if r in used_names} | {r for r in reps if reps.count(r) > 1}
                if dupes:
                    raise self.fail(f"{k}.reps", f"rep names must be unique, repeated: {sorted(dupes)}")
            else:
                raise self.fail(f"{k}.reps", f"must be a count >= 1 or a list of names, got {reps_raw!r}")
            used_names.update(reps)
            teams.append(TeamSpec(name, tz, reps))
        return tuple(teams)

    def scenario(self, data: Any, default_name: str) -> Scenario:
        top = [f.name for f in fields(Scenario) if f.name not in ("clock_initial", "mobile_outbound_share")]
        raw = self.mapping(data, "", [*top, "clock", "lead_sources"])
        d = Scenario()
        kw: dict[str, Any] = {}
        kw["name"] = self.text(raw.get("name", default_name), "name")
        kw["description"] = str(raw.get("description") or "")
        kw["seed"] = seed = self.integer(raw.get("seed", d.seed), "seed")
        start = self.when(raw["start"], "start") if "start" in raw else d.start
        end = self.when(raw["end"], "end") if "end" in raw else start + dt.timedelta(days=DEFAULT_DAYS)
        if end <= start:
            raise self.fail("end", f"must be after start ({_iso(start)}), got {_iso(end)}")
        if (end - start).days > 3660:
            raise self.fail("end", "the world may span at most 10 years")
        kw["start"], kw["end"] = start, end
        clock = self.mapping(raw.get("clock"), "clock", ("initial",))
        if clock.get("initial") is not None:
            initial = self.when(clock["initial"], "clock.initial")
            if not start <= initial <= end:
                raise self.fail("clock.initial", f"must lie between start and end, got {_iso(initial)}")
            kw["clock_initial"] = initial
        else:
            kw["clock_initial"] = end
        lpd = raw.get("leads_per_day")
        if isinstance(lpd, int | float) and not isinstance(lpd, bool):
            x = self.number(lpd, "leads_per_day", hi=1e6)
            kw["leads_per_day"] = LeadsPerDay(x, x)
        elif lpd is not None:
            kw["leads_per_day"] = self.dataclass_section(
                lpd, "leads_per_day", LeadsPerDay, {"weekday": "num", "weekend": "num"}
            )
        kw["channel_mix"] = self.shares(raw.get("channel_mix"), "channel_mix", CHANNELS, d.channel_mix)
        sources = self.mapping(raw.get("lead_sources"), "lead_sources", ("mobile_outbound_list",))
        if "mobile_outbound_list" in sources:
            kw["mobile_outbound_share"] = self.prob(
                sources["mobile_outbound_list"], "lead_sources.mobile_outbound_list"
            )
        kw["teams"] = teams = self.teams(raw.get("teams"), "teams", seed)
        kw["strategy_mix"] = mix = self.shares(
            raw.get("strategy_mix"), "strategy_mix", STRATEGIES, d.strategy_mix
        )
        acc = dict(d.acceptance)
        for k, v in self.mapping(raw.get("acceptance"), "acceptance", STRATEGIES).items():
            acc[k] = self.prob(v, f"acceptance.{k}")
        kw["acceptance"] = acc
        for name in (
            "large_ask_acceptance",
            "no_response_share",
            "contact_rate",
            "booking_rate",
            "cancellation_rate",
            "reschedule_rate",
            "no_show_rate",
            "deal_rate",
            "win_rate",
        ):
            if name in raw:
                kw[name] = self.prob(raw[name], name)
        outcome = sum(
            kw.get(n, getattr(d, n)) for n in ("cancellation_rate", "reschedule_rate", "no_show_rate")
        )
        if outcome > 1.0 + 1e-9:
            raise self.fail(
                "no_show_rate",
                f"cancellation_rate + reschedule_rate + no_show_rate must be <= 1, got {outcome:.6g}",
            )
        kw["first_contact_delay_hours"] = self.hours_range(
            raw.get("first_contact_delay_hours"), "first_contact_delay_hours", d.first_contact_delay_hours
        )
        kw["response_delay_hours"] = self.hours_range(
            raw.get("response_delay_hours"), "response_delay_hours", d.response_delay_hours
        )
        kw["retreat_gap"] = self.shares(raw.get("retreat_gap"), "retreat_gap", GAP_BUCKETS, d.retreat_gap)
        for name in ("target_ask", "large_ask"):
            if name in raw:
                kw[name] = self.text(raw[name], name)
                if kw[name] not in LADDER:
                    raise self.fail(
                        name, f"unknown ladder key {kw[name]!r}; expected one of: {', '.join(LADDER)}"
                    )
        target, large = kw.get("target_ask", d.target_ask), kw.get("large_ask", d.large_ask)
        if LADDER[target][0] >= LADDER[large][0]:
            raise self.fail(
                "target_ask", f"{target!r} must be a smaller ask (lower level) than large_ask {large!r}"
            )
        if mix["door_in_the_face_other_requester"] > 0:
            for i, t in enumerate(teams):
                if len(t.reps) < 2:
                    raise self.fail(
                        f"teams[{i}].reps",
                        "door_in_the_face_other_requester needs at least 2 reps in every team",
                    )
        kw["contacts"] = self.dataclass_section(
            raw.get("contacts"),
            "contacts",
            ContactsSpec,
            {"delete_rate": "prob", "merge_rate": "prob", "update_rate": "prob", "activity_updates": "num"},
        )
        if kw["contacts"].activity_updates > MAX_ACTIVITY_UPDATES:
            raise self.fail(
                "contacts.activity_updates",
                f"must be <= {MAX_ACTIVITY_UPDATES:g}, got {kw['contacts'].activity_updates:g}",
            )
        kw["sheet"] = self.dataclass_section(
            raw.get("sheet"), "sheet", SheetSpec, {"share": "prob", "bad_rows": "prob"}
        )
        if kw["sheet"].bad_rows > 0.9:
            raise self.fail("sheet.bad_rows", f"must be <= 0.9, got {kw['sheet'].bad_rows:g}")
        kw["limits"] = self.dataclass_section(
            raw.get("limits"), "limits", Limits, {f.name: "int" for f in fields(Limits)}
        )
        fault_kinds = {f.name: "prob" for f in fields(Faults)}
        fault_kinds.update(slow_delay_s="num", search_index_lag_s="num")
        kw["faults"] = self.dataclass_section(raw.get("faults"), "faults", Faults, fault_kinds)
        return Scenario(**kw)
