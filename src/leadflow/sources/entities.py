"""Argument checks every connector's `extract` shares: which entities, and the `since` override."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from leadflow.errors import ConfigError


def check_entities(entities: Sequence[str] | None, known: Sequence[str], source: str) -> list[str]:
    """The requested entities in canonical order (all when None); unknown names are a `ConfigError`."""
    if entities is None:
        return list(known)
    unknown = sorted(set(entities) - set(known))
    if unknown:
        noun = "entity" if len(unknown) == 1 else "entities"
        raise ConfigError(f"{source}: unknown {noun} {unknown}; known: {list(known)}")
    return [e for e in known if e in entities]


def since_to_ms(since: datetime | None) -> int | None:
    """Epoch ms of `since` (a naive datetime is taken as UTC)."""
    if since is None:
        return None
    return int((since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp() * 1000)
