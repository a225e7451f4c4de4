"""The published lead sheet: one row per web-form submission, plus planted malformed rows.

A form lead's row appears when the form is submitted (its contact reaches the CRM minutes later),
with the same e-mail as the contact. Malformed rows feed the quarantine: before each good row, a
bad row is inserted with probability `sheet.bad_rows` (repeatedly), so the expected share of bad
rows among all rows is exactly `sheet.bad_rows`. A bad row has a missing e-mail, an invalid
e-mail or an unparseable `submitted_at`; its kind is kept in `SheetRow.defect` (ground truth).
Values are strings as a CSV export of a Google Sheet gives them (`free-tool-apis.md` section 3.4).
"""

from __future__ import annotations

import random
import time

from leadflow.sandbox.journeys import HOUR_MS, MINUTE_MS, LeadPlan
from leadflow.sandbox.people import PersonFactory
from leadflow.sandbox.scenario import Scenario
from leadflow.sandbox.world import SheetRow

SHEET_COLUMNS = ("submitted_at", "email", "first_name", "last_name", "phone", "form", "utm_source")
FORMS = ("demo_request", "contact_us", "pricing")
UTM_SOURCES = ("google", "linkedin", "newsletter", "")
DEFECTS = ("missing_email", "invalid_email", "bad_date")
BAD_DATES = ("31/02/2025 25:61", "yesterday", "2025-13-45", "")


def sheet_time(ms: int) -> str:
    """`submitted_at` as the sheet shows it: ISO-8601 UTC with seconds (`2025-01-06T09:30:00Z`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


class SheetWriter:
    """Collects sheet rows from one random stream (`<seed>:sheet`)."""

    def __init__(self, scenario: Scenario, people: PersonFactory) -> None:
        self.sc = scenario
        self.people = people
        self.rng = random.Random(f"{scenario.seed}:sheet")
        self._rows: list[SheetRow] = []

    def add_lead(self, lead: LeadPlan) -> None:
        """The good row of a form lead, preceded by any planted bad rows."""
        rng = self.rng
        while rng.random() < self.sc.sheet.bad_rows:
            at = max(self.sc.start_ms, lead.arrival_ms - rng.randrange(MINUTE_MS, 6 * HOUR_MS))
            self._rows.append(self._bad_row(at))
        values = {
            "submitted_at": sheet_time(lead.arrival_ms),
            "email": lead.email,
            "first_name": lead.first,
            "last_name": lead.last,
            "phone": lead.phone,
            "form": rng.choice(FORMS),
            "utm_source": rng.choice(UTM_SOURCES),
        }
        self._rows.append(SheetRow(lead.arrival_ms, values))

    def _bad_row(self, at: int) -> SheetRow:
        rng = self.rng
        first, last = self.people.person(rng)
        defect = rng.choice(DEFECTS)
        email = self.people.email(first, last, rng)
        submitted = sheet_time(at)
        if defect == "missing_email":
            email = ""
        elif defect == "invalid_email":
            local, _, domain = email.partition("@")
            email = rng.choice((f"{local}(at){domain}", f"{local}@", f"{first} {last}@{domain}"))
        else:
            submitted = rng.choice(BAD_DATES)
        values = {
            "submitted_at": submitted,
            "email": email,
            "first_name": first,
            "last_name": last,
            "phone": self.people.phone(rng),
            "form": rng.choice(FORMS),
            "utm_source": rng.choice(UTM_SOURCES),
        }
        return SheetRow(at, values, defect)

    def rows(self) -> list[SheetRow]:
        """All rows in the order they appeared (stable for equal times)."""
        return sorted(self._rows, key=lambda r: r.added_ms)
