"""Both API generations against the embedded server on 127.0.0.1: the v2 event stream (resume
by sequence number, source rules, catch-up truncation, liveness), the v1 gap fill, and auto."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conftest import ORG, SESSION, TOKEN, messages, sent, session
from sesstail.cli import app
from sesstail.credentials import Token
from sesstail.errors import ExitCode, SessionNotFound
from sesstail.protocol import subscribe_url
from sesstail.secrets import Secret
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread
from sesstail.transport.stream import SessionStream, StreamSettings


def settings_for(server: SessionsServer, api: str, **overrides: Any) -> StreamSettings:
    session_id = overrides.pop("session_id", SESSION)
    defaults: dict[str, Any] = {"retries": 3, "retry_delay": 0.01, "open_timeout": 2.0}
    defaults.update(overrides)
    return StreamSettings(
        url=subscribe_url(server.base_url, session_id, ORG),
        get_token=lambda: Token(Secret(TOKEN), "test"),
        api=api,
        env={},
        **defaults,
    )


async def collect(
    server: SessionsServer, api: str, statuses: list[str] | None = None, **overrides: Any
) -> tuple[list[dict[str, Any]], SessionStream]:
    log = statuses if statuses is not None else []
    stream = SessionStream(settings_for(server, api, **overrides), lambda t, _v: log.append(t))
    return [m.obj async for m in stream.messages()], stream


def uuids(objs: list[dict[str, Any]]) -> list[str]:
    return [o["uuid"] for o in objs if "uuid" in o]


def stream_paths(server: SessionsServer) -> list[str]:
    return [p for p in server.request_paths if "/events/stream" in p]


def paced(count: int, gap: float = 0.05) -> ServedSession:
    return ServedSession.from_objects(SESSION, messages(count), gap=gap)


# -- the v2 stream -------------------------------------------------------------------------------


async def test_v2_plays_every_message_once_in_order() -> None:
    """v2: the stream delivers the session in order; the watch ends when the session does."""
    async with SessionsServer([session(5)], speed=0, faults=Faults(end_with_close=True)) as srv:
        got, stream = await collect(srv, "v2")
    assert uuids(got) == [f"m{i}" for i in range(5)]
    assert stream.api == "v2"
    # It asked for the newest sequence number first, then resumed right after it.
    assert any("sort_order=desc" in p and "limit=1" in p for p in srv.request_paths)
    assert stream_paths(srv) == [f"/v1/code/sessions/{SESSION}/events/stream?from_sequence_num=0"]


async def test_v2_starts_at_the_live_end_not_with_the_replay() -> None:
    """What the session said before the watch began is not shown as if it were new (the
    server replays everything to a stream opened without a sequence number)."""
    async with SessionsServer([session(6)], speed=0, faults=Faults(end_with_close=True)) as srv:
        srv.play_ahead(SESSION, 4)
        got, _ = await collect(srv, "v2")
    assert uuids(got) == ["m4", "m5"]
    assert stream_paths(srv)[0].endswith("from_sequence_num=4")


async def test_v2_resume_after_a_drop_loses_nothing_and_repeats_nothing() -> None:
    """The stream drops while the session goes on talking: the reconnect resumes after the
    last sequence number delivered (query and Last-Event-ID), every message once, in order."""
    faults = Faults(connections=1, drop_after=3, end_with_close=True)
    statuses: list[str] = []
    async with SessionsServer([paced(12)], speed=1, faults=faults) as srv:
        got, _ = await collect(srv, "v2", statuses)
    assert uuids(got) == [f"m{i}" for i in range(12)]
    paths = stream_paths(srv)
    assert len(paths) == 2
    assert paths[1].endswith("from_sequence_num=3")
    headers = [
        h for p, h in zip(srv.request_paths, srv.request_headers, strict=True) if p == paths[1]
    ]
    assert {k.lower(): v for k, v in headers[0].items()}["last-event-id"] == "3"
    assert "reconnected" in statuses


async def test_v2_ephemeral_events_are_passed_on_but_never_counted() -> None:
    """Deltas arrive live and are shown, but the resume point counts durable events only."""
    objs = messages(4)
    delta = {"type": "stream_event", "event": {"type": "content_block_delta"}}
    served = ServedSession.from_objects(SESSION, [objs[0], delta, objs[1], delta, *objs[2:]])
    faults = Faults(connections=1, drop_after=4, end_with_close=True)
    async with SessionsServer([served], speed=0, faults=faults) as srv:
        got, _ = await collect(srv, "v2")
    assert [o["type"] for o in got[:4]] == ["system", "stream_event", "assistant", "stream_event"]
    assert uuids(got) == ["m0", "m1", "m2", "m3"]
    # Four frames were delivered before the drop, two of them durable.
    assert stream_paths(srv)[1].endswith("from_sequence_num=2")


async def test_v2_source_rules_only_the_worker_speaks() -> None:
    """From another source only prompts and env_manager_log pass; tool results, replies and
    control answers from elsewhere are dropped; pending_* fields leave a control_response."""
    foreign = [
        {"type": "user", "uuid": "f-prompt", "message": {"role": "user", "content": "hi"}},
        {
            "type": "user",
            "uuid": "f-result",
            "message": {"content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
        },
        {"type": "assistant", "uuid": "f-reply", "message": {"content": []}},
        {"type": "env_manager_log", "uuid": "f-log", "data": {"content": "setting up"}},
        {
            "type": "control_response",
            "uuid": "f-answer",
            "response": {"subtype": "success", "request_id": "r1"},
        },
    ]
    worker_answer = {
        "type": "control_response",
        "uuid": "w-answer",
        "pending_permission_requests": [{"request_id": "r9"}],
        "response": {
            "subtype": "success",
            "request_id": "r2",
            "pending_user_dialog_requests": [],
        },
    }
    served = ServedSession.from_objects(SESSION, [*foreign, worker_answer, messages(1)[0]])
    faults = Faults(
        end_with_close=True, non_worker_uuids=frozenset(str(o["uuid"]) for o in foreign)
    )
    async with SessionsServer([served], speed=0, faults=faults) as srv:
        got, _ = await collect(srv, "v2")
    assert uuids(got) == ["f-prompt", "f-log", "w-answer", "m0"]
    answer = got[2]
    assert "pending_permission_requests" not in answer
    assert answer["response"] == {"subtype": "success", "request_id": "r2"}


async def test_v2_catch_up_truncation_is_reported_as_a_gap() -> None:
    """A resume the server cannot serve whole says catch_up_truncated: the gap is reported
    on stderr, and the stream goes on after it."""
    faults = Faults(connections=1, drop_after=2, truncate_catch_up=2, end_with_close=True)
    statuses: list[str] = []
    async with SessionsServer([session(8)], speed=0, faults=faults) as srv:
        got, _ = await collect(srv, "v2", statuses)
    assert uuids(got) == ["m0", "m1", "m4", "m5", "m6", "m7"]
    assert any("some messages are missing (a gap)" in s for s in statuses)


async def test_v2_silence_past_the_liveness_timeout_reconnects() -> None:
    """No bytes at all (no event, no keepalive comment) for the liveness time: the
    connection is dropped and a new one resumes where it was."""
    import asyncio

    statuses: list[str] = []
    async with SessionsServer([session(2)], speed=0, sse_keepalive=30) as srv:
        stream = SessionStream(
            settings_for(srv, "v2", liveness=0.3), lambda t, _v: statuses.append(t)
        )
        seen: list[str] = []

        async def read() -> None:
            # One by one: the reader is cancelled, and what it saw by then must be kept.
            async for msg in stream.messages():
                seen.append(msg.obj["uuid"])  # noqa: PERF401

        task = asyncio.ensure_future(read())
        try:
            await _until(lambda: len(stream_paths(srv)) >= 2, 5)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert seen == ["m0", "m1"]
    assert any(s.startswith("connection lost (no data for 0.3 s)") for s in statuses)
    assert stream_paths(srv)[1].endswith("from_sequence_num=2")


async def test_v2_keepalive_comments_keep_a_quiet_stream_alive() -> None:
    """A quiet stream whose server sends ':' comments is not dropped."""
    import asyncio

    statuses: list[str] = []
    async with SessionsServer([session(2)], speed=0, sse_keepalive=0.1) as srv:
        stream = SessionStream(
            settings_for(srv, "v2", liveness=0.5), lambda t, _v: statuses.append(t)
        )

        async def read() -> None:
            async for _ in stream.messages():
                pass

        task = asyncio.ensure_future(read())
        await asyncio.sleep(1.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(stream_paths(srv)) == 1
    assert not any("no data" in s for s in statuses)


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_a_machine_that_slept_reconnects_at_once_and_loses_nothing(api: str) -> None:
    """The wall clock jumps ahead of the monotonic one (a laptop lid closed and opened): the
    socket is presumed dead, dropped, and a new one picks up where the old one was."""
    import time

    statuses: list[str] = []
    async with SessionsServer(
        [paced(12, gap=0.05)], speed=1, faults=Faults(end_with_close=True)
    ) as srv:
        stream = SessionStream(
            settings_for(srv, api, retry_delay=0.3), lambda t, _v: statuses.append(t)
        )
        stream.sleep_poll_s = 0.05
        slept = 0.0
        stream.wall_clock = lambda: time.time() + slept
        got: list[dict[str, Any]] = []
        async for msg in stream.messages():
            got.append(msg.obj)
            if len(got) == 3:
                slept = 60.0  # as if the machine slept a minute
    assert uuids(got) == [f"m{i}" for i in range(12)]
    assert "the computer slept: reconnecting at once" in statuses
    assert stream.connections == 2


async def _until(check: Callable[[], bool], within: float) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_v2_unknown_session_is_not_found_at_once() -> None:
    """v2: a 404 is final: exit 4 without opening a stream or retrying."""
    async with SessionsServer([session(2)], speed=0) as srv:
        with pytest.raises(SessionNotFound):
            await collect(srv, "v2", session_id="session_01Nobody")
    assert stream_paths(srv) == []


# -- auto ----------------------------------------------------------------------------------------


async def test_auto_speaks_v1_to_a_server_without_v2() -> None:
    """auto: the v2 routes answer 404, so the stream is v1's; -v says which."""
    statuses: list[str] = []
    async with SessionsServer(
        [session(4)], speed=0, apis=("v1",), faults=Faults(end_with_close=True)
    ) as srv:
        got, stream = await collect(srv, "auto", statuses)
    assert uuids(got) == [f"m{i}" for i in range(4)]
    assert stream.api == "v1"
    assert any(s.startswith("speaking the v1 API") for s in statuses)


