"""`sesstail serve` as a user runs it: a process that prints where it listens, serves the
stream and the REST endpoints, and stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import ORG, SESSION, TOKEN, messages
from sesstail.cli import app
from sesstail.errors import ExitCode
from sesstail.server.core import DEMO_SESSION_ID


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in messages(6)), encoding="utf-8")
    return path


@contextmanager
def serve_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """``sesstail serve`` on a free port: the process, its base URL and the lines it printed
    up to its hint line. SIGINT starts as in a foreground shell (see test_cli)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sesstail", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    signal.signal(signal.SIGINT, previous)
    try:
        assert proc.stdout is not None
        printed: list[str] = []
        while not printed or not printed[-1].startswith("watch with:"):
            line = proc.stdout.readline()
            assert line, f"serve ended early: {proc.stderr.read() if proc.stderr else ''}"
            printed.append(line.rstrip("\n"))
        match = re.fullmatch(r"serving on (http://127\.0\.0\.1:\d+)", printed[0])
        assert match, printed
        yield proc, match.group(1), printed
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def client(base_url: str, *args: str) -> Any:
    return CliRunner().invoke(
        app, [*args, "--base-url", base_url, "--org", ORG], env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
    )


def test_serve_prints_where_it_listens_serves_and_stops_on_ctrl_c(session_file: Path) -> None:
    """It names its URL, each session and a watch command; a watch gets the session;
    Ctrl-C stops it with 130 and one line, no traceback."""
    with serve_process("--speed", "0", "--end", str(session_file)) as (proc, url, printed):
        assert printed[1] == f"  {SESSION}  (6 messages)"
        assert printed[2] == (
            f"watch with: SESSTAIL_BASE_URL={url} CLAUDE_CODE_OAUTH_TOKEN=x "
            f"sesstail watch {SESSION}"
        )
        watched = client(url, "watch", SESSION, "--json")
        assert watched.exit_code == 0, watched.stderr
        assert [json.loads(line)["uuid"] for line in watched.stdout.splitlines()] == [
            f"m{i}" for i in range(6)
        ]
        # No --org: the server's profile endpoint names its organization, as the service does.
        # The stream is live-only: what was said before this watch is its history (-n).
        no_org = CliRunner().invoke(
            app,
            ["watch", SESSION, "--json", "-n", "6", "--until", "result", "--base-url", url],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        assert no_org.exit_code == 0, no_org.stderr
        assert no_org.stdout == watched.stdout
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    assert err == "sesstail: interrupted\n"


def test_a_fresh_serve_has_no_history_until_played(session_file: Path) -> None:
    """Without --played, history is what has been played to a watcher: nothing yet."""
    with serve_process("--speed", "0", str(session_file)) as (_, url, _printed):
        result = client(url, "history", SESSION, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("played", "count"), [("all", 6), ("4", 4), ("99", 6)])
def test_played_messages_are_history_at_once(session_file: Path, played: str, count: int) -> None:
    """--played N|all: the first N messages are history before anyone watched."""
    with serve_process("--played", played, str(session_file)) as (_, url, _printed):
        result = client(url, "history", SESSION, "--json")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["uuid"] for line in result.stdout.splitlines()] == [
        f"m{i}" for i in range(count)
    ]


def test_played_demo_history_has_no_pending_prompt() -> None:
    """The demo played ahead: its permission prompt was answered before anyone watched, so
    the history is the transcript (the tool's result included) without the request."""
    with serve_process("--played", "all") as (_, url, _printed):
        result = client(url, "history", DEMO_SESSION_ID, "-n", "500", "--json")
    assert result.exit_code == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert "control_request" not in {o["type"] for o in objs}
    assert objs[-1]["type"] == "result"
    assert len(objs) > 20


@pytest.mark.parametrize("played", ["-1", "some", "1.5"])
def test_played_takes_a_count_or_all(played: str) -> None:
    """A bad --played is a usage error before anything listens."""
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--played", played])
    assert result.exit_code == ExitCode.USAGE
    assert "--played takes a number of messages or 'all'" in result.stderr
    assert "serving on" not in result.stdout


def test_a_file_of_two_sessions_serves_both(tmp_path: Path) -> None:
    """One JSONL holding two sessions (a capture of `watch A B`): both are listed and served."""
    other = "session_01OtherStream"
    lines = [*messages(3), *messages(2, other)]
    path = tmp_path / "both.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in lines), encoding="utf-8")
    with serve_process("--speed", "0", "--end", str(path)) as (_, url, printed):
        assert printed[1:3] == [f"  {SESSION}  (3 messages)", f"  {other}  (2 messages)"]
        watched = client(url, "watch", other, "--json")
    assert watched.exit_code == 0, watched.stderr
    assert [json.loads(line)["session_id"] for line in watched.stdout.splitlines()] == [other] * 2
