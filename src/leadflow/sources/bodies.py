"""Reading response bodies: strict validation of 2xx bodies and the human part of error bodies.

A 2xx body that fails validation raises `InvalidBody`, which `SourceClient` treats like a transient
failure (retried, never written to a sink). Error bodies follow HubSpot "Error handling" (`message`,
`category`) and Calendly's `{title, message, details}` (`shared/reference/free-tool-apis.md` §1.7, §2.4).
"""

from __future__ import annotations

import csv
import io

import orjson
import requests


class InvalidBody(Exception):
    """A 2xx body that does not parse; treated like a transient failure."""


def validate_csv(body: bytes) -> list[list[str]]:
    """Parse a CSV body strictly: UTF-8, closed quotes, every row as wide as the header."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidBody(f"CSV is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    except csv.Error as exc:
        raise InvalidBody(f"CSV does not parse ({exc})") from exc
    if not rows:
        raise InvalidBody("CSV has no header row")
    width = len(rows[0])
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise InvalidBody(f"CSV row {n} has {len(row)} fields, the header has {width}")
    return rows


def json_field(response: requests.Response, key: str) -> str:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    return str(data.get(key, "")) if isinstance(data, dict) else ""


def server_message(response: requests.Response) -> str:
    """The human part of an error body (HubSpot `message`/`category`, Calendly `title`/`message`/`details`)."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:200].strip()
    if not isinstance(data, dict):
        return ""
    parts = [str(data[k]) for k in ("title", "category", "message") if data.get(k)]
    for detail in data.get("details") or []:
        if isinstance(detail, dict) and detail.get("message"):
            parts.append(f"{detail.get('parameter', '')}: {detail['message']}".strip(": "))
    return " / ".join(parts)[:400]