async def test_auto_speaks_v2_where_it_is_served() -> None:
    """auto: v2 first, and it is there."""
    statuses: list[str] = []
    async with SessionsServer([session(3)], speed=0, faults=Faults(end_with_close=True)) as srv:
        got, stream = await collect(srv, "auto", statuses)
    assert uuids(got) == ["m0", "m1", "m2"]
    assert stream.api == "v2"
    assert "speaking the v2 API" in statuses
    assert srv.connection_count == 1


@pytest.mark.parametrize("status", [503, 429])
async def test_auto_takes_a_busy_v2_for_busy_not_for_absent(status: int) -> None:
    """auto: a 5xx or 429 from the v2 probe is retried as usual, never read as "no v2 here"
    (PROTOCOL §9): the session is then spoken over v2."""
    statuses: list[str] = []
    async with SessionsServer([session(3)], speed=0, faults=Faults(end_with_close=True)) as srv:
        srv.rest.faults.statuses = [status]
        got, stream = await collect(srv, "auto", statuses)
    assert uuids(got) == ["m0", "m1", "m2"]
    assert stream.api == "v2"
    assert not any(p.startswith("/v1/sessions/") for p in srv.request_paths)


@pytest.mark.parametrize("apis", [("v1",), ("v1", "v2")])
async def test_auto_session_unknown_on_both_is_not_found_at_once(apis: tuple[str, ...]) -> None:
    """auto: v2 does not know it, and neither does v1's REST lookup: exit 4, no socket."""
    async with SessionsServer([session(2)], speed=0, apis=apis) as srv:
        with pytest.raises(SessionNotFound) as caught:
            await collect(srv, "auto", session_id="session_01Nobody")
    assert caught.value.exit_code == ExitCode.NOT_FOUND
    assert srv.connection_count == 0


