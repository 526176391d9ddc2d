"""The command line for local sessions (watch, ls --local, history, wait, demo --local, no
control channel) and for top (no terminal, --json), as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ORG, TOKEN, session
from sesstail.cli import app
from sesstail.errors import ExitCode
from sesstail.local.demo import TranscriptWriter
from sesstail.server import SessionsServer
from sesstail.server.thread import server_thread

SESSION_UUID = "0b6c2f3e-8d41-4f5a-9c7e-2a1b3c4d5e6f"


@pytest.fixture
def transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TranscriptWriter:
    """A local session of project /home/dev/app under a CLAUDE_CONFIG_DIR of the test's own,
    with one finished turn."""
    config = tmp_path / "claude"
    project = config / "projects" / "-home-dev-app"
    project.mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    writer = TranscriptWriter(project / f"{SESSION_UUID}.jsonl", SESSION_UUID, cwd="/home/dev/app")
    writer.prompt("fix the flaky test")
    writer.reply("Done: the clock is injected now.")
    writer.turn_duration(1200)
    return writer


def test_watch_a_local_transcript_path_writes_its_lines_as_written(
    transcript: TranscriptWriter,
) -> None:
    """A .jsonl path is followed like a session, with no token and no network: JSONL output
    is the file's own lines, and the next turn's end ends --until result."""

    def later() -> None:
        time.sleep(0.6)
        transcript.prompt("next")
        transcript.turn_duration(100)

    threading.Thread(target=later, daemon=True).start()
    result = CliRunner().invoke(app, ["watch", str(transcript.path), "--json", "--until", "result"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == transcript.path.read_text().splitlines()


def test_watch_a_local_session_by_id_draws_it_and_ends_on_the_next_result(
    transcript: TranscriptWriter,
) -> None:
    """By its id: the transcript, then live as it grows; a new turn's end ends --until."""

    def later() -> None:
        time.sleep(0.6)
        transcript.prompt("and the other one")
        transcript.reply("Also done.")
        transcript.turn_duration(800)

    threading.Thread(target=later, daemon=True).start()
    result = CliRunner().invoke(
        app, ["watch", SESSION_UUID, "--format", "pretty", "--until", "result"]
    )
    assert result.exit_code == 0, result.stderr
    assert "fix the flaky test" in result.stdout
    assert "Also done." in result.stdout
    assert result.stdout.count("■ success") == 2


def test_ls_local_lists_the_transcripts(transcript: TranscriptWriter) -> None:
    """ls --local: id, project, first prompt as a title; --json one object per session."""
    listed = CliRunner().invoke(app, ["ls", "--local", "--json"])
    assert listed.exit_code == 0, listed.stderr
    (item,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert item["id"] == SESSION_UUID
    assert item["title"] == "fix the flaky test"
    table = CliRunner().invoke(app, ["ls", "--local"])
    assert SESSION_UUID in table.stdout
    refused = CliRunner().invoke(app, ["ls", "--local", "--status", "idle"])
    assert refused.exit_code == ExitCode.USAGE


def test_history_of_a_local_session(transcript: TranscriptWriter) -> None:
    """history <local id> -n 2: the last two messages, and it returns."""
    result = CliRunner().invoke(app, ["history", SESSION_UUID, "-n", "2", "--json"])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["interrupt", SESSION_UUID],
        ["allow", SESSION_UUID, "perm_1"],
        ["set-model", SESSION_UUID, "opus"],
        ["send", SESSION_UUID, "hello"],
        ["send", SESSION_UUID, "hello", "--watch"],
    ],
)
def test_a_local_session_has_no_control_channel(
    transcript: TranscriptWriter, args: list[str]
) -> None:
    """Control commands on a local session say so: exit 2, nothing sent."""
    result = CliRunner().invoke(app, args, env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN})
    assert result.exit_code == ExitCode.USAGE
    assert "local session: it has no control channel" in result.stderr


def test_a_local_session_has_no_web_page(transcript: TranscriptWriter) -> None:
    """open <local id>: said plainly (exit 2), not 'invalid session id'."""
    result = CliRunner().invoke(app, ["open", SESSION_UUID, "--no-browser"])
    assert result.exit_code == ExitCode.USAGE
    assert "is a local session: it has no page on claude.ai" in result.stderr
    assert result.stdout == ""


