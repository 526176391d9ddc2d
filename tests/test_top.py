"""sesstail top, headless: Textual's pilot against a real embedded server with sessions that
wait for a permission prompt, keep running, and sit idle."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import RichLog, Static

from conftest import ORG, TOKEN, messages
from sesstail.credentials import Token
from sesstail.errors import UsageError
from sesstail.notify import Notification, Notifier
from sesstail.protocol import Message
from sesstail.secrets import Secret
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.top.app import PromptScreen, TopApp, WatchScreen
from sesstail.top.follow import Follower, Transport
from sesstail.top.jsonl import follow_as_json
from sesstail.top.model import Board
from sesstail.top.run import parse_statuses, require_terminal, run_top
from sesstail.top.table import SessionTable
from sesstail.top.wiring import v1_transport
from test_notify import Recorder

WAITING = "session_01TopWaiting"
BUSY = "session_01TopBusy"
DONE = "session_01TopDone"
HOSTILE = "session_01TopHostile"
PROMPT_ID = "perm_top_1"
LONG_COMMAND = "\n".join(f"echo line {n}" for n in range(1, 301))


def prompt_session() -> ServedSession:
    """init, a Bash call that needs permission, its result, a reply, a result with a cost."""
    init, reply, result = messages(3, WAITING, prefix="w")
    init["model"] = "claude-sonnet-4-5"
    result["total_cost_usd"] = 0.25
    call = {
        "type": "assistant",
        "uuid": "w-call",
        "session_id": WAITING,
        "message": {
            "id": "msg_call",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
            ],
        },
    }
    prompt = {
        "type": "control_request",
        "request_id": PROMPT_ID,
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "Bash",
            "input": {"command": LONG_COMMAND, "description": "Print 300 lines"},
            "tool_use_id": "toolu_1",
            "decision_reason": "Command is not in the allow list",
        },
    }
    tool_result = {
        "type": "user",
        "uuid": "w-tool-result",
        "session_id": WAITING,
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}],
        },
    }
    served = ServedSession.from_objects(WAITING, [init, call, prompt, tool_result, reply, result])
    served.title = "Fix the flaky date test"
    return served


def busy_session() -> ServedSession:
    """A long turn: an assistant line every 0.2 s for a minute."""
    served = ServedSession.from_objects(BUSY, messages(300, BUSY, prefix="b"), gap=0.2)
    served.title = "Refactor the parser"
    return served


def done_session() -> ServedSession:
    served = ServedSession.from_objects(DONE, messages(4, DONE, prefix="d"))
    served.title = "Write the changelog"
    return served


def hostile_session() -> ServedSession:
    """Remote text with terminal escapes and rich markup, then a result a minute later."""
    init, said, result = messages(3, HOSTILE, prefix="h")
    said["message"]["content"][0]["text"] = "\x1b]0;pwned\x07[bold red]not markup[/] \x1b[2J"
    served = ServedSession.from_objects(HOSTILE, [init, said, result])
    served.gaps[2] = 60.0
    served.title = "\x1b[31m[blink]evil title[/]"
    return served


@pytest.fixture
async def server() -> AsyncIterator[SessionsServer]:
    sessions = [prompt_session(), busy_session(), done_session(), hostile_session()]
    async with SessionsServer(sessions, speed=1, token=TOKEN, org=ORG) as srv:
        srv.play_ahead(WAITING, 1)  # said its init before top started: running
        srv.play_ahead(BUSY, 1)
        srv.play_ahead(DONE)  # finished: idle, so top does not subscribe
        srv.play_ahead(HOSTILE, 1)
        yield srv


def transport_for(srv: SessionsServer, api: str = "v1") -> Transport:
    return v1_transport(
        srv.base_url,
        ORG,
        lambda: Token(Secret(TOKEN), "test"),
        {},
        control_timeout=5.0,
        stream_options={"retry_delay": 0.05, "retries": 3},
        api=api,
    )


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def cells(app: TopApp) -> dict[str, list[str]]:
    """The table as plain text: session id → its cells (none while the view is not up yet)."""
    from textual.css.query import NoMatches

    try:
        table = app.query_one("#sessions", SessionTable)
    except NoMatches:
        return {}
    return {key: [c.plain for c in table.cells_of(key)] for key in table.keys}


def order(app: TopApp) -> list[str]:
    return list(app.query_one("#sessions", SessionTable).keys)


def make_app(srv: SessionsServer, **options: Any) -> TopApp:
    return TopApp(transport_for(srv), refresh=0.5, tick=0.05, **options)


def status_of(app: TopApp, session_id: str) -> str:
    return cells(app).get(session_id, ["?"])[0].strip()


async def test_the_view_shows_each_session_and_puts_the_waiting_one_first(
    server: SessionsServer,
) -> None:
    """Waiting, running and idle sessions each show status, title, model and activity."""
    app = make_app(server)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
        await until(lambda: "line" in cells(app).get(BUSY, ["", "", "", "", ""])[4])
        await pilot.pause()
        rows = cells(app)
        assert order(app)[0] == WAITING
        assert rows[WAITING][1] == "Fix the flaky date test"
        assert rows[WAITING][2] == "claude-sonnet-4-5"
        assert rows[WAITING][4] == "asks to use Bash · p to answer"
        assert rows[BUSY][0] == "running"
        # The current turn's clock: counted from when top first saw it at work.
        for session_id in (WAITING, BUSY):
            assert re.fullmatch(r"\d+s", rows[session_id][3]), rows[session_id][3]
        assert rows[DONE][3] == ""
        assert rows[DONE][0] == "idle"
        # Idle when top started: not followed, so its last result is not known.
        assert app.follower is not None
        assert DONE not in app.follower.streams
        assert rows[DONE][5] == ""


async def test_over_v2_a_prompt_is_allowed_from_the_view() -> None:
    """top over the v2 API (its list, event streams and posted answers): the waiting
    session stands out, and a from the view posts the allow answer; the tool goes on."""
    async with SessionsServer([prompt_session()], speed=1, token=TOKEN, org=ORG) as srv:
        srv.play_ahead(WAITING, 1)
        app = TopApp(transport_for(srv, "v2"), refresh=0.5, tick=0.05)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
            app.select(WAITING)
            await pilot.press("p")
            await until(lambda: isinstance(app.screen, PromptScreen))
            await pilot.press("a")
            await until(lambda: status_of(app, WAITING) == "idle")
        answers = [f for f in srv.received if f.get("type") == "control_response"]
        assert [a["response"]["response"] for a in answers] == [
            {"behavior": "allow", "updatedInput": {}}
        ]
        assert any(p.startswith("/v1/code/sessions?") for p in srv.request_paths)


async def test_a_permission_prompt_is_shown_whole_and_allowed_from_the_view(
    server: SessionsServer,
) -> None:
    """p shows tool, every input line and the reason; a sends exactly the allow answer."""
    app = make_app(server)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
        app.select(WAITING)
        await pilot.press("p")
        await until(lambda: isinstance(app.screen, PromptScreen))
        shown = str(app.screen.query_one("#prompt-body", Static).render())
        assert "tool: Bash" in shown
        for n in (1, 150, 300):
            assert f"    echo line {n}\n" in shown + "\n"
        assert "decision reason: Command is not in the allow list" in shown
        assert f"request id: {PROMPT_ID}" in shown
        await pilot.press("a")
        await until(lambda: status_of(app, WAITING) == "idle")
        answers = [f for f in server.received if f.get("type") == "control_response"]
        assert answers == [
            {
                "type": "control_response",
                "response": {
                    "subtype": "success",
                    "request_id": PROMPT_ID,
                    "response": {"behavior": "allow", "updatedInput": {}},
                },
            }
        ]
        assert cells(app)[WAITING][5] == "$0.250"
        assert app.said[-1] == f"allowed Bash for Fix the flaky date test ({PROMPT_ID})"


async def test_a_prompt_denied_with_a_reason_sends_the_reason(server: SessionsServer) -> None:
    """d, a typed reason and Enter send a deny with that message; the turn then ends."""
    app = make_app(server)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
        app.select(WAITING)
        await pilot.press("p")
        await until(lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("d", *"not on main", "enter")
        await until(lambda: status_of(app, WAITING) == "idle")
        [answer] = [f for f in server.received if f.get("type") == "control_response"]
        assert answer["response"]["response"] == {"behavior": "deny", "message": "not on main"}


async def test_leaving_a_prompt_sends_nothing(server: SessionsServer) -> None:
    """Escape closes the prompt and keeps it open for someone else."""
    app = make_app(server)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
        app.select(WAITING)
        await pilot.press("p")
        await until(lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, PromptScreen))
        await asyncio.sleep(0.2)
        assert not [f for f in server.received if f.get("type") == "control_response"]
        assert status_of(app, WAITING) == "NEEDS YOU"
        assert app.said[-1] == f"left prompt {PROMPT_ID} open"


async def test_interrupt_asks_first_then_sends_interrupt(server: SessionsServer) -> None:
    """i then n sends nothing; i then y sends one interrupt request and says it worked."""
    app = make_app(server)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: status_of(app, BUSY) == "running")
        app.select(BUSY)
        await pilot.press("i", "n")
        await pilot.pause()
        await pilot.press("i", "y")
        await until(lambda: bool(app.said))
        requests = [f for f in server.received if f.get("type") == "control_request"]
        assert [r["request"] for r in requests] == [{"subtype": "interrupt"}]
        assert app.said == ["interrupted Refactor the parser"]


async def test_the_filter_cycles_through_the_statuses(server: SessionsServer) -> None:
    """f shows only waiting sessions, then only running ones, then only idle ones."""
    app = make_app(server)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
        await pilot.press("f")
        await pilot.pause()
        assert order(app) == [WAITING]
        await pilot.press("f")
        await pilot.pause()
        assert set(order(app)) == {BUSY, HOSTILE}
        await pilot.press("f")
        await pilot.pause()
        assert order(app) == [DONE]


async def test_the_watch_pane_draws_the_stream_and_comes_back(server: SessionsServer) -> None:
    """Enter opens the session's stream as watch draws it; Escape returns to the table."""
    app = make_app(server)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: status_of(app, BUSY) == "running")
        app.select(BUSY)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, WatchScreen))
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        drawn = screen.drawn
        await until(lambda: screen.drawn > drawn + 2)
        log = screen.query_one("#watch-log", RichLog)
        text = "\n".join(strip.text for strip in log.lines)
        assert "line " in text
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, WatchScreen))
        assert app.query_one("#sessions", SessionTable).has_focus


