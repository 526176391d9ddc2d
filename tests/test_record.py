"""watch --record and replay: recordings are complete, flushed per line, and render again
exactly as watched; serve plays them back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from conftest import ORG, SESSION, TOKEN, messages, session
from sesstail.cli import app
from sesstail.server import Faults, ServedSession, SessionsServer, load_session_file
from sesstail.server.thread import server_thread

FAST = ["--retry-delay", "0.01", "--retries", "2", "--open-timeout", "2"]


@contextmanager
def serving(*sessions: ServedSession, **kwargs: Any) -> Iterator[SessionsServer]:
    kwargs.setdefault("speed", 0)
    with server_thread(SessionsServer(sessions or [session()], **kwargs)) as server:
        yield server


def watch(server: SessionsServer, *args: str) -> Any:
    base = ["--base-url", server.base_url, "--org", ORG, *FAST]
    return CliRunner().invoke(
        app, ["watch", SESSION, *args, *base], env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
    )


def replay(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["replay", *args], input=stdin)


def test_record_then_replay_reproduces_the_output(tmp_path: Path) -> None:
    """What watch printed, replay prints again from the recording, in JSONL and pretty."""
    objs = messages(8)
    objs[3]["message"]["content"] = [
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
    ]
    objs[4] = {
        "type": "user",
        "uuid": "m4",
        "message": {"content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"}]},
    }
    served = ServedSession.from_objects(SESSION, objs)
    for fmt in ("jsonl", "pretty"):
        recording = tmp_path / f"{fmt}.jsonl"
        with serving(served, faults=Faults(end_with_close=True)) as server:
            watched = watch(server, "--format", fmt, "--record", str(recording))
        assert watched.exit_code == 0, watched.stderr
        replayed = replay(str(recording), "--format", fmt)
        assert replayed.exit_code == 0, replayed.stderr
        assert replayed.stdout == watched.stdout
        assert replayed.stderr == ""


def test_recording_keeps_every_raw_message_with_its_time(tmp_path: Path) -> None:
    """Filtered-out messages are recorded too, as received, each with a receive time."""
    raw = ['{"type": "system", "uuid": "r0",  "odd": [1, 2]}', '{"type":"result","uuid":"r1"}']
    served = ServedSession(SESSION, raw, [0.0, 0.0])
    recording = tmp_path / "rec.jsonl"
    before = time.time()
    with serving(served, faults=Faults(end_with_close=True)) as server:
        result = watch(server, "--json", "-t", "result", "--record", str(recording))
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in recording.read_text().splitlines()]
    assert [r["message"]["uuid"] for r in records] == ["r0", "r1"]
    assert all(before <= r["recorded_at"] <= time.time() for r in records)
    assert recording.read_text().splitlines()[0].endswith('"message":' + raw[0] + "}")


def test_a_killed_watch_loses_nothing_already_recorded(tmp_path: Path) -> None:
    """The recording is flushed per line: SIGKILL after N messages leaves N whole lines."""
    recording = tmp_path / "rec.jsonl"
    served = ServedSession.from_objects(SESSION, messages(30), gap=0.05)
    with serving(served, speed=1) as server:
        env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
        argv = [sys.executable, "-m", "sesstail", "watch", SESSION, "--json"]
        argv += ["--base-url", server.base_url, "--org", ORG, "--record", str(recording)]
        with subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        ) as process:
            try:
                assert process.stdout is not None
                shown = [process.stdout.readline() for _ in range(5)]
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
    recorded = recording.read_text().splitlines()
    assert len(recorded) >= 5
    assert [json.loads(line)["message"] for line in recorded[:5]] == [
        json.loads(line) for line in shown
    ]
    for line in recorded:
        json.loads(line)  # every line whole


def test_truncated_recording_reports_the_line_and_renders_the_rest(tmp_path: Path) -> None:
    """A recording cut mid-line: that line is reported by number, the others are rendered."""
    recording = tmp_path / "cut.jsonl"
    lines = [
        json.dumps({"recorded_at": 1700000000.0 + i, "message": m})
        for i, m in enumerate(messages(5))
    ]
    recording.write_text("\n".join(lines[:4]) + "\nnot json at all\n" + lines[4][:30])
    result = replay(str(recording), "--json")
    assert result.exit_code == 0
    assert [json.loads(line)["uuid"] for line in result.stdout.splitlines()] == [
        "m0",
        "m1",
        "m2",
        "m3",
    ]
    assert "line 5: not valid JSON" in result.stderr
    assert "line 6: not valid JSON" in result.stderr


def test_deeply_nested_lines_are_skipped_in_replay_and_refused_by_serve(tmp_path: Path) -> None:
    """A line nested beyond any parser's depth: replay skips it by number and goes on (also a
    recording of it); serve names the file and line (exit 2). No RecursionError."""
    deep = '{"type":"w","x":' + "[" * 5000 + "]" * 5000 + "}"
    recorded = '{"recorded_at":1,"message":' + deep + "}"
    ok = [json.dumps(m) for m in messages(3)]
    capture = tmp_path / "deep.jsonl"
    capture.write_text("\n".join([ok[0], deep, ok[1], recorded, ok[2]]) + "\n")
    result = replay(str(capture), "--json")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["uuid"] for line in result.stdout.splitlines()] == ["m0", "m1", "m2"]
    assert "line 2: JSON nested too deeply; skipped" in result.stderr
    assert "line 4: JSON nested too deeply; skipped" in result.stderr
    served = CliRunner().invoke(app, ["serve", "--port", "0", str(capture)])
    assert served.exit_code == 2
    assert f"{capture}:2: JSON nested too deeply" in served.stderr
    assert "Recursion" not in result.stderr + served.stderr


def test_replay_takes_plain_jsonl_from_stdin_with_filters() -> None:
    """A --json capture replays as is from stdin; --type applies as in watch."""
    capture = "".join(json.dumps(m) + "\n" for m in messages(4))
    everything = replay("-", "--json", stdin=capture)
    results = replay("-", "--json", "--type", "result", stdin=capture)
    assert everything.stdout == capture
    assert [json.loads(line)["uuid"] for line in results.stdout.splitlines()] == ["m3"]


def test_replay_timing_instant_by_default_realtime_on_request(tmp_path: Path) -> None:
    """Default: no pauses even for a long recorded gap; --realtime --speed 4 (or --speed 4
    alone) keeps 1/4 of the recorded gaps."""
    recording = tmp_path / "slow.jsonl"
    stamps = [1700000000.0, 1700000000.4, 1700000000.8]
    recording.write_text(
        "".join(
            json.dumps({"recorded_at": at, "message": m}) + "\n"
            for at, m in zip(stamps, messages(3), strict=True)
        )
    )
    long_gap = tmp_path / "gap.jsonl"
    long_gap.write_text(recording.read_text().replace("1700000000.8", "1700009999.0"))
    started = time.monotonic()
    instant = replay(str(long_gap), "--json")
    instant_took = time.monotonic() - started
    started = time.monotonic()
    paced = replay(str(recording), "--json", "--realtime", "--speed", "4")
    paced_took = time.monotonic() - started
    started = time.monotonic()
    sped = replay(str(recording), "--json", "--speed", "4")  # --speed alone keeps the timing
    sped_took = time.monotonic() - started
    assert instant.exit_code == paced.exit_code == sped.exit_code == 0
    assert instant_took < 2
    assert paced_took >= 0.19
    assert sped_took >= 0.19


def test_serve_plays_a_recording_again(tmp_path: Path) -> None:
    """A recording is a session file: serve loads the same messages, with their gaps."""
    recording = tmp_path / "rec.jsonl"
    with serving(session(5), faults=Faults(end_with_close=True)) as server:
        watched = watch(server, "--json", "--record", str(recording))
    [served] = load_session_file(recording)
    assert served.session_id == SESSION
    assert [json.loads(m) for m in served.messages] == [
        json.loads(line) for line in watched.stdout.splitlines()
    ]


def test_a_recording_of_several_sessions_is_served_as_several(tmp_path: Path) -> None:
    """`watch A B --record` then `serve` of that file: A and B again, each with its own
    messages in order (a message without a session id stays with the one before it)."""
    other = "session_01OtherStream"
    recording = tmp_path / "both.jsonl"
    sessions = (session(4), session(3, other))
    with serving(*sessions, faults=Faults(end_with_close=True, connections=None)) as server:
        result = watch(server, other, "--json", "--record", str(recording))
    assert result.exit_code == 0, result.stderr
    with recording.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"recorded_at": 1e10, "message": {"type": "keep_alive"}}) + "\n")
    served = {s.session_id: s for s in load_session_file(recording)}
    assert set(served) == {SESSION, other}
    uuids = {sid: [json.loads(m).get("uuid") for m in s.messages] for sid, s in served.items()}
    assert uuids[SESSION][:4] == ["m0", "m1", "m2", "m3"]
    assert uuids[other][:3] == ["m0", "m1", "m2"]
    last = json.loads(recording.read_text().splitlines()[-2])["message"]["session_id"]
    assert uuids[last][-1] is None  # the keep_alive joined the session recorded before it
    assert len(uuids[SESSION]) + len(uuids[other]) == 8
    assert all(0.0 <= gap <= 3.0 for s in served.values() for gap in s.gaps)
