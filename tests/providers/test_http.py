"""providers/_http.py: the httpx boundary, and the fake server the provider tests stand on."""

from __future__ import annotations

import asyncio
import inspect
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover import MAX_RETRY_AFTER
from failover.errors import (
    BadRequest,
    ConfigurationError,
    FailoverError,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from providers._http import (
    BaseHTTPProvider,
    body_excerpt,
    error_for_status,
    make_client,
    map_httpx_errors,
    parse_retry_after,
    translate_httpx_error,
)
from providers._reading import iter_sse
from providers.testing._server import FakeRequest, FakeServer, Reply, sequence

REQUEST = httpx.Request("GET", "https://api.example.com/v1/models?key=SECRET123")


def _httpx_exception_classes() -> list[type[BaseException]]:
    return [
        obj
        for name in httpx.__all__
        if inspect.isclass(obj := getattr(httpx, name)) and issubclass(obj, Exception)
    ]


def _instance(cls: type[BaseException]) -> BaseException:
    """An instance of any httpx exception class, made the way httpx makes it."""
    if issubclass(cls, httpx.HTTPStatusError):
        response = httpx.Response(503, request=REQUEST)
        return cls("boom", request=REQUEST, response=response)
    if issubclass(cls, httpx.RequestError):
        return cls("boom https://h/p?key=SECRET123", request=REQUEST)
    parameters = inspect.signature(cls).parameters
    return cls() if not parameters else cls("boom")


EXPECTED = {
    "ConnectTimeout": ProviderTimeout,
    "ReadTimeout": ProviderTimeout,
    "WriteTimeout": ProviderTimeout,
    "PoolTimeout": ProviderTimeout,
    "TimeoutException": ProviderTimeout,
    "ConnectError": Unavailable,
    "ReadError": Unavailable,
    "WriteError": Unavailable,
    "CloseError": Unavailable,
    "NetworkError": Unavailable,
    "RemoteProtocolError": Unavailable,
    "LocalProtocolError": Unavailable,
    "ProtocolError": Unavailable,
    "ProxyError": Unavailable,
    "DecodingError": Unavailable,
    "TooManyRedirects": Unavailable,
    "TransportError": Unavailable,
    "RequestError": Unavailable,
    "HTTPError": Unavailable,
    "HTTPStatusError": Unavailable,  # by its status: 503
    "StreamError": Unavailable,
    "StreamClosed": Unavailable,
    "StreamConsumed": Unavailable,
    "RequestNotRead": Unavailable,
    "ResponseNotRead": Unavailable,
    "CookieConflict": Unavailable,
    "InvalidURL": ConfigurationError,
    "UnsupportedProtocol": ConfigurationError,
}


def test_the_table_lists_every_httpx_exception() -> None:
    names = {cls.__name__ for cls in _httpx_exception_classes()}
    assert names == set(EXPECTED), "httpx changed its exceptions: map the new ones"


@pytest.mark.parametrize("cls", _httpx_exception_classes(), ids=lambda c: c.__name__)
def test_every_httpx_exception_is_mapped_with_its_cause(cls: type[BaseException]) -> None:
    original = _instance(cls)
    with pytest.raises(FailoverError) as info, map_httpx_errors("gem"):
        raise original
    error = info.value
    assert type(error) is EXPECTED[cls.__name__]
    assert error.__cause__ is original
    assert "'gem'" in str(error)
    assert "SECRET123" not in str(error)
    if isinstance(error, ProviderError):
        assert error.provider == "gem"
    if cls is not httpx.HTTPStatusError:
        assert cls.__name__ in str(error)


def test_the_message_names_the_request_path_but_not_its_query() -> None:
    error = translate_httpx_error("gem", httpx.ReadTimeout("timed out", request=REQUEST))
    assert str(error) == "provider 'gem' timed out (GET /v1/models): ReadTimeout: timed out"


def test_other_exceptions_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), map_httpx_errors("gem"):
        raise KeyError("x")
    with pytest.raises(RateLimited), map_httpx_errors("gem"):
        raise RateLimited("slow down", provider="gem")


def test_a_status_error_keeps_its_retry_after() -> None:
    response = httpx.Response(429, headers={"retry-after": "7"}, request=REQUEST)
    error = translate_httpx_error(
        "gem", httpx.HTTPStatusError("x", request=REQUEST, response=response)
    )
    assert isinstance(error, RateLimited)
    assert (error.retry_after, error.status) == (7.0, 429)