# -- v1: live-only, and the gap after a reconnect ------------------------------------------------


async def test_v1_gap_fill_shows_what_was_said_while_reconnecting() -> None:
    """The v1 socket is live-only: the session talks on while we reconnect, and what it said
    meanwhile is fetched from the history and shown, in order, once, before the live ones."""
    faults = Faults(connections=1, drop_after=2, end_with_close=True)
    async with SessionsServer([paced(10, gap=0.05)], speed=1, faults=faults) as srv:
        got, _ = await collect(srv, "v1", retry_delay=0.3)
    assert uuids(got) == [f"m{i}" for i in range(10)]
    assert any("after_id=m1" in p for p in srv.request_paths)


async def test_v1_gap_fill_after_a_quiet_start_shows_what_was_said_while_reconnecting() -> None:
    """A watch attached to a quiet session has shown nothing when the connection drops; the
    session then talks while we reconnect. What it said is fetched and shown, from where the
    history stood after attaching (not where it stands at the reconnect: that would already
    hold the gap, and lose it without a word); nothing said before attaching is shown."""
    served = paced(8, gap=0.05)
    served.gaps[2] = 1.6  # quiet for a while after the watch attaches (the history: m0, m1)
    faults = Faults(connections=1, drop_after=0, end_with_close=True)
    statuses: list[str] = []
    async with SessionsServer([served], speed=1, faults=faults) as srv:
        srv.play_ahead(SESSION, 2)
        got, _ = await collect(srv, "v1", statuses, retry_delay=0.3)
    assert uuids(got) == [f"m{i}" for i in range(2, 8)]
    assert any("after_id=m1" in p for p in srv.request_paths)
    assert not any("may be missing" in s for s in statuses)


