"""A test hook that widens the window between two steps; it never skips work.

When `LEADFLOW_TEST_PAUSE_AT` names a phase (comma-separated list allowed), `pause_at(phase)` sleeps
`LEADFLOW_TEST_PAUSE_S` seconds (default 0.5) there. The crash-resume tests use it so that a random
SIGKILL lands inside the load transaction or between commit and bookkeeping more often. Phases:
`extract.page`, `extract.complete`, `load.begin`, `load.staged`, `load.rows`, `load.cursor`,
`load.committed`.
"""

from __future__ import annotations

import os
import sys
import time


def pause_at(phase: str, detail: str = "") -> None:
    """Sleep here if the test hook names this phase; otherwise return at once. `detail` (e.g. the
    batch's `source/entity`) follows the phase in the announcement."""
    wanted = os.environ.get("LEADFLOW_TEST_PAUSE_AT")
    if not wanted:
        return
    if phase in wanted.split(",") or wanted == "*":
        print(
            f"leadflow-pause {phase} {detail}".rstrip(), file=sys.stderr, flush=True
        )  # lets the test see where it killed
        time.sleep(float(os.environ.get("LEADFLOW_TEST_PAUSE_S", "0.5")))
