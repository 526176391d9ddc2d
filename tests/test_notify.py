"""--notify: when a notification fires, how often, through what, and that remote text is inert."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ORG, TOKEN
from sesstail.notify import (
    Notification,
    Notifier,
    NotifyingSource,
    TerminalChannel,
    choose_channel,
    terminal_osc,
)
from sesstail.protocol import Message, encode


def msg(obj: dict[str, Any], backfill: bool = False) -> Message:
    return Message(encode(obj), obj, time.time(), backfill)


def prompt(request_id: str = "perm_1", command: str = "rm -rf build") -> dict[str, Any]:
    return {
        "type": "control_request",
        "request_id": request_id,
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "Bash",
            "input": {"command": command},
            "decision_reason": "Command deletes files",
        },
    }


def result(uuid: str = "res-1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "uuid": uuid,
        "total_cost_usd": 0.083,
        "duration_ms": 18234,
        **extra,
    }


def state(value: str, uuid: str = "st") -> dict[str, Any]:
    return {"type": "system", "subtype": "session_state_changed", "state": value, "uuid": uuid}


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.notes: list[Notification] = []

    def send(self, note: Notification) -> None:
        self.notes.append(note)

    def close(self, timeout: float = 2.0) -> None:
        pass


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_a_permission_prompt_notifies_once_per_request_id(recorder: Recorder) -> None:
    """The same prompt replayed after a reconnect does not notify a second time."""
    notifier = Notifier(recorder)
    first = notifier.on_message("fix-tests", msg(prompt()))
    again = notifier.on_message("fix-tests", msg(prompt()))
    assert first is not None
    assert again is None
    assert recorder.notes == [first]
    assert first.needs_input
    assert first.title == "sesstail: fix-tests needs you"
    assert first.body == "Allow Bash: rm -rf build? (Command deletes files)"


def test_a_second_prompt_is_a_second_event(recorder: Recorder) -> None:
    """Two different prompts of one session are two notifications."""
    notifier = Notifier(recorder)
    notifier.on_message("s", msg(prompt("perm_1")))
    notifier.on_message("s", msg(prompt("perm_2")))
    assert len(recorder.notes) == 2


def test_a_state_change_and_its_prompt_are_one_event(recorder: Recorder) -> None:
    """requires_action followed by the prompt that caused it notifies once, not twice."""
    notifier = Notifier(recorder)
    notifier.on_message("s", msg(state("requires_action")))
    notifier.on_message("s", msg(prompt()))
    notifier.on_message("s", msg(state("requires_action", uuid="st2")))
    assert [n.body for n in recorder.notes] == ["waiting for input"]


def test_waiting_again_after_the_session_moved_on_notifies_again(recorder: Recorder) -> None:
    """A new spell of waiting (after running) is a new event."""
    notifier = Notifier(recorder)
    notifier.on_message("s", msg(state("requires_action", "a")))
    notifier.on_message("s", msg(state("running", "b")))
    notifier.on_message("s", msg(state("requires_action", "c")))
    assert len(recorder.notes) == 2


def test_a_result_notifies_once_per_uuid_with_its_status(recorder: Recorder) -> None:
    """A turn's end says success, cost and duration; the same result again says nothing."""
    notifier = Notifier(recorder)
    note = notifier.on_message("s", msg(result()))
    assert notifier.on_message("s", msg(result())) is None
    assert note is not None
    assert not note.needs_input
    assert note.title == "sesstail: s finished"
    assert note.body == "success · $0.083 · 18s"


def test_a_failed_turn_says_failed_and_why(recorder: Recorder) -> None:
    """An error result names its subtype and first error."""
    failed = result("res-2", subtype="error_max_turns", is_error=True, errors=["Reached max turns"])
    note = Notifier(recorder).on_message("s", msg(failed))
    assert note is not None
    assert note.title == "sesstail: s failed"
    assert note.body.startswith("error_max_turns: Reached max turns · $0.083")


