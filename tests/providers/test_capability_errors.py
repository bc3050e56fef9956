"""A capability a provider lacks is named as such, not a bare AttributeError."""

from __future__ import annotations

import pytest

from providers import BraveSearchProvider, GeminiProvider, OpenAICompatibleProvider

pytestmark = pytest.mark.asyncio

KEY = "k" * 32


@pytest.mark.parametrize("method", ["generate", "stream"])
async def test_brave_names_what_it_serves_and_where_to_go(method: str) -> None:
    brave = BraveSearchProvider(api_key=KEY)
    try:
        with pytest.raises(AttributeError) as caught:
            getattr(brave, method)
        message = str(caught.value)
        assert f"has no {method}()" in message
        assert "it serves search" in message
        assert "GeminiProvider" in message
        assert KEY not in message
        assert getattr(brave, method, None) is None  # capability detection is unchanged
    finally:
        await brave.aclose()


async def test_llm_providers_name_search_as_missing() -> None:
    for provider in (
        GeminiProvider(api_key=KEY),
        OpenAICompatibleProvider("http://127.0.0.1:9/v1", api_key=KEY, model="m"),
    ):
        try:
            with pytest.raises(AttributeError, match=r"serves generate, stream; search with"):
                provider.search  # noqa: B018
            assert getattr(provider, "search", None) is None
        finally:
            await provider.aclose()


async def test_other_missing_attributes_stay_plain() -> None:
    brave = BraveSearchProvider(api_key=KEY)
    try:
        with pytest.raises(AttributeError, match=r"has no attribute 'nope'"):
            brave.nope  # noqa: B018
    finally:
        await brave.aclose()