def test_wait_until_result_on_a_local_session_waits_for_the_next_turn(
    transcript: TranscriptWriter,
) -> None:
    """wait --until result: the result already in the file does not count; the next does."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "sesstail", "wait", SESSION_UUID),
            *("--until", "result", "--json", "--timeout", "20"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    time.sleep(1.0)
    assert proc.poll() is None, "an old result ended the wait"
    transcript.prompt("once more")
    transcript.reply("Again.")
    transcript.turn_duration(500)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert json.loads(out)["type"] == "result"


def test_wait_until_idle_on_a_local_session(transcript: TranscriptWriter) -> None:
    """wait --until idle: a session in the middle of a turn is not idle (the wait times out,
    exit 7); once the turn ends it is, and the turn's end is printed with --json."""
    transcript.prompt("and the docs")
    busy = CliRunner().invoke(app, ["wait", SESSION_UUID, "--until", "idle", "--timeout", "1.5"])
    assert busy.exit_code == ExitCode.TIMEOUT

    def later() -> None:
        time.sleep(0.6)
        transcript.reply("Docs updated.")
        transcript.turn_duration(800)

    threading.Thread(target=later, daemon=True).start()
    idle = CliRunner().invoke(
        app, ["wait", SESSION_UUID, "--until", "idle", "--json", "--timeout", "20"]
    )
    assert idle.exit_code == 0, idle.stderr
    assert json.loads(idle.stdout)["result"] == "Docs updated."


def test_watch_local_since_and_last_n_then_live_with_a_recording(tmp_path: Path) -> None:
    """watch PATH --since: what was written since then, then live; -n N: the last N; --record
    keeps what was shown, each line with its own time."""
    path = tmp_path / f"{SESSION_UUID}.jsonl"
    old = TranscriptWriter(path, SESSION_UUID, clock=1_000_000.0)  # long ago
    old.prompt("an old turn")
    old.turn_duration(100)
    recent = TranscriptWriter(path, SESSION_UUID)  # now
    recent.prompt("a recent turn")
    recent.reply("Recent reply.")
    recent.turn_duration(200)
    lines = path.read_text().splitlines()

    def later() -> None:
        time.sleep(0.8)
        recent.prompt("a live turn")
        recent.turn_duration(300)

    record = tmp_path / "rec.jsonl"
    threading.Thread(target=later, daemon=True).start()
    since = CliRunner().invoke(
        app,
        [
            "watch",
            str(path),
            "--since",
            "1h",
            "--json",
            "--until",
            "result",
            "--record",
            str(record),
        ],
    )
    assert since.exit_code == 0, since.stderr
    assert since.stdout.splitlines() == path.read_text().splitlines()[2:]
    recorded = [json.loads(line) for line in record.read_text().splitlines()]
    assert [json.dumps(r["message"]) for r in recorded] == [
        json.dumps(json.loads(line)) for line in since.stdout.splitlines()
    ]
    for r in recorded:  # each line's own time, not when it was read
        stamp = datetime.fromisoformat(r["message"]["timestamp"].replace("Z", "+00:00"))
        assert r["recorded_at"] == pytest.approx(stamp.timestamp(), abs=0.001)

    def again() -> None:
        time.sleep(0.8)
        recent.turn_duration(400)

    threading.Thread(target=again, daemon=True).start()
    last = CliRunner().invoke(app, ["watch", str(path), "-n", "1", "--json", "--until", "result"])
    assert last.exit_code == 0, last.stderr
    everything = path.read_text().splitlines()
    assert last.stdout.splitlines() == [everything[-2], everything[-1]]
    assert lines[0] not in last.stdout


def test_demo_local_writes_a_transcript_and_follows_it() -> None:
    """demo --local: a transcript written as a session would, followed to its end."""
    result = CliRunner().invoke(app, ["demo", "--local", "--speed", "0", "--format", "pretty"])
    assert result.exit_code == 0, result.stderr
    assert "Why does the checkout test fail on CI" in result.stdout
    assert "agent · Find the rounding" in result.stdout
    assert "■ success" in result.stdout


def test_top_without_a_terminal_says_so_and_exits_2() -> None:
    """top needs a terminal unless --json; it says so before looking up any credential."""
    result = CliRunner().invoke(app, ["top"])
    assert result.exit_code == ExitCode.USAGE
    assert "terminal" in result.stderr


def test_top_help_names_every_key_the_view_answers_to() -> None:
    """top --help lists the view's keys as they are: p opens the prompt (a and d act
    inside it), and nothing bound is left out."""
    from sesstail.top.app import PromptScreen, TopApp

    result = CliRunner().invoke(app, ["top", "--help"], env={"TERM": "dumb"})
    assert result.exit_code == 0
    words = " ".join(result.stdout.split())
    for binding in (*TopApp.BINDINGS, *PromptScreen.BINDINGS):
        if isinstance(binding, tuple) or not binding.show or binding.key == "escape":
            continue
        assert f"{binding.key} {binding.description}" in words, binding.key
    assert "a/d" not in words