def test_backfill_and_seen_uuids_never_notify(recorder: Recorder) -> None:
    """History shown before the live stream, or replayed on attach, is not news."""
    notifier = Notifier(recorder)
    notifier.mark_seen(["old-result"])
    assert notifier.on_message("s", msg(result("old-result"))) is None
    assert notifier.on_message("s", msg(result("bf"), backfill=True)) is None
    assert notifier.on_message("s", msg(prompt(), backfill=True)) is None
    assert recorder.notes == []
    # ...but the backfilled prompt is still known: its live replay is not new either.
    assert notifier.on_message("s", msg(prompt())) is None


def test_on_status_notifies_a_waiting_session_once(recorder: Recorder) -> None:
    """top: the list saying requires_action twice, or after a prompt, is one event."""
    notifier = Notifier(recorder)
    assert notifier.on_status("a", "requires_action") is not None
    assert notifier.on_status("a", "requires_action") is None
    notifier.on_message("b", msg(prompt()))
    assert notifier.on_status("b", "requires_action") is None
    assert len(recorder.notes) == 2


HOSTILE = "\x1b]0;owned\x07\x1b[31mred\u202e;`$(reboot)`\n" + "x" * 5000


def test_remote_text_is_escaped_one_line_and_bounded(recorder: Recorder) -> None:
    """ESC, BEL, bidi overrides and newlines from the session arrive as visible escapes."""
    note = Notifier(recorder).on_message(HOSTILE, msg(prompt(command=HOSTILE)))
    assert note is not None
    for text in (note.title, note.body):
        assert all(c.isprintable() for c in text), text
        assert "\\x1b" in text
    assert len(note.title) <= 80
    assert len(note.body) <= 200


def test_terminal_escapes_hold_no_control_character_but_their_own() -> None:
    """OSC 9/777 frame the text; nothing remote can end the sequence early."""
    written: list[str] = []
    note = Notification("sesstail: a;b", "body\x07\x1b\\ evil;x", True)
    for osc in (9, 777):
        TerminalChannel(written.append, osc).send(note)
    TerminalChannel(written.append, None).send(note)
    nine, seven, bell = written
    assert nine.startswith("\x1b]9;")
    assert nine.endswith("\x07")
    assert seven.startswith("\x1b]777;notify;sesstail: a,b;body")
    assert seven.endswith("\x07")
    for data in (nine, seven):
        inner = data[len("\x1b]") : -1]
        assert all(c.isprintable() for c in inner), repr(data)
    assert seven.count(";") == 3
    assert bell == "\a"


@pytest.mark.parametrize(
    ("env", "osc"),
    [
        ({"TERM_PROGRAM": "iTerm.app"}, 9),
        ({"TERM_PROGRAM": "WezTerm"}, 9),
        ({"WT_SESSION": "1"}, 9),
        ({"TERM": "foot"}, 777),
        ({"TERM": "rxvt-unicode-256color"}, 777),
        ({"TERM_PROGRAM": "iTerm.app", "TMUX": "/tmp/tmux"}, None),
        ({"TERM": "xterm-256color"}, None),
    ],
)
def test_terminal_osc_is_chosen_from_the_environment(env: dict[str, str], osc: int | None) -> None:
    """Each terminal gets the escape it shows; tmux and unknown terminals get the bell."""
    assert terminal_osc(env) == osc


def stand_in(folder: Path, name: str = "notify-send") -> Path:
    """An executable on PATH that appends its argv, as JSON, to ``calls.jsonl``."""
    log = folder / "calls.jsonl"
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def test_linux_desktop_runs_notify_send_with_the_text_as_argv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """notify-send from PATH gets title and body as separate arguments after "--"."""
    log = stand_in(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":0")
    channel = choose_channel(platform="linux", terminal_write=lambda _: None)
    assert channel is not None
    assert channel.name == "notify-send"
    notifier = Notifier(channel)
    notifier.on_message("fix $(id)", msg(prompt(command="-rf; `id`")))
    notifier.on_message("fix $(id)", msg(prompt(command="-rf; `id`")))  # same event
    notifier.close()
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls == [
        [
            "--app-name=sesstail",
            "--",
            "sesstail: fix $(id) needs you",
            "Allow Bash: -rf; `id`? (Command deletes files)",
        ]
    ]


