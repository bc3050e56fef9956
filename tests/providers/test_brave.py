"""BraveSearchProvider against the fake Brave server on a real loopback socket: what it sends,
what it makes of every answer, its quota report and its health check."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from failover import ReportsQuota, SearchProvider
from failover.errors import (
    BadRequest,
    ConfigurationError,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from failover.provider import QuotaReport, SearchResult
from providers.brave import DEFAULT_BASE_URL, BraveSearchProvider
from providers.testing._server import Reply
from providers.testing.brave import (
    SEARCH_PATH,
    TOKEN,
    FakeBrave,
    brave_error,
    html_page,
    web_result,
    web_results,
)


def provider_for(brave: FakeBrave, **kw: object) -> BraveSearchProvider:
    return BraveSearchProvider(kw.pop("token", brave.token), base_url=brave.base_url, **kw)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_search_sends_the_token_and_options_and_parses_the_results() -> None:
    async with FakeBrave() as brave:
        provider = provider_for(brave)
        found = await provider.search("cats", count=2, safesearch="off", freshness="pw")
        await provider.aclose()
    request = brave.requests[0]
    assert (request.method, request.path) == ("GET", SEARCH_PATH)
    assert request.headers["x-subscription-token"] == TOKEN
    assert request.headers["accept"] == "application/json"
    assert request.query == {"q": "cats", "count": "2", "safesearch": "off", "freshness": "pw"}
    assert found.provider == "brave"
    assert found.results == (
        SearchResult(
            "Result 1 for cats",
            "https://example.com/1",
            "About <strong>cats</strong>, part 1.",
            "2 days ago",
        ),
        SearchResult(
            "Result 2 for cats",
            "https://example.com/2",
            "About <strong>cats</strong>, part 2.",
            "2 days ago",
        ),
    )


@pytest.mark.asyncio
async def test_it_is_a_search_provider_that_reports_quota() -> None:
    provider = BraveSearchProvider("key")
    assert isinstance(provider, SearchProvider)
    assert isinstance(provider, ReportsQuota)
    assert provider.quota_report() is None
    assert provider.base_url == DEFAULT_BASE_URL
    await provider.aclose()


@pytest.mark.asyncio
async def test_a_bad_option_sends_nothing() -> None:
    async with FakeBrave() as brave:
        provider = provider_for(brave)
        with pytest.raises(BadRequest, match="count=50"):
            await provider.search("cats", count=50)
        with pytest.raises(BadRequest, match="at most 50 words"):
            await provider.search(" ".join(["cat"] * 51))
        await provider.aclose()
    assert brave.requests == []
    assert brave.server.connections == 0


@pytest.mark.asyncio
async def test_each_answer_s_headers_become_the_quota_report() -> None:
    async with FakeBrave() as brave:
        brave.script(
            web_results("a", remaining=(5, 100), reset=(1, 3600)),
            web_results("b", remaining=(19, 0), reset=(1, 3600)),
            Reply.json({"type": "search"}),
        )
        provider = provider_for(brave)
        await provider.search("a")
        assert provider.quota_report() == QuotaReport(5, 1.0)
        await provider.search("b")
        assert provider.quota_report() == QuotaReport(0, 3600.0)
        await provider.search("c")  # no headers: unknown again
        assert provider.quota_report() is None
        await provider.aclose()


@pytest.mark.asyncio
async def test_an_error_answer_reports_its_quota_too() -> None:
    async with FakeBrave() as brave:
        brave.script(brave_error("RATE_LIMITED", remaining=(0, 900), reset=(1, 9000)))
        provider = provider_for(brave)
        with pytest.raises(RateLimited) as caught:
            await provider.search("a")
        assert caught.value.retry_after == 1.0
        assert provider.quota_report() == QuotaReport(0, 1.0)
        await provider.aclose()


ERROR_ROWS = [
    (brave_error("RATE_LIMITED", remaining=(0, 10), reset=(60, 900)), RateLimited, 429, 60.0),
    (brave_error("QUOTA_LIMITED", remaining=(5, 0), reset=(1, 86400)), QuotaExhausted, 429, 86400),
    (brave_error("OPTION_NOT_IN_PLAN"), Unauthorized, 400, None),
    (brave_error("VALIDATION"), BadRequest, 422, None),
    (brave_error("INTERNAL", status=500), Unavailable, 500, None),
    (Reply.json({"message": "bad gateway"}, status=502), Unavailable, 502, None),
    (html_page(502), Unavailable, 502, None),
    (html_page(200), Unavailable, 200, None),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("reply", "cls", "status", "retry_after"), ERROR_ROWS)
async def test_each_error_answer_is_mapped(
    reply: Reply, cls: type[ProviderError], status: int, retry_after: float | None
) -> None:
    async with FakeBrave() as brave:
        brave.script(reply)
        provider = provider_for(brave)
        with pytest.raises(ProviderError) as caught:
            await provider.search("cats")
        await provider.aclose()
    assert type(caught.value) is cls
    assert (caught.value.status, caught.value.retry_after) == (status, retry_after)
    assert caught.value.provider == "brave"


@pytest.mark.asyncio
async def test_a_wrong_key_is_unauthorized_on_brave_s_422() -> None:
    async with FakeBrave() as brave:
        provider = provider_for(brave, token="BSA-wrong-key")
        with pytest.raises(Unauthorized, match="422 SUBSCRIPTION_TOKEN_INVALID") as caught:
            await provider.search("cats")
        await provider.aclose()
    assert caught.value.status == 422
    assert "BSA-wrong-key" not in str(caught.value)


@pytest.mark.asyncio
async def test_an_html_page_shows_its_first_bytes() -> None:
    async with FakeBrave() as brave:
        brave.script(html_page(200))
        provider = provider_for(brave)
        with pytest.raises(Unavailable, match=r"HTTP 200 .* not JSON: '<html><head><title>502"):
            await provider.search("cats")
        await provider.aclose()


@pytest.mark.asyncio
async def test_a_connection_reset_mid_body_is_unavailable_and_forgets_the_quota() -> None:
    async with FakeBrave() as brave:
        brave.script(web_results("a"), web_results("b", reset_mid_body=True))
        provider = provider_for(brave)
        await provider.search("a")
        assert provider.quota_report() is not None
        with pytest.raises(Unavailable) as caught:
            await provider.search("b")
        assert isinstance(caught.value.__cause__, httpx.HTTPError)
        assert provider.quota_report() is None
        await provider.aclose()


@pytest.mark.asyncio
async def test_a_slow_first_byte_times_out_on_the_client_s_read_timeout() -> None:
    release = asyncio.Event()
    async with FakeBrave() as brave:
        brave.script(web_results("a", hold=release))
        provider = provider_for(brave, timeout=0.05)
        with pytest.raises(ProviderTimeout) as caught:
            await provider.search("a")
        release.set()
        await provider.aclose()
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


@pytest.mark.asyncio
async def test_an_injected_client_is_used_and_left_open() -> None:
    async with FakeBrave() as brave, httpx.AsyncClient() as client:
        provider = BraveSearchProvider(TOKEN, base_url=brave.base_url, client=client)
        await provider.search("a")
        await provider.aclose()
        assert not client.is_closed
        await provider.search("b")
    assert [r.query["q"] for r in brave.requests] == ["a", "b"]


@pytest.mark.asyncio
async def test_the_health_check_is_a_one_result_query() -> None:
    async with FakeBrave() as brave:
        provider = provider_for(brave, health_query="status check")
        result = await provider.health_check()
        await provider.aclose()
    assert result.healthy
    assert result.error is None
    assert result.provider == "brave"
    assert brave.requests[0].query == {"q": "status check", "count": "1"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "healthy", "error"),
    [
        (brave_error("RATE_LIMITED", remaining=(0, 10)), True, None),
        (brave_error("QUOTA_LIMITED"), False, "QuotaExhausted (HTTP 429)"),
        (brave_error("OPTION_NOT_IN_PLAN"), False, "Unauthorized (HTTP 400)"),
        (html_page(503), False, "Unavailable (HTTP 503)"),
        (web_results(reset_mid_body=True), False, "Unavailable"),
    ],
)
async def test_the_health_check_judges_brave_s_answer(
    reply: Reply, healthy: bool, error: str | None
) -> None:
    async with FakeBrave() as brave:
        brave.script(reply)
        provider = provider_for(brave)
        result = await provider.health_check()
        await provider.aclose()
    assert (result.healthy, result.error) == (healthy, error)


@pytest.mark.asyncio
async def test_the_key_shows_nowhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echoed = brave_error("VALIDATION", detail=f"bad token {TOKEN}")
    async with FakeBrave() as brave:
        brave.script(echoed, html_page(500))
        provider = provider_for(brave)
        texts = [repr(provider), str(vars(provider).get("_quota"))]
        for _ in range(2):
            with pytest.raises(ProviderError) as caught:
                await provider.search("cats")
            texts += [str(caught.value), repr(caught.value)]
        texts.append(str((await provider.health_check()).error))
        await provider.aclose()
    texts += [record.getMessage() for record in caplog.records]
    assert "***" in texts[2]
    assert not [text for text in texts if TOKEN in text]


def test_construction_checks_the_key_and_the_health_query() -> None:
    with pytest.raises(ConfigurationError, match="needs api_key"):
        BraveSearchProvider("  ")
    with pytest.raises(ConfigurationError, match=r"health_query: .*at most 50 words"):
        BraveSearchProvider("key", health_query=" ".join(["w"] * 51))
    for timeout in (0, -1.0, "10", True, float("nan")):
        with pytest.raises(ConfigurationError, match="timeout must be a number of seconds > 0"):
            BraveSearchProvider("key", timeout=timeout)  # type: ignore[arg-type]


def test_repr_shows_name_and_url_but_not_the_key() -> None:
    provider = BraveSearchProvider("secret-key", name="web", base_url="http://127.0.0.1:1/")
    assert repr(provider) == "BraveSearchProvider(name='web', base_url='http://127.0.0.1:1')"


@pytest.mark.asyncio
async def test_an_answer_with_no_web_section_has_no_results() -> None:
    async with FakeBrave() as brave:
        brave.script(Reply.json({"type": "search", "query": {"original": "x"}}))
        provider = provider_for(brave)
        assert (await provider.search("x")).results == ()
        brave.script(web_results("y", [web_result(7, "y")]))
        assert [r.url for r in (await provider.search("y")).results] == ["https://example.com/7"]
        await provider.aclose()
