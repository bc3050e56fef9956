"""A scriptable fake HTTP/1.1 server on a real loopback socket, for the provider tests.

It runs in the test's own event loop (``asyncio.start_server`` on 127.0.0.1, port 0), so the
providers go through their real httpx client, sockets and parsers::

    async with FakeServer(lambda request: Reply.json({"ok": True})) as server:
        response = await httpx.AsyncClient().get(server.base_url + "/v1/models")
        assert server.requests[0].path == "/v1/models"

The handler (sync or async) receives each FakeRequest and returns a Reply:

- ``Reply.json(obj, status=200, headers=None)``, ``Reply.html(text, status=200)``,
  ``Reply(status, headers, body)`` for anything else (a non-bytes body is sent as JSON);
- ``Reply.sse(events, cut_after=None)``: text/event-stream, chunked, one chunk per event (a
  dict is sent as JSON, a str as is: ``"[DONE]"``); ``cut_after=n`` closes the connection after
  n events without the terminating chunk (a stream cut mid-way);
- ``hold=event``: nothing is sent until the asyncio.Event is set (a slow first byte, without
  sleeping);
- ``reset_mid_body=True``: the headers announce the whole body, half of it is sent, then the
  socket is aborted with SO_LINGER 0 (a connection reset).

Connections are kept alive (several requests per connection) unless a reply cuts them. An
exception in the handler is answered with a 500 and raised again when the server closes, so a
broken script fails its test.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

__all__ = ["FakeRequest", "FakeServer", "Handler", "Reply", "sequence"]


@attrs.frozen
class FakeRequest:
    """One request the server received.

    Attributes:
        method: "GET", "POST", ...
        path: The path without the query string.
        query: The query parameters (the last value of a repeated one).
        headers: The headers, names lower-cased.
        body: The raw body.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@attrs.define
class Reply:
    """What the server answers to one request (see the module docstring)."""

    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict)
    body: object = b""
    chunks: list[bytes] | None = None
    cut_after: int | None = None
    hold: asyncio.Event | None = None
    reset_mid_body: bool = False

    @classmethod
    def json(
        cls, obj: object, status: int = 200, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Reply:
        """A JSON body."""
        return cls(status, {"content-type": "application/json", **(headers or {})}, obj, **kw)

    @classmethod
    def html(
        cls,
        text: str = "<html><body><h1>502 Bad Gateway</h1></body></html>",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> Reply:
        """An HTML page (what a proxy or a captive portal sends instead of JSON)."""
        merged = {"content-type": "text/html; charset=utf-8", **(headers or {})}
        return cls(status, merged, text.encode(), **kw)

    @classmethod
    def sse(
        cls,
        events: Iterable[str | Mapping[str, Any]],
        cut_after: int | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> Reply:
        """A Server-Sent Events stream, one chunk per event."""
        chunks = [
            f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events
        ]
        merged = {"content-type": "text/event-stream", **(headers or {})}
        return cls(status, merged, b"", chunks=chunks, cut_after=cut_after, **kw)

    def payload(self) -> bytes:
        """The body as bytes (JSON-encoded unless it is bytes or str)."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Handler = Callable[[FakeRequest], "Reply | Awaitable[Reply]"]


def sequence(*replies: Reply) -> Handler:
    """A handler answering ``replies`` in order, then the last one again and again."""
    queue = list(replies)

    def handler(_: FakeRequest) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


class _Cut(Exception):
    """The reply closed the connection on purpose."""


class FakeServer:
    """The fake server; use as ``async with FakeServer(handler) as server``.

    Attributes:
        requests: Every request received, in order.
        connections: How many connections were accepted.
        errors: Exceptions the handler raised (re-raised when the server closes).
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[FakeRequest] = []
        self.connections = 0
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return self.base_url + path

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self.errors and exc_info[0] is None:
            raise self.errors[0]

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                reply = await self._reply(request)
                await _send(writer, reply)
                if request.headers.get("connection", "").lower() == "close":
                    return
        except (_Cut, ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def _reply(self, request: FakeRequest) -> Reply:
        try:
            reply = self.handler(request)
            if inspect.isawaitable(reply):
                reply = await reply
        except Exception as exc:
            self.errors.append(exc)
            return Reply(500, {"content-type": "text/plain"}, f"handler failed: {exc!r}")
        if not isinstance(reply, Reply):
            self.errors.append(TypeError(f"the handler must return a Reply, got {reply!r}"))
            return Reply(500, {"content-type": "text/plain"}, b"handler returned no Reply")
        return reply


async def _read_request(reader: asyncio.StreamReader) -> FakeRequest | None:
    """The next request on the connection, or None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    parts = urlsplit(target)
    return FakeRequest(method, parts.path, dict(parse_qsl(parts.query)), headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            return body
        body += data[:-2]


def _head(reply: Reply, extra: Mapping[str, str]) -> bytes:
    phrase = (
        HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else ""
    )
    lines = [f"HTTP/1.1 {reply.status} {phrase}"]
    lines += [f"{k}: {v}" for k, v in {**reply.headers, **extra}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
    if reply.hold is not None:
        await reply.hold.wait()
    if reply.chunks is not None:
        await _send_chunked(writer, reply)
        return
    body = reply.payload()
    writer.write(_head(reply, {"content-length": str(len(body))}))
    if reply.reset_mid_body:
        writer.write(body[: len(body) // 2])
        await writer.drain()
        _reset(writer)
        raise _Cut
    writer.write(body)
    await writer.drain()


async def _send_chunked(writer: asyncio.StreamWriter, reply: Reply) -> None:
    assert reply.chunks is not None
    writer.write(_head(reply, {"transfer-encoding": "chunked"}))
    for index, chunk in enumerate(reply.chunks):
        if reply.cut_after is not None and index >= reply.cut_after:
            break
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
    else:
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return
    writer.close()  # a clean FIN, but the chunked body never ends
    raise _Cut


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST (SO_LINGER on, timeout 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
