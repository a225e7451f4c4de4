"""Synthetic people and identifiers: names, e-mail addresses, phone numbers, Calendly-style ids.

Everything is deterministic from the scenario seed. E-mail addresses use the reserved example
domains (RFC 2606) and phone numbers the 555-01xx fiction range, so nothing points at real people.
Calendly ids are 16-character uppercase alphanumerics, as in the API's examples
(`https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2`).
"""

from __future__ import annotations

import hashlib
import random

FIRST_NAMES = (
    "Ada", "Amir", "Ana", "Ben", "Bianca", "Carla", "Chen", "Dana", "Dario", "Elena", "Emeka", "Eva",
    "Farah", "Felix", "Gus", "Hana", "Hugo", "Ines", "Ivan", "Jae", "Jonas", "Kai", "Kira", "Lars",
    "Lea", "Luis", "Maya", "Mila", "Nia", "Noah", "Olga", "Omar", "Pia", "Priya", "Quinn", "Rafa",
    "Rosa", "Sami", "Sara", "Taro", "Tess", "Uma", "Vera", "Viktor", "Wen", "Yara", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abe", "Alvarez", "Bauer", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Hansen", "Ito", "Jensen", "Kim", "Kowalski", "Larsen", "Lopez", "Meyer", "Moreau", "Nakamura",
    "Novak", "Okafor", "Olsen", "Park", "Perez", "Quist", "Rossi", "Sato", "Schmidt", "Silva",
    "Singh", "Tanaka", "Torres", "Ueda", "Vargas", "Wagner", "Wang", "Weiss", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
LEAD_DOMAINS = ("example.com", "example.org", "example.net")
ORG_DOMAIN = "leadflow-sandbox.example"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def rep_names(seed: int, team: str, count: int, taken: set[str]) -> list[str]:
    """`count` distinct rep names for a team, avoiding `taken` (deterministic from seed and team)."""
    rng = random.Random(f"{seed}:reps:{team}")
    out: list[str] = []
    while len(out) < count:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name in taken or name in out:
            name = f"{name} {len(out) + 1}"
            if name in taken or name in out:
                continue
        out.append(name)
    return out


def rep_email(name: str) -> str:
    """The work e-mail of a rep."""
    return ".".join(part.lower() for part in name.split()) + "@" + ORG_DOMAIN


class PersonFactory:
    """Draws lead names, unique e-mail addresses and phone numbers from one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._emails: set[str] = set()

    def person(self, rng: random.Random | None = None) -> tuple[str, str]:
        r = rng or self.rng
        return r.choice(FIRST_NAMES), r.choice(LAST_NAMES)

    def email(self, first: str, last: str, rng: random.Random | None = None) -> str:
        """A lower-case address not handed out before (drawn from `rng`, default the factory's)."""
        r = rng or self.rng
        base = f"{first}.{last}".lower()
        domain = r.choice(LEAD_DOMAINS)
        n = r.randrange(1, 1000)
        while True:
            address = f"{base}{n}@{domain}"
            if address not in self._emails:
                self._emails.add(address)
                return address
            n += r.randrange(1, 1000)

    def phone(self, rng: random.Random | None = None) -> str:
        r = rng or self.rng
        return f"+1-{r.randrange(200, 990)}-555-01{r.randrange(100):02d}"


class CalendlyIds:
    """Deterministic, unique 16-character ids: a hash of (seed, kind, ordinal)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._seen: set[str] = set()
        self._counts: dict[str, int] = {}

    def next(self, kind: str) -> str:
        n = self._counts.get(kind, 0)
        self._counts[kind] = n + 1
        salt = 0
        while True:
            digest = hashlib.blake2b(f"{self.seed}:{kind}:{n}:{salt}".encode(), digest_size=16).digest()
            uid = "".join(_ALNUM[b % 36] for b in digest)
            if uid not in self._seen:
                self._seen.add(uid)
                return uid
            salt += 1
