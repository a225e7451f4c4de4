"""The leadflow exception tree.

    LeadflowError                      every error leadflow raises on purpose
    ├── ConfigError                    bad or missing configuration (settings, scenario files)
    │   └── ScenarioError              a scenario file that does not validate
    ├── SourceError                    a source API refused or broke a request
    │   ├── AuthError                  401: the token is missing, wrong or expired
    │   ├── ScopeError                 403: the token lacks a scope
    │   ├── RequestRejected            other 4xx (not 429): the request itself is wrong
    │   └── RetriesExhausted           429/5xx/network errors outlived the retry budget
    ├── SignatureInvalid               a webhook request failed signature verification
    ├── LandingError                   landing files or the load ledger are inconsistent
    ├── WarehouseBusy                  another process kept the warehouse's writer lock too long
    └── TransformError                 a dbt run failed

Messages say what to fix. They never contain tokens or signing secrets.
"""

from __future__ import annotations


class LeadflowError(Exception):
    """Base of every error leadflow raises on purpose."""

    exit_code = 1


class ConfigError(LeadflowError):
    """Configuration is missing or invalid."""

    exit_code = 2


class ScenarioError(ConfigError):
    """A sandbox scenario file does not validate."""


class SourceError(LeadflowError):
    """A source API refused a request or kept failing."""

    exit_code = 3

    def __init__(self, message: str, *, source: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.status = status


class AuthError(SourceError):
    """401: the token is missing, wrong or expired."""


class ScopeError(SourceError):
    """403: the token lacks a required scope."""


class RequestRejected(SourceError):
    """A 4xx other than 401/403/429: the request is malformed or asks for too much."""


class RetriesExhausted(SourceError):
    """Transient failures (429, 5xx, timeouts, resets) outlasted the retry budget."""


class SignatureInvalid(LeadflowError):
    """A webhook request failed verification. `reason` is a stable machine-readable code:

    `missing_header`, `malformed_header`, `unsupported_version`, `bad_timestamp`, `expired`,
    `mismatch`, `no_secret`.
    """

    exit_code = 3

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class LandingError(LeadflowError):
    """Landing files or the load ledger are inconsistent."""

    exit_code = 4


class WarehouseBusy(LeadflowError):
    """Another process (a sync or a build) held the warehouse's writer lock for longer than the wait."""

    exit_code = 6


class TransformError(LeadflowError):
    """A dbt invocation failed."""

    exit_code = 5
