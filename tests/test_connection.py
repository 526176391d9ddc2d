"""The I/O layer against the embedded server on 127.0.0.1: reconnects, budgets, dedupe."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import ORG, SESSION, TOKEN, messages, refusing_port, session
from sesstail.connection import SessionStream, StreamSettings, backoff_delay
from sesstail.credentials import Token
from sesstail.errors import AuthError, CannotConnect, SessionNotFound
from sesstail.protocol import subscribe_url
from sesstail.secrets import Secret
from sesstail.server import Faults, ServedSession, SessionsServer


def fixed_token(*values: str) -> tuple[Callable[[], Token], list[str]]:
    """A token source that hands out ``values`` in turn (the last one forever) and logs reads."""
    reads: list[str] = []
    queue: Iterator[str] = iter(values)
    last = values[-1]

    def get() -> Token:
        nonlocal last
        last = next(queue, last)
        reads.append(last)
        return Token(Secret(last), "test")

    return get, reads


def settings_for(
    server: SessionsServer, get_token: Callable[[], Token] | None = None, **overrides: Any
) -> StreamSettings:
    defaults: dict[str, Any] = {
        "retries": 3,
        "retry_delay": 0.01,
        "open_timeout": 2.0,
        "close_timeout": 0.5,
    }
    session_id = overrides.pop("session_id", SESSION)
    defaults.update(overrides)
    return StreamSettings(
        url=subscribe_url(server.base_url, session_id, ORG),
        get_token=get_token or fixed_token(TOKEN)[0],
        **defaults,
    )


async def collect(
    settings: StreamSettings, statuses: list[str] | None = None
) -> list[dict[str, Any]]:
    log = statuses if statuses is not None else []
    stream = SessionStream(settings, lambda text, _verbose: log.append(text))
    return [m.obj async for m in stream.messages()]


def uuids(objs: list[dict[str, Any]]) -> list[str]:
    return [o["uuid"] for o in objs if "uuid" in o]


async def test_plays_every_message_in_order_and_ends_on_1000() -> None:
    """A stream closed with 1000 ends cleanly after delivering everything in order."""
    async with SessionsServer([session(5)], speed=0, faults=Faults(end_with_close=True)) as srv:
        got = await collect(settings_for(srv))
    assert uuids(got) == ["m0", "m1", "m2", "m3", "m4"]


async def test_sends_exactly_the_protocol_headers_and_url() -> None:
    """The handshake carries the bearer token, anthropic-version, our User-Agent, the org."""
    async with SessionsServer(
        [session(3)], speed=0, token=TOKEN, org=ORG, faults=Faults(end_with_close=True)
    ) as srv:
        await collect(settings_for(srv))
    headers = {k.lower(): v for k, v in srv.request_headers[0].items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["user-agent"].startswith("sesstail/")
    assert srv.request_paths[0] == f"/v1/sessions/ws/{SESSION}/subscribe?organization_uuid={ORG}"


async def test_session_not_found_then_success() -> None:
    """Two 4001 closes (compaction) are retried, then the stream plays."""
    faults = Faults(connections=2, close_after=0, close_code=4001, end_with_close=True)
    statuses: list[str] = []
    async with SessionsServer([session(4)], speed=0, faults=faults) as srv:
        got = await collect(settings_for(srv), statuses)
    assert uuids(got) == ["m0", "m1", "m2", "m3"]
    assert srv.connection_count == 3
    assert any("session not found" in s and "attempt 2/3" in s for s in statuses)


async def test_session_not_found_forever_is_bounded() -> None:
    """A server that accepts and always closes 4001 gets 1 + 3 attempts, then exit code 4."""
    faults = Faults(connections=None, close_after=0, close_code=4001)
    async with SessionsServer([session(4)], speed=0, faults=faults) as srv:
        with pytest.raises(SessionNotFound) as caught:
            await collect(settings_for(srv))
    assert srv.connection_count == 4
    assert caught.value.exit_code == 4


async def test_unknown_session_is_not_found_at_once() -> None:
    """A 4001 for a session the history endpoint does not know either is exit 4 at once,
    without the retries meant for a session compacting (a mistyped id)."""
    async with SessionsServer([session(4)], speed=0) as srv:
        with pytest.raises(SessionNotFound) as caught:
            await collect(settings_for(srv, session_id="session_01Other"))
    assert srv.connection_count == 1
    assert "does not know it either" in caught.value.message


async def test_replayed_history_does_not_reset_the_budget() -> None:
    """Messages already seen prove nothing: a server that replays then closes 4001 still ends."""
    faults = Faults(connections=None, close_after=2, close_code=4001, replay_history=True)
    async with SessionsServer([session(6)], speed=0, faults=faults) as srv:
        with pytest.raises(SessionNotFound):
            await collect(settings_for(srv))
    # The first connection delivers m0, m1 (fresh: the budget starts over) and its 4001 counts
    # as attempt 1; the second fills the gap from the history with m2…m5 (fresh again); three
    # more connections deliver nothing new, so the fourth 4001 after that ends it.
    assert srv.connection_count == 5


async def test_unauthorized_rereads_credentials_once_then_succeeds() -> None:
    """After a 4003 the token is read again; a refreshed token is used and works."""
    get, reads = fixed_token("stale-token-aaaaaaaa", TOKEN)
    async with SessionsServer(
        [session(3)], speed=0, token=TOKEN, faults=Faults(end_with_close=True)
    ) as srv:
        got = await collect(settings_for(srv, get))
    assert uuids(got) == ["m0", "m1", "m2"]
    assert reads == ["stale-token-aaaaaaaa", TOKEN]


async def test_unauthorized_with_the_same_token_stops_without_reconnecting() -> None:
    """If re-reading yields the same rejected token, give up at once with an auth error."""
    get, reads = fixed_token("stale-token-aaaaaaaa")
    async with SessionsServer([session(3)], speed=0, token=TOKEN) as srv:
        with pytest.raises(AuthError) as caught:
            await collect(settings_for(srv, get))
    assert srv.connection_count == 1
    assert len(reads) == 2
    assert caught.value.exit_code == 3
    assert "stale-token" not in caught.value.message


async def test_unauthorized_twice_is_an_auth_error() -> None:
    """A second 4003 after re-reading a different token ends with exit code 3."""
    get, _ = fixed_token("stale-token-aaaaaaaa", "other-token-bbbbbbbb")
    async with SessionsServer([session(3)], speed=0, token=TOKEN) as srv:
        with pytest.raises(AuthError):
            await collect(settings_for(srv, get))
    assert srv.connection_count == 2


@pytest.mark.parametrize("replay", [True, False])
async def test_drop_mid_stream_loses_nothing_and_repeats_nothing(replay: bool) -> None:
    """A dropped connection reconnects; replayed history is shown once, nothing is lost."""
    faults = Faults(drop_after=3, replay_history=replay, end_with_close=True)
    statuses: list[str] = []
    async with SessionsServer([session(8)], speed=0, faults=faults) as srv:
        got = await collect(settings_for(srv), statuses)
    assert uuids(got) == [f"m{i}" for i in range(8)]
    assert srv.connection_count == 2
    assert "reconnected" in statuses
    assert any(s.startswith("connection lost (no close frame)") for s in statuses)


async def test_transient_close_codes_reconnect() -> None:
    """1002 (session reaped) and 1011 closes are transient: the watch goes on."""
    async with SessionsServer(
        [session(5)],
        speed=0,
        faults=Faults(connections=2, close_after=1, close_code=1002, end_with_close=True),
    ) as srv:
        got = await collect(settings_for(srv))
    assert uuids(got) == [f"m{i}" for i in range(5)]
    assert srv.connection_count == 3


async def test_budget_resets_after_a_connection_proves_stable() -> None:
    """Drops separated by fresh messages never exhaust a budget of one retry."""
    faults = Faults(connections=None, drop_after=1, replay_history=False, end_with_close=True)
    paced = ServedSession.from_objects(SESSION, messages(5), gap=0.15)
    async with SessionsServer([paced], speed=1, faults=faults) as srv:
        got = await collect(settings_for(srv, retries=1))
    assert uuids(got) == [f"m{i}" for i in range(5)]
    assert srv.connection_count >= 3  # two drops or more, with a budget of one retry


async def test_lost_pong_reconnects() -> None:
    """A connection whose pongs stop is given up on and replaced; the stream goes on."""
    faults = Faults(freeze_after=2, end_with_close=True)
    statuses: list[str] = []
    async with SessionsServer([session(5)], speed=0, faults=faults) as srv:
        got = await collect(
            settings_for(srv, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.2), statuses
        )
    assert uuids(got) == [f"m{i}" for i in range(5)]
    assert any("no pong" in s for s in statuses)


async def test_junk_and_multi_message_frames() -> None:
    """Junk frames are skipped with a diagnostic; a frame with two lines gives two messages."""
    junk: list[str | bytes] = [
        "not json",
        b"\x00\x01binary",
        "[1, 2]",
        '{"type": 5}',
        '{"type":"a","uuid":"j1"}\n{"type":"b","uuid":"j2"}\n',
    ]
    statuses: list[str] = []
    async with SessionsServer(
        [session(3)], speed=0, faults=Faults(junk_frames=junk, end_with_close=True)
    ) as srv:
        got = await collect(settings_for(srv), statuses)
    assert uuids(got) == ["j1", "j2", "m0", "m1", "m2"]
    skipped = [s for s in statuses if s.startswith("skipped a frame")]
    assert len(skipped) == 4
    assert any("binary frame" in s for s in skipped)
    assert any("invalid JSON" in s for s in skipped)


async def test_five_megabyte_message_arrives_whole() -> None:
    """Messages far above websockets' 1 MiB default are received intact."""
    big = "x" * (5 * 2**20)
    objs = messages(3)
    objs[1]["message"]["content"][0]["text"] = big
    served = ServedSession.from_objects(SESSION, objs)
    async with SessionsServer([served], speed=0, faults=Faults(end_with_close=True)) as srv:
        got = await collect(settings_for(srv))
    assert got[1]["message"]["content"][0]["text"] == big