async def test_remote_text_is_escaped_and_never_markup(server: SessionsServer) -> None:
    """ESC sequences show as visible escapes and [bold] shows literally, title and activity."""
    app = make_app(server)
    async with app.run_test(size=(200, 30)) as pilot:
        await until(lambda: "not markup" in cells(app).get(HOSTILE, [""] * 6)[4])
        await pilot.pause()
        row = cells(app)[HOSTILE]
        assert row[1] == "\\x1b[31m[blink]evil title[/]"
        assert row[4].startswith("\\x1b]0;pwned\\x07[bold red]not markup[/] \\x1b[2J")
        for cell in app.query_one("#sessions", SessionTable).cells_of(HOSTILE):
            assert "\x1b" not in cell.plain
        app.select(HOSTILE)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, WatchScreen) and app.screen.drawn >= 2)
        log = app.screen.query_one("#watch-log", RichLog)
        drawn = "\n".join(strip.text for strip in log.lines)
        assert "\\x1b]0;pwned\\x07[bold red]not markup[/] \\x1b[2J" in drawn
        assert "\x1b" not in drawn


async def test_notify_fires_once_for_the_prompt_and_once_for_the_result(
    server: SessionsServer,
) -> None:
    """--notify: the replayed init is history; the prompt and the turn's end notify once each."""

    board = Board()
    recorder = Recorder()
    follower = Follower(transport_for(server), board, refresh=0.2, notifier=Notifier(recorder))
    runner = asyncio.ensure_future(follower.run())
    try:
        await until(lambda: bool(board.sessions.get(WAITING) and board.sessions[WAITING].prompts))
        from sesstail.control import allow_response

        await follower.answer(WAITING, allow_response(PROMPT_ID))
        await until(lambda: board.sessions[WAITING].status == "idle")
        await asyncio.sleep(0.5)  # a few more refreshes: nothing more to say
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    waiting = [n for n in recorder.notes if "Fix the flaky" in n.title]
    assert [(n.title, n.needs_input) for n in waiting] == [
        ("sesstail: Fix the flaky date test needs you", True),
        ("sesstail: Fix the flaky date test finished", False),
    ]