def test_no_desktop_session_falls_back_to_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over SSH (no DISPLAY, no D-Bus) notify-send is not used: the terminal's escape is."""
    stand_in(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM_PROGRAM", "WezTerm")
    written: list[str] = []
    channel = choose_channel(platform="linux", terminal_write=written.append)
    assert channel is not None
    assert channel.name == "osc9"
    Notifier(channel).on_message("s", msg(result()))
    assert written == ["\x1b]9;sesstail: s finished: success · $0.083 · 18s\x07"]


def test_macos_runs_osascript_with_the_text_outside_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """osascript gets a fixed script and the text as its run handler's arguments."""
    log = stand_in(tmp_path, "osascript")
    monkeypatch.setenv("PATH", str(tmp_path))
    channel = choose_channel(platform="darwin", terminal_write=lambda _: None)
    assert channel is not None
    assert channel.name == "osascript"
    notifier = Notifier(channel)
    notifier.on_message('a" & (do shell script "id") & "', msg(result()))
    notifier.close()
    [call] = [json.loads(line) for line in log.read_text().splitlines()]
    assert call[0] == "-e"
    assert "do shell script" not in call[1]
    assert call[2:] == [
        'sesstail: a" & (do shell script "id") & " finished',
        "success · $0.083 · 18s",
    ]


def test_a_vanished_command_falls_back_to_the_bell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """notify-send removed after start-up: the bell rings instead; nothing raises."""
    stand_in(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":0")
    written: list[str] = []
    channel = choose_channel(platform="linux", terminal_write=written.append)
    (tmp_path / "notify-send").unlink()
    Notifier(channel).on_message("s", msg(result()))
    assert written == ["\a"]


def test_nothing_to_notify_with_is_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No desktop command and no terminal: no channel, and the notifier still decides."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "stderr", open(tmp_path / "err", "w"))  # noqa: SIM115
    try:
        assert choose_channel(platform="linux") is None
        assert Notifier(None).on_message("s", msg(result())) is not None
    finally:
        sys.stderr.close()


async def test_a_notifying_source_passes_every_message_on_and_notifies(
    recorder: Recorder,
) -> None:
    """watch --notify: the wrapped stream yields the same messages, and the result notifies."""

    class Source:
        async def messages(self) -> AsyncIterator[Message]:
            for obj in ({"type": "keep_alive"}, prompt(), result()):
                yield msg(obj)

    wrapped = NotifyingSource(Source(), Notifier(recorder), "fix-tests")
    seen = [m.obj["type"] async for m in wrapped.messages()]
    assert seen == ["keep_alive", "control_request", "result"]
    assert [n.title for n in recorder.notes] == [
        "sesstail: fix-tests needs you",
        "sesstail: fix-tests finished",
    ]


def test_a_prompt_we_answered_ends_its_spell_even_if_the_stream_never_says(
    recorder: Recorder,
) -> None:
    """top answers a prompt itself: the session waiting again later (as the list says) is news."""
    notifier = Notifier(recorder)
    notifier.on_message("s", msg(prompt("perm_1")))
    notifier.answered("s", "perm_1")
    assert notifier.on_status("s", "requires_action") is not None
    assert len(recorder.notes) == 2


def test_a_session_already_waiting_is_not_news_until_it_waits_again(recorder: Recorder) -> None:
    """top at start: the open prompt of a session already waiting notifies nothing; once
    that prompt is closed, the next one does."""
    notifier = Notifier(recorder)
    notifier.already_waiting("s")
    assert notifier.on_message("s", msg(prompt("perm_1"))) is None
    notifier.on_message("s", msg({"type": "control_cancel_request", "request_id": "perm_1"}))
    assert notifier.on_message("s", msg(prompt("perm_2"))) is not None
    assert len(recorder.notes) == 1


# -- watch and wait, as a user runs them ------------------------------------------------------

SERVED = "session_01NotifyServed"


def served_prompt_session() -> Any:
    """init, a Bash call that needs permission (paused until answered), its result, a result."""
    from sesstail.server import ServedSession

    call = {
        "type": "assistant",
        "uuid": "n-call",
        "session_id": SERVED,
        "message": {
            "id": "msg_call",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}],
        },
    }
    tool_result = {
        "type": "user",
        "uuid": "n-tool-result",
        "session_id": SERVED,
        "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
    }
    objects: list[dict[str, Any]] = [
        {"type": "system", "subtype": "init", "uuid": "n-init", "session_id": SERVED},
        call,
        {**prompt("perm_served"), "session_id": SERVED},
        tool_result,
        {**result("n-result"), "session_id": SERVED},
    ]
    return ServedSession.from_objects(SERVED, objects)


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sesstail", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def notify_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A Linux desktop whose notify-send is a stand-in that records its argv."""
    log = stand_in(tmp_path)
    env = {
        **os.environ,
        "PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}",
        "DISPLAY": ":0",
        "CLAUDE_CODE_OAUTH_TOKEN": TOKEN,
    }
    return env, log


