"""CLI tables get room in logs and pipes, and follow COLUMNS when it is set."""

from __future__ import annotations

import io
import sys

import pytest

from leadflow.cli.consoles import LOG_WIDTH, table_console


def test_a_pipe_gets_the_log_width_and_columns_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a pipe, not a terminal
    assert table_console().width == LOG_WIDTH
    monkeypatch.setenv("COLUMNS", "100")
    assert table_console().width == 100