async def test_json_mode_prints_a_line_per_change(server: SessionsServer) -> None:
    """--json: every session once at start, then a line when one starts waiting."""
    out = io.StringIO()
    task = asyncio.ensure_future(follow_as_json(transport_for(server), out, refresh=0.2, tick=0.05))

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in out.getvalue().splitlines()]

    try:
        await until(lambda: any(li["status"] == "requires_action" for li in lines()))
        await until(lambda: {li["id"] for li in lines()} == {WAITING, BUSY, DONE, HOSTILE})
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    got = lines()
    waiting = next(li for li in got if li["status"] == "requires_action")
    assert waiting["id"] == WAITING
    assert waiting["pending_prompts"] == [{"request_id": PROMPT_ID, "tool_name": "Bash"}]
    assert set(waiting) >= {"at", "title", "model", "turn_seconds", "last", "cost_usd"}


async def test_json_mode_status_filter_keeps_those_sessions(server: SessionsServer) -> None:
    """--status requires_action --json: only the waiting session's lines."""
    out = io.StringIO()
    task = asyncio.ensure_future(
        follow_as_json(
            transport_for(server),
            out,
            refresh=0.2,
            tick=0.05,
            statuses=frozenset({"requires_action"}),
        )
    )
    try:
        await until(lambda: "requires_action" in out.getvalue())
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    ids = {json.loads(line)["id"] for line in out.getvalue().splitlines()}
    assert ids == {WAITING}