# --- Retry-After ---------------------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Sat, 01 Mar 2025 12:00:30 GMT", 30.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_an_http_date_is_read_against_the_wall_clock_by_default() -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = parse_retry_after(later)
    assert seconds is not None
    assert 3000 < seconds <= 3600


def test_a_naive_now_is_taken_as_utc() -> None:
    assert parse_retry_after("Sat, 01 Mar 2025 12:01:00 GMT", NOW.replace(tzinfo=None)) == 60.0


@given(st.integers(min_value=0, max_value=10**9))
def test_delay_seconds_round_trip_up_to_the_cap(n: int) -> None:
    assert parse_retry_after(str(n), NOW) == min(n, MAX_RETRY_AFTER)


@given(st.text())
def test_any_header_gives_none_or_a_delay(value: str) -> None:
    seconds = parse_retry_after(value, NOW)
    assert seconds is None or seconds >= 0


# --- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (422, BadRequest),
        (401, Unauthorized),
        (403, Unauthorized),
        (404, NotFound),
        (408, ProviderTimeout),
        (504, ProviderTimeout),
        (429, RateLimited),
        (500, Unavailable),
        (502, Unavailable),
        (503, Unavailable),
        (418, Unavailable),
    ],
)
def test_error_for_status(status: int, cls: type[ProviderError]) -> None:
    error = error_for_status("gem", status, '{"error": "nope"}', 3.0)
    assert type(error) is cls
    assert (error.provider, error.status, error.retry_after) == ("gem", status, 3.0)
    assert (
        str(error)
        == f'provider \'gem\' answered HTTP {status} (retry after 3 s): {{"error": "nope"}}'
    )


def test_error_for_status_shortens_the_body() -> None:
    error = error_for_status("gem", 500, "x" * 1000 + "TAIL", None)
    assert "TAIL" not in str(error)
    assert str(error).endswith("x" * 200 + "...")
    assert str(error_for_status("gem", 500, "", None)) == "provider 'gem' answered HTTP 500"


def test_body_excerpt() -> None:
    assert body_excerpt(b"<html>") == "'<html>'"
    assert body_excerpt(b"a" * 500) == repr("a" * 120) + "..."
    assert body_excerpt(b"\xff\xfe") == repr("\ufffd\ufffd")


# --- clients -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_make_client_owns_what_it_builds_and_not_an_injected_client() -> None:
    built, owned = make_client(base_url="http://x", headers={"a": "b"}, timeout=5)
    assert owned
    assert built.timeout == httpx.Timeout(5)
    assert built.headers["a"] == "b"
    await built.aclose()
    injected = httpx.AsyncClient()
    assert make_client(base_url="http://x", headers={}, client=injected) == (injected, False)
    await injected.aclose()