def calls_in(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_watch_notify_once_per_event_across_a_reconnect(api: str, tmp_path: Path) -> None:
    """watch --notify: the connection drops right after the prompt and the prompt comes
    again; answering it ends the turn. One notify-send for the prompt, one for the result."""
    from sesstail.server import Faults, SessionsServer
    from sesstail.server.thread import server_thread

    env, log = notify_env(tmp_path)
    server = SessionsServer(
        [served_prompt_session()],
        speed=1,
        token=TOKEN,
        org=ORG,
        faults=Faults(connections=1, drop_after=2),
    )
    server.play_ahead(SERVED, 1)
    with server_thread(server) as srv:
        where = ["--base-url", srv.base_url, "--org", ORG, "--api", api]
        watch = run_cli(["watch", SERVED, "--notify", "--json", "--until", "result", *where], env)
        try:
            deadline = time.monotonic() + 10
            while not calls_in(log) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # the reconnect, and the prompt asked again
            allow = subprocess.run(
                [sys.executable, "-m", "sesstail", "allow", SERVED, "perm_served", *where],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert allow.returncode == 0, allow.stderr
            _, err = watch.communicate(timeout=30)
        finally:
            watch.kill()
    assert watch.returncode == 0, err
    assert "reconnected" in err
    assert [call[2] for call in calls_in(log)] == [
        f"sesstail: {SERVED} needs you",
        f"sesstail: {SERVED} finished",
    ]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_wait_notify_says_the_session_needs_you_once(api: str, tmp_path: Path) -> None:
    """wait --until blocked --notify: the prompt that ends the wait is one notify-send."""
    from sesstail.server import SessionsServer
    from sesstail.server.thread import server_thread

    env, log = notify_env(tmp_path)
    server = SessionsServer([served_prompt_session()], speed=1, token=TOKEN, org=ORG)
    server.play_ahead(SERVED, 1)
    with server_thread(server) as srv:
        where = ["--base-url", srv.base_url, "--org", ORG, "--api", api]
        wait = run_cli(["wait", SERVED, "--until", "blocked", "--notify", *where], env)
        _, err = wait.communicate(timeout=30)
    assert wait.returncode == 0, err
    [call] = calls_in(log)
    assert call == [
        "--app-name=sesstail",
        "--",
        f"sesstail: {SERVED} needs you",
        "Allow Bash: rm -rf build? (Command deletes files)",
    ]