def test_without_a_terminal_top_says_so_and_is_a_usage_error() -> None:
    """No terminal and no --json: exit 2 with a hint, before anything is asked."""
    asked: list[int] = []

    def list_sessions() -> list[dict[str, Any]]:
        asked.append(1)
        return []

    transport = Transport(
        list_sessions=list_sessions,
        open_stream=lambda sid: None,  # type: ignore[arg-type,return-value]
        send_control=lambda sid, sub, f: None,  # type: ignore[arg-type,return-value]
        answer_prompt=lambda sid, r: None,  # type: ignore[arg-type,return-value]
    )
    with pytest.raises(UsageError) as caught:
        run_top(transport, stdin=io.StringIO(), stdout=io.StringIO())
    assert caught.value.exit_code == 2
    assert caught.value.message == "sesstail top needs a terminal"
    assert caught.value.hint is not None
    assert "--json" in caught.value.hint
    assert asked == []
    with pytest.raises(UsageError):
        require_terminal(io.StringIO(), io.StringIO())


def test_status_filter_values_are_checked() -> None:
    """--status takes the four statuses, repeated or comma-separated; anything else is exit 2."""
    assert parse_statuses([]) is None
    assert parse_statuses(["running,idle", "requires_action"]) == frozenset(
        {"running", "idle", "requires_action"}
    )
    with pytest.raises(UsageError):
        parse_statuses(["busy"])


async def test_a_prompt_withdrawn_while_shown_closes_and_says_so() -> None:
    """The session withdraws the prompt on screen: the dialog closes and nothing is sent."""
    served = prompt_session()
    faults = Faults(withdraw_prompts_after=2.0)  # time enough to open the dialog first
    async with SessionsServer([served], speed=1, token=TOKEN, org=ORG, faults=faults) as srv:
        srv.play_ahead(WAITING, 1)
        app = make_app(srv)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
            app.select(WAITING)
            await pilot.press("p")
            await until(lambda: isinstance(app.screen, PromptScreen))
            await until(lambda: not isinstance(app.screen, PromptScreen))
            await until(lambda: bool(app.said))
            assert app.said == [
                f"prompt {PROMPT_ID} was withdrawn (answered elsewhere, or the turn moved on)"
            ]
            assert not [f for f in srv.received if f.get("type") == "control_response"]


async def test_history_replayed_on_attach_fills_the_row_but_never_notifies(
    server: SessionsServer,
) -> None:
    """Following an idle session replays its result: its cost shows, no notification fires."""
    notes: list[Notification] = []

    class Recorder:
        name = "recorder"

        def send(self, note: Notification) -> None:
            notes.append(note)

        def close(self, timeout: float = 2.0) -> None:
            pass

    board = Board()
    seen: list[Message] = []
    follower = Follower(transport_for(server), board, refresh=0.2, notifier=Notifier(Recorder()))
    follower.message_listeners.append(lambda sid, msg: seen.append(msg) if sid == DONE else None)
    await follower.refresh_once()
    follower.pin(DONE)  # as the watch pane does
    try:
        await until(lambda: board.sessions[DONE].cost_usd is not None)
    finally:
        await follower.aclose()
    assert board.sessions[DONE].cost_usd == 0.01
    assert [m.backfill for m in seen] == [True] * 4
    assert not [n for n in notes if "changelog" in n.title]


