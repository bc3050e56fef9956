"""Short keys do not garble messages (issue 15): a key shorter than 4 characters is accepted
but not masked by value (docs/reference/secrets.md); where it stands as a credential (a header,
a URL password, a key query parameter) it is still masked."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from failover.provider import Provider
from failover.registry import ProviderRegistry
from failover.secrets import MASK, check_secret, redact
from failover.settings import ProviderSettings

_KEY_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def _unique(length: int) -> str:
    """A key of ``length`` characters that no other test's text holds: registered secrets are
    masked for the rest of the process, so a key of digits or hex would mask a timestamp or an
    id elsewhere."""
    return ("Zq~" + uuid.uuid4().hex)[:length]


def test_a_one_letter_key_leaves_messages_whole() -> None:
    text = "provider 'k' refused: keep the key in the keychain"
    before = redact(text)
    assert check_secret("k", "the variable K_KEY") == "k"
    assert redact(text) == before == text


def test_a_placeholder_key_of_four_or_more_is_masked_even_in_a_url() -> None:
    key = "ol" + uuid.uuid4().hex[:4]  # six characters, as "ollama"
    check_secret(key, "OpenAICompatibleProvider 'local''s api_key")
    assert redact(f"cannot reach http://{key}:11434/v1") == f"cannot reach http://{MASK}:11434/v1"


def test_a_short_key_is_still_masked_where_it_stands_as_a_credential() -> None:
    check_secret("x7q", "the variable SHORT_KEY")
    assert redact("Authorization: Bearer x7q") == f"Authorization: Bearer {MASK}"
    assert redact("GET /v1?key=x7q&q=1") == f"GET /v1?key={MASK}&q=1"
    assert redact("redis://user:x7q@host:6379/0") == f"redis://user:{MASK}@host:6379/0"


def test_a_key_of_four_characters_is_masked_wherever_it_appears() -> None:
    key = _unique(4)
    check_secret(key, "the variable FOUR_KEY")
    assert (
        redact(f"echoed {key} back, and again:{key}.") == f"echoed {MASK} back, and again:{MASK}."
    )


@given(key=st.text(_KEY_CHARS, min_size=1, max_size=3), text=st.text(max_size=40))
def test_registering_a_short_key_changes_no_message(key: str, text: str) -> None:
    message = f"{text} {key} {key}{text}"
    before = redact(message)
    check_secret(key, "the variable ANY_KEY")
    assert redact(message) == before


@settings(max_examples=50)  # each example registers a secret for the rest of the process
@given(suffix=st.text(_KEY_CHARS, min_size=0, max_size=20), around=st.text("ab .:", max_size=8))
def test_a_key_of_four_or_more_never_survives_redaction(suffix: str, around: str) -> None:
    key = _unique(4) + suffix
    check_secret(key, "the variable LONG_KEY")
    assert key not in redact(f"{around}{key}{around}")


def test_a_factory_failing_with_a_one_letter_key_keeps_its_message_whole() -> None:
    registry = ProviderRegistry()

    def unreachable(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        raise ConnectionError(f"cannot reach api.example.com as {settings.name!r}")

    registry.register("short-key-test", unreachable, requires_api_key=True)
    settings = ProviderSettings(name="p", kind="short-key-test", api_key_env="SHORT_KEY")
    problem = registry.build_problem(settings, {"SHORT_KEY": "a"}, at="providers[0]")
    assert not isinstance(problem, Provider)
    assert "ConnectionError: cannot reach api.example.com as 'p'" in problem.expected
    assert MASK not in problem.expected


def test_a_factory_echoing_a_long_key_masks_it() -> None:
    registry = ProviderRegistry()
    key = "sk-" + uuid.uuid4().hex

    def echoing(settings: ProviderSettings, *, api_key: str | None) -> Provider:
        raise ValueError(f"key {api_key} refused")

    registry.register("long-key-test", echoing, requires_api_key=True)
    settings = ProviderSettings(name="p", kind="long-key-test", api_key_env="LONG_KEY")
    problem = registry.build_problem(settings, {"LONG_KEY": key}, at="providers[0]")
    assert not isinstance(problem, Provider)
    assert f"ValueError: key {MASK} refused" in problem.expected
    assert key not in problem.expected