def test_top_json_prints_a_line_per_session_from_the_list() -> None:
    """top --json against the embedded server (v2 list, auto): one JSON line per session."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "sesstail", "top", "--json"),
                *("--base-url", srv.base_url, "--org", ORG),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.terminate()
        proc.communicate(timeout=20)
    item = json.loads(first)
    assert item["id"] == "session_01TestStream"
    assert any(p.startswith("/v1/code/sessions") for p in srv.request_paths)


def test_local_and_remote_sessions_in_one_watch(transcript: TranscriptWriter) -> None:
    """A local transcript and a remote session followed together, each line labelled, each
    session to its next result."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:

        def later() -> None:
            time.sleep(0.8)
            transcript.prompt("more")
            transcript.turn_duration(300)

        threading.Thread(target=later, daemon=True).start()
        result = CliRunner().invoke(
            app,
            [
                *("watch", SESSION_UUID, "session_01TestStream", "--until", "result"),
                *("--format", "pretty", "--base-url", srv.base_url, "--org", ORG),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == 0, result.stderr
    from sesstail.multi import session_labels

    labels = session_labels([SESSION_UUID, "session_01TestStream"])
    lines = result.stdout.splitlines()
    for label in labels.values():
        assert any(line.startswith(label) for line in lines), label
    assert "more" in result.stdout  # the local session's new turn
    assert result.stdout.count("■ success") >= 3  # its two turns and the remote result


def test_replay_of_a_varied_transcript_draws_no_line_as_json(tmp_path: Path) -> None:
    """Every kind of line a session writes is drawn as a conversation, hidden as bookkeeping,
    or (a slash command and its output) drawn as the stream draws them — none falls back to
    the one-line JSON summary of unknown messages, and a command's colour codes are gone."""
    path = tmp_path / f"{SESSION_UUID}.jsonl"
    w = TranscriptWriter(path, SESSION_UUID)
    w.write({"type": "summary", "summary": "Checkout fix", "leafUuid": str(SESSION_UUID)})
    w.file_history_snapshot()
    w.prompt("why does checkout fail?")
    w.write(w.assistant([{"type": "thinking", "thinking": "Run it first.", "signature": "Eq"}]))
    call, _ = w.tool_use("Bash", {"command": "npm test", "description": "Run the tests"})
    w.hook_progress(call)
    w.write(
        w.envelope(
            "progress",
            data={"type": "bash_progress", "output": "FAIL", "elapsedTimeSeconds": 2},
            toolUseID="bash-progress-0",
            parentToolUseID=call,
        )
    )
    w.tool_result(call, "FAIL checkout", {"stdout": "FAIL checkout", "stderr": ""}, is_error=True)
    w.write({"type": "queue-operation", "operation": "enqueue", "content": "and lint"})
    w.write(
        w.envelope(
            "system",
            subtype="api_error",
            level="error",
            error={"status": 529, "error": {"error": {"message": "Overloaded"}}},
            retryInMs=1000,
            retryAttempt=1,
            maxRetries=10,
        )
    )
    w.local_command("/model", "opus", output="Set model to \x1b[1mopus\x1b[22m")
    w.reply("Fixed the rounding.")
    w.write(
        w.envelope(
            "system",
            subtype="stop_hook_summary",
            hookCount=1,
            hookInfos=[{"command": "stop.sh"}],
            hookErrors=[],
            preventedContinuation=False,
        )
    )
    w.turn_duration(4200)
    w.write(
        w.envelope(
            "system",
            subtype="compact_boundary",
            content="Conversation compacted",
            compactMetadata={"trigger": "auto", "preTokens": 150000},
        )
    )
    w.write(
        w.envelope(
            "user",
            message={"role": "user", "content": "This session is being continued…"},
            isCompactSummary=True,
        )
    )
    result = CliRunner().invoke(app, ["replay", str(path), "-o", "pretty", "--color", "never"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    noise = [
        line for line in out.splitlines() if line.lstrip(" │").startswith("· ") and "{" in line
    ]
    assert noise == []
    assert "❯ /model opus" in out
    assert "⎿ Set model to opus" in out
    assert "\x1b" not in out
    assert "\\u001b" not in out
    for drawn in ("why does checkout fail?", "npm test", "Fixed the rounding.", "■ success"):
        assert drawn in out
    assert "API retry 1/10" in out
    assert "context compacted" in out


def test_a_failing_hook_is_drawn_with_what_it_said(tmp_path: Path) -> None:
    """The bookkeeping that is shown because it matters — a Stop hook that failed or stopped
    the session, a hook's error attachment — reads as a failed hook with its message, not as
    a JSON summary cut before the error; a session's new title reads as one."""
    path = tmp_path / f"{SESSION_UUID}.jsonl"
    w = TranscriptWriter(path, SESSION_UUID)
    w.prompt("tidy up")
    w.write(
        w.envelope(
            "system",
            subtype="stop_hook_summary",
            hookCount=2,
            hookInfos=[{"command": "~/.claude/hooks/check.sh"}, {"command": "npm run lint"}],
            hookErrors=["Stop hook error: [npm run lint]: 3 problems (3 errors)"],
            preventedContinuation=False,
            stopReason="",
            hasOutput=True,
            level="warning",
        )
    )
    w.write(
        w.envelope(
            "system",
            subtype="stop_hook_summary",
            hookCount=1,
            hookInfos=[{"command": "guard.sh"}],
            hookErrors=[],
            preventedContinuation=True,
            stopReason="the tests must pass first",
        )
    )
    w.write(
        w.envelope(
            "attachment",
            attachment={
                "type": "hook_non_blocking_error",
                "hookName": "PostToolUse:Edit",
                "hookEvent": "PostToolUse",
                "stderr": "prettier: command not found",
                "stdout": "",
                "exitCode": 127,
                "toolUseID": "toolu_01x",
            },
        )
    )
    w.write({"type": "custom-title", "customTitle": "Checkout fix", "sessionId": SESSION_UUID})
    result = CliRunner().invoke(app, ["replay", str(path), "-o", "pretty", "--color", "never"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "{" not in out
    assert "✗ stop hook failed" in out
    assert "3 problems (3 errors)" in out
    assert "✗ stop hook stopped the session" in out
    assert "the tests must pass first" in out
    assert "✗ hook PostToolUse:Edit failed (exit 127)" in out
    assert "prettier: command not found" in out
    assert "Checkout fix" in out


def test_bookkeeping_asked_for_reads_as_one_dim_line_each(tmp_path: Path) -> None:
    """-t naming the bookkeeping (hidden by default) shows each line as what it is — a hook
    running, Bash running with its last output line, a queued prompt, the summary, a file
    snapshot, the Stop hooks passing — never as a JSON summary."""
    path = tmp_path / f"{SESSION_UUID}.jsonl"
    w = TranscriptWriter(path, SESSION_UUID)
    w.write({"type": "summary", "summary": "Checkout fix", "leafUuid": SESSION_UUID})
    w.file_history_snapshot()
    w.prompt("run it")
    call, _ = w.tool_use("Bash", {"command": "npm test"})
    w.hook_progress(call)
    w.write(
        w.envelope(
            "progress",
            data={"type": "bash_progress", "output": "PASS a\nPASS b", "elapsedTimeSeconds": 3},
            toolUseID="bash-progress-0",
            parentToolUseID=call,
        )
    )
    w.write({"type": "queue-operation", "operation": "enqueue", "content": "then lint"})
    w.write(
        w.envelope("system", subtype="stop_hook_summary", hookCount=1, hookErrors=[], hookInfos=[])
    )
    kinds = ["summary", "file-history-snapshot", "progress", "queue-operation"]
    args = [f"--type={kind}" for kind in [*kinds, "system/stop_hook_summary"]]
    result = CliRunner().invoke(
        app, ["replay", str(path), "-o", "pretty", "--color", "never", *args]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "· summary: Checkout fix",
        "· file history snapshot (0 files)",
        "· hook PostToolUse:Edit running: npx prettier --write",
        "· Bash running 3.0 s: PASS b",
        "· prompt queue: enqueue then lint",
        "· stop hooks ok (1 hook)",
    ]


def test_replay_verbose_draws_a_transcripts_bookkeeping(tmp_path: Path) -> None:
    """replay -v, like watch -v: the bookkeeping hidden by default is drawn too."""
    path = tmp_path / f"{SESSION_UUID}.jsonl"
    w = TranscriptWriter(path, SESSION_UUID)
    w.file_history_snapshot()
    w.prompt("hello")
    quiet = CliRunner().invoke(app, ["replay", str(path), "-o", "pretty", "--color", "never"])
    loud = CliRunner().invoke(app, ["replay", str(path), "-o", "pretty", "--color", "never", "-v"])
    assert quiet.exit_code == loud.exit_code == 0
    assert "file history snapshot" not in quiet.stdout
    assert "· file history snapshot (0 files)" in loud.stdout
    assert "❯ hello" in loud.stdout
