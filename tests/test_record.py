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

import pytest
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


@pytest.mark.parametrize("api", ["v1", "v2", "auto"])
def test_record_then_replay_reproduces_the_output(tmp_path: Path, api: str) -> None:
    """What watch printed, replay prints again from the recording, in JSONL and pretty,
    whichever API carried the session."""
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
            watched = watch(server, "--format", fmt, "--record", str(recording), "--api", api)
        assert watched.exit_code == 0, watched.stderr
        replayed = replay(str(recording), "--format", fmt)
        assert replayed.exit_code == 0, replayed.stderr
        assert replayed.stdout == watched.stdout
        assert replayed.stderr == ""


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_recording_keeps_every_raw_message_with_its_time(tmp_path: Path, api: str) -> None:
    """Filtered-out messages are recorded too, as received (v2: the event's payload as the
    server wrote it), each with a receive time."""
    raw = ['{"type": "system", "uuid": "r0",  "odd": [1, 2]}', '{"type":"result","uuid":"r1"}']
    served = ServedSession(SESSION, raw, [0.0, 0.0])
    recording = tmp_path / "rec.jsonl"
    before = time.time()
    with serving(served, faults=Faults(end_with_close=True)) as server:
        result = watch(server, "--json", "-t", "result", "--record", str(recording), "--api", api)
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


# -- input files (issue 9), sizes and gaps (issue 8), transcripts (issue 11) ---------------------


def _capture(n: int = 3) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages(n))


def test_a_utf8_bom_and_crlf_lines_are_accepted(tmp_path: Path) -> None:
    """A BOM before the first line and CRLF line ends: every message replays, nothing skipped."""
    capture = tmp_path / "bom.jsonl"
    capture.write_bytes(b"\xef\xbb\xbf" + _capture().replace("\n", "\r\n").encode())
    result = replay(str(capture), "--json")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["uuid"] for line in result.stdout.splitlines()] == ["m0", "m1", "m2"]
    assert result.stderr == ""


def test_a_utf16_file_is_read_whole(tmp_path: Path) -> None:
    """PowerShell's `>` writes UTF-16 LE with a BOM (and CRLF): replay reads it as UTF-16,
    from a file and from stdin; without a BOM too."""
    text = _capture().replace("\n", "\r\n")
    with_bom = tmp_path / "ps.jsonl"
    with_bom.write_bytes(text.encode("utf-16"))  # BOM + little-endian here
    without_bom = tmp_path / "bare.jsonl"
    without_bom.write_bytes(text.encode("utf-16-be"))
    for result in (
        replay(str(with_bom), "--json"),
        replay(str(without_bom), "--json"),
        CliRunner().invoke(app, ["replay", "-", "--json"], input=text.encode("utf-16")),
    ):
        assert result.exit_code == 0, result.stderr
        assert [json.loads(line)["uuid"] for line in result.stdout.splitlines()] == [
            "m0",
            "m1",
            "m2",
        ]


def test_utf16_given_as_decoded_text_is_refused_not_nothing() -> None:
    """Lines already decoded from UTF-16 as if UTF-8 (NULs in them) cannot be read back:
    a usage error saying so, never "nothing, exit 0"."""
    from sesstail.errors import UsageError
    from sesstail.protocol import TypeFilter
    from sesstail.record import replay as replay_lines
    from sesstail.watch import WatchOptions

    decoded = _capture().encode("utf-16-le").decode("utf-8", "replace").splitlines(keepends=True)
    shown: list[Any] = []
    renderer = type(
        "R", (), {"message": lambda self, m: shown.append(m), "close": lambda self: None}
    )
    with pytest.raises(UsageError, match="UTF-16"):
        replay_lines(decoded, renderer(), WatchOptions(TypeFilter()), speed=None, warn=print)
    assert shown == []


def test_an_input_with_no_message_at_all_fails(tmp_path: Path) -> None:
    """A file none of whose lines is a message (a wrong file) exits 2 with a message."""
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nworld\n")
    result = replay(str(junk), "--json")
    assert result.exit_code == 2
    assert "nothing to replay" in result.stderr
    assert result.stdout == ""