async def test_v1_gap_that_cannot_be_closed_is_said_on_stderr() -> None:
    """The history cannot be read after a reconnect: a status line says messages may be
    missing, and the watch goes on."""
    faults = Faults(connections=1, drop_after=2, end_with_close=True)
    statuses: list[str] = []
    async with SessionsServer([paced(6, gap=0.05)], speed=1, faults=faults) as srv:
        srv.rest.faults.statuses = [500, 500, 500, 500]
        got, _ = await collect(srv, "v1", statuses, retry_delay=0.3)
    assert uuids(got)[:2] == ["m0", "m1"]
    assert any("may be missing" in s for s in statuses)


def test_v1_wait_until_result_needs_no_history_endpoint() -> None:
    """v1 is live-only: everything after subscribing is new, so wait --until result reads no
    history to tell old from new, and works where the history endpoint is broken."""
    with server_thread(SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)) as srv:
        srv.rest.faults.statuses = [500] * 20
        result = sesstail(
            srv, "wait", SESSION, "--until", "result", "--json", "--timeout", "10", "--api", "v1"
        )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["uuid"] == "m3"
    assert not any("/events" in p for p in srv.request_paths), srv.request_paths


# -- commands over v2 ----------------------------------------------------------------------------


def sesstail(srv: SessionsServer, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        [*args, "--base-url", srv.base_url, "--org", ORG],
        env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
    )


def test_interrupt_over_v2_posts_the_request_and_reads_the_answer_on_the_stream() -> None:
    """interrupt --api v2: a POSTed control_request (with a uuid of its own); its answer
    comes on the event stream; one line, exit 0."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        result = sesstail(srv, "interrupt", SESSION, "--api", "v2")
        posted = list(srv.received)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"interrupted {SESSION}\n"
    (frame,) = posted
    assert frame["type"] == "control_request"
    assert frame["request"] == {"subtype": "interrupt"}
    assert isinstance(frame["uuid"], str)
    assert any(
        p.startswith(f"/v1/code/sessions/{SESSION}/events/stream") for p in srv.request_paths
    )


@pytest.mark.parametrize(
    "args",
    [["send", "hello"], ["interrupt"], ["allow", "perm_x"], ["set-model", "opus"]],
    ids=["send", "interrupt", "allow", "set-model"],
)
def test_a_post_to_a_session_that_is_not_running_says_so_with_exit_8(args: list[str]) -> None:
    """409 session_not_active gets its own message and exit code, for a prompt, a control
    request or a prompt's answer alike."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        srv.rest.faults.not_active = True
        result = sesstail(srv, args[0], SESSION, *args[1:], "--api", "v2")
    assert result.exit_code == ExitCode.NOT_ACTIVE
    assert "is not running (HTTP 409: session_not_active)" in result.stderr


def test_send_over_v2_retried_after_a_dropped_answer_is_delivered_once() -> None:
    """The POST's answer is lost: the retry carries the same uuid, the session takes it once."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        srv.rest.faults.drop_post_answers = 1
        result = sesstail(srv, "send", SESSION, "once please", "--api", "v2")
        posted = list(srv.rest.posted)
        tries = [p for p in srv.request_paths if p == f"/v1/code/sessions/{SESSION}/events"]
    assert result.exit_code == 0, result.stderr
    assert len(tries) == 2
    assert [p["uuid"] for p in posted] == [result.stdout.strip()]


def test_allow_over_v2_on_an_unknown_session_is_exit_4() -> None:
    """allow on a session that does not exist is not found (exit 4), never 'allowed'."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        result = sesstail(srv, "allow", "session_01Nobody", "perm_x", "--api", "v2")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "allowed" not in result.stdout