async def test_json_mode_ends_quietly_when_the_reader_goes_away(server: SessionsServer) -> None:
    """top --json | head -1: a closed stdout ends the command with 0, no traceback."""

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    code = await asyncio.wait_for(
        follow_as_json(transport_for(server), ClosedPipe(), refresh=0.2, tick=0.05), 10
    )
    assert code == 0


async def test_top_notify_runs_the_desktop_command_once_per_event(
    server: SessionsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """top --notify with notify-send on PATH: the waiting session gives exactly one call."""
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "notify-send"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":0")
    app = make_app(server, notify=True)
    async with app.run_test(size=(160, 30)):
        await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
        await asyncio.sleep(1.2)  # two more list refreshes: still the same event
        assert app.notifier is not None
        app.notifier.close()
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    [call] = [c for c in calls if "Fix the flaky" in c[2]]
    assert call[:3] == ["--app-name=sesstail", "--", "sesstail: Fix the flaky date test needs you"]
    assert call[3].startswith("Allow Bash: echo line 1 echo line 2 ")
    assert call[3].endswith("…? (Command is not in the allow list)")
    assert len(call[3]) <= 200


def test_the_modules_without_a_view_import_neither_textual_nor_rich() -> None:
    """--notify on watch/wait and top --json stay light: Textual loads only for the view."""
    code = (
        "import sys, sesstail.notify, sesstail.top.run, sesstail.top.jsonl, sesstail.top.wiring;"
        "print(sorted(m for m in ('textual', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


async def test_an_interrupt_the_session_refuses_shows_its_error() -> None:
    """The session answers interrupt with an error: the bottom line says so, in its words."""
    faults = Faults(control_error="Nothing to interrupt \x1b[31m", connections=None)
    async with SessionsServer(
        [busy_session()], speed=1, token=TOKEN, org=ORG, faults=faults
    ) as srv:
        srv.play_ahead(BUSY, 1)
        app = make_app(srv)
        async with app.run_test(size=(160, 30)) as pilot:
            await until(lambda: status_of(app, BUSY) == "running")
            app.select(BUSY)
            await pilot.press("i", "y")
            await until(lambda: bool(app.said))
    assert app.said == [
        "interrupt Refactor the parser: the session refused interrupt: "
        "Nothing to interrupt \\x1b[31m"
    ]


async def test_a_failing_list_is_shown_and_the_view_goes_on() -> None:
    """The list endpoint failing after start-up: the summary says why; rows stay."""
    from sesstail.errors import CannotConnect

    calls: list[int] = []

    def list_sessions() -> list[dict[str, Any]]:
        calls.append(1)
        if len(calls) > 1:
            raise CannotConnect("cannot reach api.example: connection refused")
        return [{"id": DONE, "title": "Write the changelog", "session_status": "idle"}]

    async def never(*args: Any) -> Any:
        raise AssertionError("not called")

    transport = Transport(list_sessions, lambda sid: None, never, never)  # type: ignore[arg-type,return-value]
    app = TopApp(transport, refresh=0.1, tick=0.05)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: len(calls) >= 2)
        await pilot.pause(0.1)
        summary = str(app.query_one("#summary", Static).render())
        assert "cannot list the sessions: cannot reach api.example: connection refused" in summary
        assert order(app) == [DONE]


async def test_a_change_redraws_only_its_own_row_and_keys_move_the_cursor() -> None:
    """One session's news redraws one line, not the table; up/down/Enter pick rows."""

    def list_sessions() -> list[dict[str, Any]]:
        return [
            {"id": f"session_01Row{n}", "title": f"row {n}", "session_status": "idle"}
            for n in range(3)
        ]

    async def never(*args: Any) -> Any:
        raise AssertionError("not called")

    transport = Transport(list_sessions, lambda sid: None, never, never)  # type: ignore[arg-type,return-value]
    app = TopApp(transport, refresh=60, tick=0.05)
    async with app.run_test(size=(160, 20)) as pilot:
        await until(lambda: len(order(app)) == 3)
        await pilot.pause()
        table = app.query_one("#sessions", SessionTable)
        before = table.lines_rendered
        cancel = {"type": "control_cancel_request", "request_id": "r9"}
        app.board.apply("session_01Row1", Message(json.dumps(cancel), cancel, time.time()))
        app.redraw()
        await pilot.pause()
        assert table.lines_rendered - before == 1
        assert cells(app)["session_01Row1"][4] == "permission prompt withdrawn"
        assert app.selected_id() == order(app)[0]
        await pilot.press("down", "down", "down", "up")
        assert app.selected_id() == order(app)[1]
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, WatchScreen))
        assert isinstance(app.screen, WatchScreen)
        assert app.screen.session_id == order(app)[1]


