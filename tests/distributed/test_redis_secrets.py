"""RedisStorage's edges against a real redis-server: a URL's password never shows (repr, errors
and their causes, the outage warning, events, status), a malformed URL is a ConfigurationError,
and garbage on the updates channel is ignored rather than an outage.

The password is a real one: each test adds an ACL user with it to the shared server (the
default user stays open for the other tests). Each test uses its own password, registered by
nothing before the storage is built, so that the masking seen is the storage's own.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from hypothesis import example, given, settings
from hypothesis import strategies as st

from failover import ConfigurationError, ManualClock, status_to_json
from failover._coordinator.coordinator import Coordinator
from failover._distributed.redis_feed import decode_update
from failover.health import HealthCheckConfig
from failover.redis_storage import RedisStorage
from failover.storage import StateUpdate, StorageUnavailable
from failover.testing import ScriptedProvider
from statemachines import BreakerState, FailoverEvent, FailoverReason
from tests.distributed.conftest import RedisServer, free_port
from tests.distributed.support import eventually

S = BreakerState
DEGRADED = FailoverReason.STORAGE_DEGRADED


def fresh_password() -> str:
    """A password no earlier test registered (masking is process-wide)."""
    return f"pw-{uuid.uuid4().hex}-Redis"


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, each once."""
    seen: set[int] = set()
    current: list[BaseException] = [exc]
    while current:
        e = current.pop()
        if id(e) not in seen:
            seen.add(id(e))
            yield e
            current += [c for c in (e.__cause__, e.__context__) if c is not None]


def shown(exc: BaseException) -> str:
    """Everything an exception shows: its traceback (causes included), each link's str, repr."""
    texts = ["".join(traceback.format_exception(exc))]
    texts += [f"{e}\n{e!r}\n{e.args!r}" for e in chain(exc)]
    return "\n".join(texts)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) + repr(vars(r)) for r in caplog.records)


@pytest_asyncio.fixture
async def user(redis_server: RedisServer) -> AsyncIterator[tuple[str, str]]:
    """(URL with a password, password) of a fresh ACL user of the shared server."""
    name, password = f"u{uuid.uuid4().hex[:8]}", fresh_password()
    admin = aioredis.Redis.from_url(redis_server.url)
    await admin.execute_command("ACL", "SETUSER", name, "on", f">{password}", "~*", "&*", "+@all")
    yield f"redis://{name}:{password}@127.0.0.1:{redis_server.port}/0", password
    await admin.execute_command("ACL", "DELUSER", name)
    await admin.aclose()


def process(storage: RedisStorage, heard: list[FailoverEvent]) -> Coordinator:
    return Coordinator(
        [ScriptedProvider("p", lambda request: "ok")],
        clock=ManualClock(),
        hooks=(heard.append,),
        health=HealthCheckConfig(enabled=False),
        storage=storage,
    )


# --- the password ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_password_in_the_url_works_and_never_shows(user: tuple[str, str]) -> None:
    url, password = user
    storage = RedisStorage(url, prefix=f"s{uuid.uuid4().hex[:6]}")
    try:
        await storage.connect()  # authenticated with it
        assert await storage.load("p") is None
        assert password not in repr(storage)
        assert "***" in repr(storage)
    finally:
        await storage.aclose()


@pytest.mark.asyncio
async def test_a_wrong_password_is_unavailable_without_it(redis_server: RedisServer) -> None:
    password = fresh_password()
    storage = RedisStorage(f"redis://nobody:{password}@127.0.0.1:{redis_server.port}/0")
    with pytest.raises(StorageUnavailable) as raised:
        await storage.connect()
    await storage.aclose()
    assert "AuthenticationError" in str(raised.value)
    assert password not in shown(raised.value)


@pytest.mark.asyncio
async def test_an_unreachable_server_shows_no_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = fresh_password()
    url = f"redis://u:{password}@127.0.0.1:{free_port()}/0"
    storage = RedisStorage(url, timeout=0.2)
    heard: list[FailoverEvent] = []
    coordinator = process(storage, heard)
    texts: list[str] = []
    async with coordinator:
        coordinator.breaker("p").force_open()
        try:
            await coordinator.generate("hi")
        except Exception as exc:  # AllProvidersUnavailable: FORCED_OPEN
            texts.append(shown(exc))
        texts += [repr(e) for e in await coordinator.events("p")]
        texts += [status_to_json(coordinator.status()), repr(coordinator.status())]
    with pytest.raises(StorageUnavailable) as raised:
        await storage.connect()
    texts += [shown(raised.value), repr(storage), repr(coordinator), *map(repr, heard)]
    outage = [r for r in caplog.records if "unavailable (" in r.getMessage()]
    assert [r.levelno for r in outage] == [logging.WARNING, logging.WARNING]  # outage, events
    assert "redis://u:***@127.0.0.1" in outage[0].getMessage()
    assert [e.reason for e in heard if e.reason is DEGRADED] == [DEGRADED]
    haystack = "\n".join([*texts, logged(caplog)])
    assert "ConnectionError" in haystack
    assert password not in haystack