def test_a_line_beyond_the_limit_is_skipped_in_bounded_memory() -> None:
    """A line longer than the limit (here 1 MB; 256 MiB by default) with no newline for 30 MB
    is reported by number and read past without holding it: the lines after it replay."""
    import io
    import tracemalloc

    from sesstail.record import input_lines

    capture = _capture(2).encode()
    data = capture + b'{"type":"user","x":"' + b"x" * 30_000_000 + b'"}\n' + capture
    warnings: list[str] = []
    tracemalloc.start()
    try:
        lines = list(input_lines(io.BytesIO(data), warnings.append, max_line=1_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [n for n, _ in lines] == [1, 2, 4, 5]
    assert warnings == ["line 3: longer than 1,000,000 characters; skipped"]
    assert peak < 8_000_000


def test_realtime_pauses_are_capped() -> None:
    """--realtime with a 1e300 s gap (or hours) pauses at most MAX_GAP_S, never crashes."""
    from sesstail.protocol import TypeFilter
    from sesstail.record import MAX_GAP_S
    from sesstail.record import replay as replay_lines
    from sesstail.watch import WatchOptions

    stamps = [1.0, 1.5, 1e300]
    lines = [
        json.dumps({"recorded_at": at, "message": m})
        for at, m in zip(stamps, messages(3), strict=True)
    ]
    pauses: list[float] = []
    renderer = type("R", (), {"message": lambda self, m: None, "close": lambda self: None})
    replay_lines(
        lines, renderer(), WatchOptions(TypeFilter()), speed=1.0, warn=print, sleep=pauses.append
    )
    assert pauses == [0.5, MAX_GAP_S]
    assert MAX_GAP_S <= 60


def test_replay_of_a_transcript_realtime_uses_its_timestamps(tmp_path: Path) -> None:
    """A transcript's `timestamp` is each message's time: --realtime keeps its gaps."""
    from sesstail.local.demo import TranscriptWriter
    from sesstail.protocol import TypeFilter
    from sesstail.record import replay as replay_lines
    from sesstail.watch import WatchOptions

    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path, clock=1_764_000_000.0)  # one second per line
    writer.prompt("hi")
    writer.reply("hello")
    writer.reply("again")
    pauses: list[float] = []
    renderer = type("R", (), {"message": lambda self, m: None, "close": lambda self: None})
    with path.open("rb") as f:
        replay_lines(
            f, renderer(), WatchOptions(TypeFilter()), speed=2.0, warn=print, sleep=pauses.append
        )
    assert pauses == [0.5, 0.5]


def _long_transcript(path: Path, size: int) -> int:
    """A transcript of about ``size`` bytes, shaped like a long real session: prompts,
    replies in Markdown, Bash/Read/Edit calls with sizeable results, sub-agent progress,
    hook progress and file-history snapshots. The number of lines."""
    from sesstail.local.demo import TranscriptWriter

    writer = TranscriptWriter(path, clock=1_764_000_000.0)
    output = "\n".join(f"src/module_{i}.py:{i}: def handler_{i}(request): ..." for i in range(60))
    turn = 0
    while path.exists() is False or path.stat().st_size < size:
        turn += 1
        writer.file_history_snapshot()
        writer.prompt(f"Turn {turn}: find every handler and add a timeout to each of them.")
        writer.reply(f"I'll look for the handlers first.\n\n- step **{turn}**\n- then `grep`")
        call, _ = writer.tool_use("Bash", {"command": "grep -rn 'def handler' src"})
        writer.tool_result(call, output, {"stdout": output, "stderr": "", "interrupted": False})
        writer.hook_progress(call)
        read, _ = writer.tool_use("Read", {"file_path": "/home/dev/shop/src/module_1.py"})
        writer.tool_result(read, output, {"type": "text", "file": {"content": output}})
        task, _ = writer.tool_use("Task", {"description": "Check", "prompt": f"p{turn}"})
        inner = writer.assistant([{"type": "text", "text": "Checked: all handlers found."}])
        writer.agent_progress(task, f"ag{turn}", inner)
        edit, _ = writer.tool_use(
            "Edit",
            {"file_path": "src/module_1.py", "old_string": "def a():", "new_string": "def b():"},
        )
        writer.tool_result(edit, "The file was updated.", {"filePath": "src/module_1.py"})
        writer.reply("Done: every handler now has a **timeout**.")
        writer.turn_duration(4200)
    with path.open("rb") as f:
        return sum(1 for _ in f)


def test_a_transcript_replays_as_a_conversation_not_json(tmp_path: Path) -> None:
    """Replaying a transcript draws every line as the conversation: no compact JSON lines
    (the `· type {…}` fallback) for bookkeeping, sub-agents or turn ends; each turn ends
    with its result footer. --json keeps the file's own lines, bookkeeping left out."""
    path = tmp_path / "session.jsonl"
    _long_transcript(path, 30_000)
    pretty = replay(str(path), "--format", "pretty", "--color", "never")
    assert pretty.exit_code == 0, pretty.stderr
    shown = pretty.stdout.splitlines()
    assert not [line for line in shown if line.startswith("· ")]
    turns = pretty.stdout.count("Turn ")
    assert turns > 1
    assert pretty.stdout.count("■ success · 4.2 s") == turns
    assert pretty.stdout.count("Checked: all handlers found.") == turns
    jsonl = replay(str(path), "--json")
    written = path.read_text().splitlines()
    kept = [
        line
        for line in written
        if json.loads(line)["type"] not in ("file-history-snapshot", "progress")
        or "agent_progress" in line
    ]
    assert jsonl.stdout.splitlines() == kept


def test_a_10_mb_transcript_is_drawn_in_under_2_seconds(tmp_path: Path) -> None:
    """Pretty replay of a 10 MB transcript through the pretty renderer into memory stays
    well under 2 s (about 0.6 s here)."""
    import io

    from sesstail.protocol import TypeFilter
    from sesstail.record import replay as replay_lines
    from sesstail.render.pretty import PrettyRenderer
    from sesstail.watch import WatchOptions

    path = tmp_path / "big.jsonl"
    lines = _long_transcript(path, 10 * 2**20)
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, timestamps=False)
    started = time.perf_counter()
    with path.open("rb") as f:
        skipped = replay_lines(f, renderer, WatchOptions(TypeFilter()), speed=None, warn=print)
    took = time.perf_counter() - started
    print(f"10 MB transcript, {lines} lines: drawn in {took:.2f} s")
    assert skipped == 0
    assert out.getvalue().count("■ success") > 100
    assert took < 2.0


def test_serve_reads_input_files_as_replay_does(tmp_path: Path) -> None:
    """`serve FILE` takes what replay takes: a UTF-8 BOM and CRLF lines, UTF-16 with or
    without a BOM; and a line holding a raw U+2028 or U+0085 (valid inside a JSON string)
    stays one line."""
    text = _capture().replace("\n", "\r\n")
    files = {
        "bom.jsonl": b"\xef\xbb\xbf" + text.encode(),
        "ps.jsonl": text.encode("utf-16"),
        "bare.jsonl": text.encode("utf-16-be"),
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        [served] = load_session_file(path)
        assert [json.loads(m)["uuid"] for m in served.messages] == ["m0", "m1", "m2"], name
    prompt = {"type": "user", "uuid": "u1", "message": {"role": "user", "content": "a\u2028b\x85c"}}
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps(prompt, ensure_ascii=False) + "\n", encoding="utf-8")
    [served] = load_session_file(odd)
    assert [json.loads(m) for m in served.messages] == [prompt]
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"type": "user", "x": "caf\xe9"}\n')
    from sesstail.errors import UsageError

    with pytest.raises(UsageError, match="not UTF-8 or UTF-16 text"):
        load_session_file(latin)