@pytest.mark.parametrize(("key", "code"), [("q", 0), ("ctrl+c", 130)])
async def test_q_quits_with_0_and_ctrl_c_with_130(
    server: SessionsServer, key: str, code: int
) -> None:
    """q ends top normally; Ctrl-C ends it as an interrupted command, and every stream closes."""
    app = make_app(server)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: status_of(app, WAITING) == "NEEDS YOU")
        await pilot.press(key)
        await pilot.pause()
    assert app.return_value == code
    assert app.return_code == code
    assert app.follower is not None
    assert app.follower.streams == {}


async def reach_the_prompt_unwatched(srv: SessionsServer) -> None:
    """The waiting session plays (as if someone else watched it) until its prompt is open."""
    srv.subscribe(srv.sessions[WAITING])
    await until(lambda: bool(srv.pending_prompts(WAITING)))


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_the_served_list_says_a_session_with_an_open_prompt_needs_you(api: str) -> None:
    """sesstail serve, as the service: while a prompt is open the list says requires_action
    (the prompt is not history, so the last thing said is not what decides)."""
    async with SessionsServer([prompt_session()], speed=1, token=TOKEN, org=ORG) as srv:
        srv.play_ahead(WAITING, 1)
        transport = transport_for(srv, api)
        [before] = await asyncio.to_thread(transport.list_sessions)
        await reach_the_prompt_unwatched(srv)
        [waiting] = await asyncio.to_thread(transport.list_sessions)
    assert (before["session_status"], waiting["session_status"]) == ("running", "requires_action")


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_a_prompt_open_before_top_started_does_not_notify(api: str) -> None:
    """--notify: a session already waiting when top starts is not news, whichever API (the
    v1 socket asks the open prompt again on connect, v2 replays it); its turn's end is."""
    async with SessionsServer([prompt_session()], speed=1, token=TOKEN, org=ORG) as srv:
        srv.play_ahead(WAITING, 1)
        await reach_the_prompt_unwatched(srv)
        transport = transport_for(srv, api)
        recorder = Recorder()
        board = Board()
        follower = Follower(transport, board, refresh=0.2, notifier=Notifier(recorder))
        runner = asyncio.ensure_future(follower.run())
        try:
            await until(lambda: bool(WAITING in board.sessions and board.sessions[WAITING].prompts))
            await asyncio.sleep(0.5)  # more refreshes, the stream settled: still nothing new
            assert recorder.notes == []
            from sesstail.control import allow_response

            await follower.answer(WAITING, allow_response(PROMPT_ID))
            await until(lambda: board.sessions[WAITING].status == "idle")
            await asyncio.sleep(0.3)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert [n.title for n in recorder.notes] == ["sesstail: Fix the flaky date test finished"]


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_a_session_that_appears_already_waiting_notifies_once(api: str) -> None:
    """--notify: a session first listed after top started, already waiting for you, is news:
    one notification, not none (v2 replays its prompt as history) and not two."""
    async with SessionsServer([prompt_session()], speed=1, token=TOKEN, org=ORG) as srv:
        srv.play_ahead(WAITING, 1)
        transport = transport_for(srv, api)
        lists: list[int] = []

        def list_sessions() -> list[dict[str, Any]]:
            lists.append(1)
            items = transport.list_sessions()
            return [] if len(lists) == 1 else items  # not created yet at the first look

        recorder = Recorder()
        board = Board()
        follower = Follower(
            Transport(
                list_sessions,
                transport.open_stream,
                transport.send_control,
                transport.answer_prompt,
            ),
            board,
            refresh=60,
            notifier=Notifier(recorder),
        )
        try:
            await follower.refresh_once()
            await reach_the_prompt_unwatched(srv)
            await follower.refresh_once()
            await until(lambda: bool(board.sessions[WAITING].prompts))
            await asyncio.sleep(0.5)
            await follower.refresh_once()
        finally:
            await follower.aclose()
    assert [(n.title, n.needs_input) for n in recorder.notes] == [
        ("sesstail: Fix the flaky date test needs you", True)
    ]
