"""providers/_reading.py: bodies and stream events read under a limit, whatever the chunking.

The responses here are built in memory from chunks (an ``httpx.AsyncByteStream``), so that
any split of the bytes can be tried; tests/providers/test_bounded_reads.py serves 200 MiB over
a real socket through a provider.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.errors import ConfigurationError, Unavailable
from failover.secrets import register_secret
from providers._http import translate_httpx_error
from providers._reading import (
    check_max_response_bytes,
    iter_sse,
    read_body,
    read_error_body,
)


class Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: Sequence[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.sent += len(chunk)
            yield chunk


def response(chunks: Sequence[bytes], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, headers=headers, stream=Chunks(chunks))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def events(chunks: Sequence[bytes], limit: int = 1 << 20) -> list[str]:
    async def read() -> list[str]:
        return [e async for e in iter_sse(response(chunks), "p", max_event_bytes=limit)]

    return asyncio.run(read())


LINE_END = st.sampled_from([b"\n", b"\r\n", b"\r"])
TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=8)


@given(
    st.lists(st.lists(TEXT, min_size=1, max_size=3), max_size=4),
    LINE_END,
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_any_chunking_and_line_ending_gives_the_same_events(
    datas: list[list[str]], end: bytes, cuts: list[int]
) -> None:
    body = b"".join(
        b"".join(b"data: " + line.encode() + end for line in data) + end for data in datas
    )
    assert events(split(body, cuts)) == ["\n".join(data) for data in datas]


def test_a_line_or_an_event_over_the_limit_is_unavailable_and_not_held() -> None:
    with pytest.raises(Unavailable, match=r"a stream line larger than 64 bytes \(max_event_bytes"):
        events([b"data: " + b"x" * 40, b"y" * 40], limit=64)
    with pytest.raises(Unavailable, match=r"a stream event larger than 64 bytes"):
        events([b"data: " + b"x" * 40 + b"\n", b"data: " + b"y" * 40 + b"\n\n"], limit=64)
    assert events([b"data: " + b"x" * 58 + b"\n\n"], limit=64) == ["x" * 58]


def test_read_body_stops_at_the_limit() -> None:
    stream = Chunks([b"a" * 600, b"b" * 600, b"c" * 600])
    big = httpx.Response(200, stream=stream)
    with pytest.raises(Unavailable, match=r"larger than 1024 bytes \(max_response_bytes\)"):
        asyncio.run(read_body(big, "p", 1024))
    assert stream.sent == 1200  # the third chunk was never asked for
    exact = response([b"a" * 512, b"b" * 512])
    assert asyncio.run(read_body(exact, "p", 1024)) == b"a" * 512 + b"b" * 512


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = Chunks([b"a" * 10])
    declared = httpx.Response(200, headers={"content-length": "5000"}, stream=stream)
    with pytest.raises(Unavailable, match="max_response_bytes"):
        asyncio.run(read_body(declared, "p", 1024))
    assert stream.sent == 0


def test_an_error_body_is_read_only_as_far_as_shown() -> None:
    stream = Chunks([b"e" * 40_000, b"f" * 40_000, b"g" * 40_000])
    head = asyncio.run(read_error_body(httpx.Response(500, stream=stream), limit=65_536))
    assert head == b"e" * 40_000 + b"f" * 25_536
    assert stream.sent == 80_000


@pytest.mark.parametrize("bad", [0, 1023, 2**30 + 1, 1.5e6, "8MiB", True, None])
def test_max_response_bytes_is_an_int_from_1_kib_to_1_gib(bad: object) -> None:
    with pytest.raises(ConfigurationError, match=r"'p': max_response_bytes must be an int from"):
        check_max_response_bytes(bad, "p")
    assert check_max_response_bytes(1024, "p") == 1024


def test_an_httpx_error_quoting_a_secret_is_translated_without_it() -> None:
    secret = "tr4nslate-SECRET-0001"
    register_secret(secret)
    error = translate_httpx_error("p", httpx.ConnectError(f"refused: Bearer {secret}"))
    assert isinstance(error, Unavailable)
    assert secret not in str(error)
    assert "refused: Bearer ***" in str(error)