async def test_unreachable_gives_up_after_the_retries() -> None:
    """Nothing listening: the first connect is retried, then CannotConnect (exit 5)."""
    statuses: list[str] = []
    with refusing_port() as port:
        dead = SessionsServer([session(3)], port=port)  # never started
        with pytest.raises(CannotConnect) as caught:
            await collect(settings_for(dead, retries=2), statuses)
    assert caught.value.exit_code == 5
    assert [s for s in statuses if "cannot connect" in s][-1].endswith("attempt 2/2")


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthError), (403, AuthError), (404, SessionNotFound)]
)
async def test_rejected_handshake_maps_like_close_codes(status: int, error: type) -> None:
    """HTTP 401/403 on the handshake count as 4003, 404 as 4001."""
    faults = Faults(connections=None, reject_status=status)
    async with SessionsServer([session(3)], faults=faults) as srv:
        with pytest.raises(error):
            await collect(settings_for(srv))


async def test_server_error_on_handshake_is_transient() -> None:
    """HTTP 500 on the handshake is retried like a network failure."""
    faults = Faults(connections=1, reject_status=500, end_with_close=True)
    async with SessionsServer([session(3)], speed=0, faults=faults) as srv:
        got = await collect(settings_for(srv))
    assert uuids(got) == ["m0", "m1", "m2"]


async def test_send_reaches_the_server_and_its_answer_comes_back() -> None:
    """A control request sent on the stream is answered on the same stream."""
    async with SessionsServer([session(2)], speed=0) as srv:
        stream = SessionStream(settings_for(srv), lambda _t, _v: None)
        request = {
            "type": "control_request",
            "request_id": "r1",
            "request": {"subtype": "interrupt"},
        }
        answer: dict[str, Any] | None = None
        async for msg in stream.messages():
            if msg.obj["type"] == "result":
                await stream.send(request)
            if msg.obj["type"] == "control_response":
                answer = msg.obj
                break
    assert srv.received == [request]
    assert answer == {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": "r1"},
    }
    assert json.loads(json.dumps(answer)) == answer


def test_backoff_grows_and_is_capped() -> None:
    """Delays double from the first delay, stay within ±20 % jitter and never pass the cap."""
    for attempt in range(1, 12):
        delay = backoff_delay(attempt, 1.0, 30.0)
        base = min(30.0, 2 ** (attempt - 1))
        assert 0.8 * base <= delay <= min(30.0, 1.2 * base)