@pytest.mark.parametrize(
    "kwargs", [{"timeout": 0}, {"timeout": -1.0}, {"max_connections": 0}, {"max_keepalive": -1}]
)
def test_make_client_refuses_bad_limits(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match=repr(next(iter(kwargs.values())))):
        make_client(base_url="http://x", headers={}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_base_provider_closes_only_its_own_client() -> None:
    own = BaseHTTPProvider("p", base_url="http://x/", headers={"authorization": "Bearer K"})
    assert own.url("/v1") == "http://x/v1"
    await own.aclose()
    assert own.client.is_closed
    injected = httpx.AsyncClient()
    other = BaseHTTPProvider("p", base_url="http://x", headers={}, client=injected)
    await other.aclose()
    assert not injected.is_closed
    await injected.aclose()


def test_base_provider_repr_shows_no_header_nor_query() -> None:
    provider = BaseHTTPProvider("p", base_url="http://x/v1?token=Q", headers={"x-key": "K9"})
    assert repr(provider) == "BaseHTTPProvider(name='p', base_url='http://x/v1?...')"
    with pytest.raises(ConfigurationError, match="''"):
        BaseHTTPProvider("", base_url="http://x", headers={})


# --- over a real socket --------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.asyncio
async def test_connection_refused_is_unavailable() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(Unavailable, match="ConnectError") as info, map_httpx_errors("p"):
            await client.get(f"http://127.0.0.1:{_closed_port()}/x")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.asyncio
async def test_a_read_timeout_is_a_provider_timeout() -> None:
    never = asyncio.Event()
    timeout = httpx.Timeout(5, read=0.01)
    async with (
        FakeServer(lambda r: Reply.json({}, hold=never)) as server,
        httpx.AsyncClient(timeout=timeout) as client,
    ):
        with pytest.raises(ProviderTimeout, match="ReadTimeout"), map_httpx_errors("p"):
            await client.get(server.url("/slow"))


@pytest.mark.asyncio
async def test_a_reset_mid_body_is_unavailable() -> None:
    reply = Reply.json({"text": "x" * 5000}, reset_mid_body=True)
    async with FakeServer(lambda r: reply) as server, httpx.AsyncClient() as client:
        with pytest.raises(Unavailable) as info, map_httpx_errors("p"):
            await client.get(server.url("/x"))
    assert isinstance(info.value.__cause__, httpx.ReadError | httpx.RemoteProtocolError)


@pytest.mark.asyncio
async def test_iter_sse_yields_each_event_data() -> None:
    body = (
        b": a comment\n\nevent: message\nid: 1\ndata: one\n\n"
        b'data: two\ndata:three\n\nretry: 5\n\ndata: {"k": 1}'
    )
    reply = Reply(
        200, {"content-type": "text/event-stream"}, chunks=[body[:7], body[7:40], body[40:]]
    )
    async with (
        FakeServer(lambda r: reply) as server,
        httpx.AsyncClient() as client,
        client.stream("GET", server.url("/s")) as response,
    ):
        events = [event async for event in iter_sse(response, "p")]
    assert events == ["one", "two\nthree", '{"k": 1}']


# --- the fake server itself ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fake_server_records_requests_and_keeps_connections_alive() -> None:
    replies = sequence(Reply.json({"n": 1}), Reply.json({"n": 2}, status=201, headers={"x-a": "b"}))
    async with FakeServer(replies) as server, httpx.AsyncClient() as client:
        first = await client.post(server.url("/a?x=1&y=2"), json={"q": "hi"}, headers={"X-K": "v"})
        second = await client.get(server.url("/b"))
        third = await client.get(server.url("/c"))
    assert [first.json(), second.json(), third.json()] == [{"n": 1}, {"n": 2}, {"n": 2}]
    assert (second.status_code, second.headers["x-a"]) == (201, "b")
    assert server.connections == 1
    request = server.requests[0]
    assert (request.method, request.path, request.query) == ("POST", "/a", {"x": "1", "y": "2"})
    assert request.headers["x-k"] == "v"
    assert request.json() == {"q": "hi"}
    assert [r.path for r in server.requests] == ["/a", "/b", "/c"]


@pytest.mark.asyncio
async def test_fake_server_reads_a_chunked_request_and_runs_async_handlers() -> None:
    async def handler(request: FakeRequest) -> Reply:
        return Reply(200, {}, request.body.upper())

    async def parts() -> object:
        yield b"ab"
        yield b"cd"

    async with FakeServer(handler) as server, httpx.AsyncClient() as client:
        response = await client.post(server.url("/up"), content=parts())
    assert response.content == b"ABCD"
    assert server.requests[0].headers["transfer-encoding"] == "chunked"


@pytest.mark.asyncio
async def test_fake_server_sse_cut_breaks_the_chunked_body() -> None:
    reply = Reply.sse([{"a": 1}, {"a": 2}, "[DONE]"], cut_after=1)
    got: list[str] = []

    async def read(client: httpx.AsyncClient, url: str) -> None:
        async with client.stream("GET", url) as response:
            async for event in iter_sse(response, "p"):
                got.append(event)

    async with FakeServer(lambda r: reply) as server, httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await read(client, server.url("/s"))
    assert got == ['{"a": 1}']


@pytest.mark.asyncio
async def test_fake_server_holds_the_first_byte_until_released() -> None:
    hold, arrived = asyncio.Event(), asyncio.Event()

    def handler(request: FakeRequest) -> Reply:
        arrived.set()
        return Reply.html("<p>hi</p>", hold=hold)

    async with FakeServer(handler) as server, httpx.AsyncClient() as client:
        pending = asyncio.ensure_future(client.get(server.url("/h")))
        await arrived.wait()
        await asyncio.wait([pending], timeout=0)
        assert not pending.done()
        hold.set()
        response = await pending
    assert response.text == "<p>hi</p>"
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.asyncio
async def test_fake_server_raises_the_handler_error_when_it_closes() -> None:
    def broken(request: FakeRequest) -> Reply:
        raise LookupError("script bug")

    server = FakeServer(broken)
    await server.__aenter__()
    async with httpx.AsyncClient() as client:
        response = await client.get(server.url("/x"))
    assert response.status_code == 500
    with pytest.raises(LookupError, match="script bug"):
        await server.__aexit__(None, None, None)