@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "redis://:{pw}@host:notaport",
        "redis://:{pw}@host:99999/0",
        "http://u:{pw}@host:6379/0",
        "redis://u:{pw}@host:6379/0?socket_timeout=soon",
    ],
)
def test_a_malformed_url_is_a_configuration_error_without_its_password(url: str) -> None:
    password = fresh_password()
    with pytest.raises(ConfigurationError) as raised:
        RedisStorage(url.format(pw=password))
    message = str(raised.value)
    assert message.startswith("not a Redis URL: ")
    assert "expected redis://" in message
    assert password not in shown(raised.value)
    assert raised.value.__context__ is None
    assert raised.value.__cause__ is None


def test_a_password_with_a_control_character_is_refused_unshown() -> None:
    password = fresh_password()
    with pytest.raises(ConfigurationError, match="control character") as raised:
        RedisStorage(f"redis://u:{password}%0A{password}@127.0.0.1:6379/0")
    assert password not in shown(raised.value)


def test_a_client_given_is_shown_without_its_password() -> None:
    password = fresh_password()
    client = aioredis.Redis(host="127.0.0.1", port=free_port(), password=password)
    storage = RedisStorage(client)
    assert password not in repr(storage) + storage.url
    assert "<RedisStorage <redis.asyncio.client.Redis(" in repr(storage)


# --- the updates channel --------------------------------------------------------------------------

CANARY = "canary-7e1f"
GARBAGE = [
    f"not json: {CANARY}".encode(),
    b"\xff\xfe\x00",
    b"[]",
    b"null",
    b'{"p": "p"}',
    b'{"p":"p","s":"open","g":1e400,"q":1,"o":1,"r":"","d":-1,"src":"x","op":""}',
    b'{"p":"p","s":"open","g":' + b"9" * 5000 + b',"q":1,"o":1,"r":"","d":-1,"src":"x"}',
    b'{"p":"p","s":"open","g":true,"q":1,"o":1,"r":"","d":-1,"src":"x"}',
    b'{"p":"p","s":["open"],"g":1,"q":1,"o":1,"r":"","d":-1,"src":"x"}',
    b"[" * 100_000,
]


@pytest.mark.asyncio
async def test_garbage_on_the_updates_channel_is_ignored(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="failover")
    prefix = f"g{uuid.uuid4().hex[:8]}"
    heard: list[FailoverEvent] = []
    a = process(RedisStorage(redis_server.url, prefix=prefix), heard)
    b = process(RedisStorage(redis_server.url, prefix=prefix), [])
    admin = aioredis.Redis.from_url(redis_server.url)
    async with a, b:
        for message in GARBAGE:
            await admin.publish(f"{prefix}:updates", message)
        b.breaker("p").force_open()  # published after the garbage: heard after it
        await eventually(lambda: a.breaker("p").state is S.FORCED_OPEN, what="A adopts B's")
        replica = a._replica
        assert replica is not None
        assert not replica.degraded
        assert [e for e in heard if e.reason is DEGRADED] == []
    await admin.aclose()
    said = [r for r in caplog.records if "malformed message" in r.getMessage()]
    levels = [r.levelno for r in said]
    assert levels.count(logging.WARNING) == 2  # once per process (subscription)
    assert levels.count(logging.DEBUG) == 2 * (len(GARBAGE) - 1)  # then at DEBUG
    assert all(CANARY not in r.getMessage() for r in said)  # never the message's text


VALID = {"p": "p", "s": "open", "g": 3, "q": 4, "o": 1, "r": "manual", "d": 1500, "src": "x"}


def test_a_valid_update_decodes() -> None:
    update = decode_update(json.dumps({**VALID, "op": "12:a"}))
    assert isinstance(update, StateUpdate)
    assert (update.provider, update.origin) == ("p", "x")
    state = update.state
    assert (state.state, state.generation, state.seq, state.openings) == ("open", 3, 4, 1)
    assert (state.reason, state.remaining, state.operator) == ("manual", 1.5, "12:a")
    assert decode_update(json.dumps({**VALID, "d": -1, "r": ""})).state.remaining is None
    assert decode_update(json.dumps({**VALID, "g": 1e14})).state.generation == 10**14


HUGE = st.sampled_from([10**400, -(10**400), 2**1024])  # past a float: json reads them as int
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | HUGE | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)


@settings(deadline=None)
@example(field="g", value=10**400, raw=b"")  # json reads it as an int no float can hold
@given(
    field=st.sampled_from(sorted(VALID)),
    value=JSON,
    raw=st.binary(max_size=64),
)
def test_any_message_decodes_or_raises_value_error(field: str, value: object, raw: bytes) -> None:
    for message in (json.dumps({**VALID, field: value}), raw):
        try:
            update = decode_update(message)
        except ValueError:
            continue
        assert isinstance(update, StateUpdate)
        assert update.state.generation >= 0
        assert update.state.seq >= 0
        assert update.state.remaining is None or 0 <= update.state.remaining <= 86_400
