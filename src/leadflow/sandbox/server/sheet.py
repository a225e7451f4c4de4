"""The published lead sheet: `GET /spreadsheets/d/{key}/export?format=csv&gid=0`, no auth.

Imitates the no-auth CSV export of a published Google Sheet (`shared/reference/free-tool-apis.md`
§3.4): the whole sheet in one response, a header row with the sheet's columns, then every row added
by the sandbox clock. `ETag` / `Last-Modified` let clients skip unchanged sheets (304).
"""

from __future__ import annotations

import csv
import hashlib
import io
from email.utils import formatdate
from urllib.parse import parse_qs

from leadflow.sandbox.server.http import Response
from leadflow.sandbox.server.state import ServerState
from leadflow.sandbox.world import World

CSV = b"text/csv; charset=utf-8"
HTML = b"text/html; charset=utf-8"


class SheetApi:
    def __init__(self, world: World, state: ServerState, key: str) -> None:
        self.world = world
        self.state = state
        self.key = key
        self.rows = sorted(world.sheet_rows, key=lambda r: r.added_ms)
        self._cached: tuple[int, bytes, str, str] | None = None  # (row count, body, etag, last-modified)

    def export(self, key: str, query: str, headers: dict[str, str]) -> Response:
        params = parse_qs(query)
        if key != self.key or params.get("gid", ["0"])[-1] != "0":
            return Response(
                404, b"<html><body>Sorry, unable to open the file at this time.</body></html>", HTML
            )
        if params.get("format", ["csv"])[-1] != "csv":
            return Response(
                400, b"<html><body>Only format=csv is exported by the sandbox.</body></html>", HTML
            )
        t = self.state.clock_ms
        n = sum(1 for r in self.rows if r.added_ms <= t)
        if self._cached is None or self._cached[0] != n:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(self.world.sheet_columns)
            for row in self.rows[:n]:
                writer.writerow([row.values.get(c, "") for c in self.world.sheet_columns])
            body = out.getvalue().encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            last = self.rows[n - 1].added_ms if n else self.world.start_ms
            self._cached = (n, body, etag, formatdate(last / 1000, usegmt=True))
        _, body, etag, modified = self._cached
        extra = [("ETag", etag), ("Last-Modified", modified), ("Cache-Control", "private, max-age=0")]
        if headers.get("if-none-match") == etag:
            return Response(304, b"", CSV, extra)
        return Response(200, body, CSV, extra)