@pytest.mark.parametrize("api", ["v1", "v2", "auto"])
@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["set-model", SESSION, "opus"], f"model of {SESSION} set to opus\n"),
        (["set-permission-mode", SESSION, "plan"], f"permission mode of {SESSION} set to plan\n"),
        (["control", SESSION, "get_settings"], "get_settings: ok"),
    ],
)
def test_control_commands_answer_alike_on_every_api(api: str, args: list[str], expect: str) -> None:
    """The same command, the same output and exit code, whichever API carries it."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        result = sesstail(srv, *args, "--api", api)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(expect)


@pytest.mark.parametrize("api", ["v1", "v2", "auto"])
def test_send_watch_wait_and_history_work_alike_on_every_api(api: str) -> None:
    """send --watch shows the turn to its result; history then holds the prompt; wait
    --until result after a send sees the next result: on v1, v2 and auto alike."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        srv.play_ahead(SESSION)
        watched = sesstail(srv, "send", SESSION, "hi", "--watch", "--json", "--api", api)
        history = sesstail(srv, "history", SESSION, "--json", "--api", api)
    assert watched.exit_code == 0, watched.stderr
    turn = [json.loads(line) for line in watched.stdout.splitlines()]
    assert [o["type"] for o in turn] == ["user", "assistant", "result"]
    assert history.exit_code == 0, history.stderr
    said = [json.loads(line) for line in history.stdout.splitlines()]
    assert [o["type"] for o in said][-3:] == ["user", "assistant", "result"]
    assert sent(srv) == []  # no control frame was needed for any of it


@pytest.mark.parametrize(
    ("api", "replaying"),
    [("v1", False), ("v2", False), ("v1", True)],
    ids=["v1", "v2", "v1-service-replaying-history-on-attach"],
)
def test_watch_history_until_result_ends_on_the_next_live_result(api: str, replaying: bool) -> None:
    """watch -n 5 --until result on a session whose last turn ended before: the result in
    the history does not end it; the next turn's result does, once (issue: it could hang).
    Also with a v1 service that replays the whole history to each new connection: the old
    result, in the backfill and replayed live, does not end it either, and the live copy
    of a result drawn as history does not hide the next one."""
    import os
    import subprocess
    import sys
    import time

    faults = Faults(connections=None, replay_history=True) if replaying else None
    server = SessionsServer([session(6)], speed=0, token=TOKEN, org=ORG, faults=faults)
    with server_thread(server) as srv:
        srv.play_ahead(SESSION)
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "sesstail", "watch", SESSION, "-n", "5", "--json"),
                *("--until", "result", "--api", api, "--base-url", srv.base_url, "--org", ORG),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        time.sleep(1.5)
        assert proc.poll() is None, "the result in the history ended the watch"
        posted = sesstail(srv, "send", SESSION, "one more", "--api", api)
        try:
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert posted.exit_code == 0, posted.stderr
    assert proc.returncode == 0, err
    shown = [json.loads(line) for line in out.splitlines()]
    assert [o["type"] for o in shown].count("result") == 2  # the old one (history), the new
    assert shown[-1]["type"] == "result"
    assert "You said: one more" in shown[-1]["result"]


def test_allow_over_v2_warns_when_the_request_id_is_not_a_pending_prompt() -> None:
    """v2 keeps prompts in the history: allow says so when the id is none of them, or was
    answered already; a pending one is answered without a word of doubt."""
    from test_control import PROMPT_ID, prompt_session

    with server_thread(SessionsServer([prompt_session()], speed=0, token=TOKEN, org=ORG)) as srv:
        blocked = sesstail(srv, "wait", SESSION, "--until", "blocked", "--timeout", "5")
        assert blocked.exit_code == 0, blocked.stderr
        typo = sesstail(srv, "allow", SESSION, "perm_typo", "--api", "v2")
        right = sesstail(srv, "allow", SESSION, PROMPT_ID, "--api", "v2")
        again = sesstail(srv, "allow", SESSION, PROMPT_ID, "--api", "v2")
    assert typo.exit_code == right.exit_code == again.exit_code == 0
    assert "warning: perm_typo is not among the session's recent permission prompts" in (
        typo.stderr
    )
    assert "warning" not in right.stderr
    assert f"warning: prompt {PROMPT_ID} was already answered or withdrawn" in again.stderr
