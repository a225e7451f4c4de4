"""A minimal, fast HTTP/1.1 server on asyncio Protocols (uvloop when installed).

Only what the sandbox needs: request line + headers + `Content-Length` bodies, keep-alive and
pipelining (requests on one connection are answered in order), delayed responses that sleep on the
event loop without blocking other connections, and bodies deliberately cut short. Chunked request
bodies are refused with 411. Follows RFC 9112 message framing for what it implements.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024

REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    207: "Multi-Status",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
JSON = b"application/json;charset=utf-8"


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peer: str = ""


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: bytes = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0  # answer only after this many seconds (slow-response fault)
    truncate_to: int | None = None  # send only this many body bytes (truncated-body fault)


Handler = Callable[[Request], Response]


def encode_response(resp: Response, keep_alive: bool) -> list[bytes]:
    """Serialise a response as [head, body] (the body may be cut short on purpose)."""
    body = resp.body if resp.truncate_to is None else resp.body[: resp.truncate_to]
    head = [
        b"HTTP/1.1 %d %s\r\n" % (resp.status, REASONS.get(resp.status, "Unknown").encode()),
        b"Content-Type: " + resp.content_type + b"\r\n" if resp.body else b"",
        b"Content-Length: %d\r\n" % len(body),
        b"" if keep_alive else b"Connection: close\r\n",
    ]
    for name, value in resp.headers:
        head.append(f"{name}: {value}\r\n".encode("latin-1"))
    head.append(b"\r\n")
    return [b"".join(head), body]


class HttpProtocol(asyncio.Protocol):
    """One connection: parses requests from the buffer and writes responses in order."""

    __slots__ = ("buf", "busy", "closed", "connections", "handler", "loop", "peer", "transport")

    def __init__(
        self, handler: Handler, loop: asyncio.AbstractEventLoop, connections: set[HttpProtocol]
    ) -> None:
        self.handler = handler
        self.loop = loop
        self.connections = connections
        self.buf = bytearray()
        self.busy = False
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self.connections.discard(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _fail(self, status: int) -> None:
        if self.transport is not None:
            self.transport.writelines(encode_response(Response(status), keep_alive=False))
            self.transport.close()
        self.buf.clear()

    def _process(self) -> None:
        while self.transport is not None and not self.busy:
            buf = self.buf
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._fail(431)
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                self._fail(400)
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._fail(411)
                return
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._fail(400)
                return
            if length > MAX_BODY:
                self._fail(413)
                return
            total = end + 4 + length
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            path, _, query = target.partition("?")
            conn = headers.get("connection", "").lower()
            keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
            request = Request(method, unquote(path), query, headers, body, self.peer)
            try:
                resp = self.handler(request)
            except Exception:  # a handler bug must not kill the connection silently
                resp = Response(500, b'{"status":"error","message":"sandbox handler failed"}')
            if resp.delay_s > 0:
                self.busy = True
                self.loop.call_later(resp.delay_s, self._send_later, resp, keep_alive)
                return
            self._send(resp, keep_alive)

    def _send(self, resp: Response, keep_alive: bool) -> None:
        if self.transport is None:
            return
        self.transport.writelines(encode_response(resp, keep_alive))
        if not keep_alive:
            self.transport.close()
            self.transport = None

    def _send_later(self, resp: Response, keep_alive: bool) -> None:
        self.busy = False
        if self.closed:
            return
        self._send(resp, keep_alive)
        if self.buf:
            self._process()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed, else the default asyncio loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is an optional extra
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def start_server(
    handler: Handler,
    host: str,
    port: int,
    loop: asyncio.AbstractEventLoop,
    connections: set[HttpProtocol],
) -> asyncio.Server:
    """Bind and start accepting connections; returns the asyncio server (port 0 = ephemeral).

    Open connections are tracked in `connections` so that the owner can close them on shutdown.
    """
    return await loop.create_server(
        lambda: HttpProtocol(handler, loop, connections), host, port, reuse_address=True, backlog=1024
    )
