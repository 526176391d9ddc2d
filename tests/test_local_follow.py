"""Following a local transcript as it grows: from the start or the end, the last N, live lines,
truncation, replacement and rewrites shown once, sub-agent files, unfinished lines, and the
wait/--until semantics (what was there before is backfill)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sesstail.control import State, wait_for_state
from sesstail.local.demo import TranscriptWriter
from sesstail.local.follow import LocalSession
from sesstail.protocol import Message, TypeFilter
from sesstail.watch import WatchOptions

POLL = 0.02


class Follower:
    """A source's messages collected in the background while the test writes."""

    def __init__(self, source: LocalSession) -> None:
        self.messages: list[Message] = []
        self._iterator = source.messages()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Follower:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async for msg in self._iterator:
            self.messages.append(msg)

    async def until(self, ready: Callable[[list[Message]], bool], timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not ready(self.messages):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(wait(), timeout)

    async def count(self, n: int) -> None:
        await self.until(lambda got: len(got) >= n)

    def texts(self) -> list[str]:
        return [text_of(m) for m in self.messages]


def text_of(msg: Message) -> str:
    message = msg.obj.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        block = content[0]
        return str(block.get("text") or block.get("content") or block.get("name"))
    return msg.type


async def settle() -> None:
    """Several polls' time: long enough for anything written to have been read."""
    await asyncio.sleep(POLL * 10)


def session(path: Path, **kwargs: Any) -> LocalSession:
    return LocalSession(path, poll=POLL, **kwargs)


async def test_the_transcript_from_the_start_then_live_as_it_grows(tmp_path: Path) -> None:
    """What is in the file comes first (marked backfill), then each line as it is written
    (not backfill), each with its line as written in the file."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("one")
    writer.reply("two")
    async with Follower(session(path)) as follower:
        await follower.count(2)
        written = writer.prompt("three")
        await follower.count(3)
        writer.reply("four")
        await follower.count(4)
    assert follower.texts() == ["one", "two", "three", "four"]
    assert [m.backfill for m in follower.messages] == [True, True, False, False]
    assert follower.messages[2].line == json.dumps(written, separators=(",", ":"))
    assert follower.messages[2].obj["session_id"] == writer.session_id


async def test_last_n_and_since_choose_what_is_shown_first(tmp_path: Path) -> None:
    """last=N: the last N messages already there; since=T: those at or after T."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path, clock=1_764_000_000.0)  # line k at 1_764_000_000 + k
    for word in ("a", "b", "c", "d", "e"):
        writer.prompt(word)
    last = [m async for m in session(path, last=2, follow=False).messages()]
    since = [m async for m in session(path, since=1_764_000_004.0, follow=False).messages()]
    assert [text_of(m) for m in last] == ["d", "e"]
    assert [text_of(m) for m in since] == ["d", "e"]
    assert since[0].received_at == 1_764_000_004.0


async def test_start_at_end_skips_what_was_there(tmp_path: Path) -> None:
    """start="end": nothing already written is read, even an unfinished last line's
    beginning; the next lines are."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("old")
    async with Follower(session(path, start="end")) as follower:
        await settle()
        writer.prompt("new")
        await follower.count(1)
        await settle()
    assert follower.texts() == ["new"]


async def test_a_truncated_file_is_read_again_and_nothing_is_shown_twice(tmp_path: Path) -> None:
    """Truncated (and written again, shorter): what was shown is not shown again; what is
    new in it is."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    lines = [writer.prompt(w) for w in ("one", "two", "three")]
    warnings: list[str] = []
    async with Follower(session(path, warn=warnings.append)) as follower:
        await follower.count(3)
        path.write_text(json.dumps(lines[0]) + "\n")  # shorter: truncated
        await settle()
        writer.prompt("four")
        await follower.count(4)
        await settle()
    assert follower.texts() == ["one", "two", "three", "four"]
    assert any("truncated or replaced" in w for w in warnings)


async def test_a_replaced_file_is_followed_and_nothing_is_shown_twice(tmp_path: Path) -> None:
    """Replaced by another file (a new inode, renamed over it) holding the same lines and
    more: only the new ones are shown, and the new file is followed from then on."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("one")
    writer.prompt("two")
    async with Follower(session(path)) as follower:
        await follower.count(2)
        other = tmp_path / "other.jsonl"
        other.write_bytes(path.read_bytes())
        os.replace(other, path)
        writer.prompt("three")
        await follower.count(3)
        writer.prompt("four")
        await follower.count(4)
        await settle()
    assert follower.texts() == ["one", "two", "three", "four"]


async def test_a_rewrite_in_place_is_noticed_even_when_the_file_grew(tmp_path: Path) -> None:
    """Rewritten in place with other lines, longer than before, within one poll: the bytes
    before the read position changed, so it is read again; new uuids shown once each."""
    path = tmp_path / "s.jsonl"
    first = TranscriptWriter(path)
    first.prompt("one")
    async with Follower(LocalSession(path, poll=0.3)) as follower:
        await follower.count(1)
        rewritten = tmp_path / "rewritten.jsonl"
        second = TranscriptWriter(rewritten, first.session_id)
        for word in ("alpha", "beta", "gamma"):
            second.prompt(word)
        with path.open("r+b") as f:  # same inode, bigger, not one line of it the same
            f.write(rewritten.read_bytes())
        await follower.count(4)
        await asyncio.sleep(0.7)
    assert follower.texts() == ["one", "alpha", "beta", "gamma"]


async def test_sub_agent_files_are_followed_and_progress_copies_shown_once(
    tmp_path: Path,
) -> None:
    """A sub-agent's file that appears while following is read; its messages carry the
    Task call as parent_tool_use_id; the same messages carried by agent_progress lines in
    the main file (same uuids) are shown once."""
    path = tmp_path / "sid.jsonl"
    main = TranscriptWriter(path, "sid")
    main.prompt("explore")
    async with Follower(session(path)) as follower:
        await follower.count(1)
        task, _ = main.tool_use("Task", {"description": "look", "prompt": "look around"})
        agents = tmp_path / "sid" / "subagents"
        agents.mkdir(parents=True)
        agent = TranscriptWriter(agents / "agent-a1.jsonl", "sid", agent_id="a1")
        first = agent.write(
            agent.envelope("user", message={"role": "user", "content": "look around"})
        )
        main.agent_progress(task, "a1", first)
        reply = agent.write(agent.assistant([{"type": "text", "text": "found it"}]))
        await follower.count(4)
        main.agent_progress(task, "a1", reply)  # after the file's copy: a duplicate
        main.reply("done")
        await follower.count(5)
        await settle()
    assert follower.texts() == ["explore", "Task", "look around", "found it", "done"]
    parents = [m.obj.get("parent_tool_use_id") for m in follower.messages]
    assert parents == [None, None, task, task, None]


async def test_the_backlog_of_main_and_sub_agent_files_is_merged_by_time(tmp_path: Path) -> None:
    """Already written: the sub-agent's lines come between the main file's lines by their
    timestamps, not after the whole main file."""
    path = tmp_path / "sid.jsonl"
    main = TranscriptWriter(path, "sid", clock=100.0)
    agents = tmp_path / "sid" / "subagents"
    agents.mkdir(parents=True)
    agent = TranscriptWriter(agents / "agent-b.jsonl", "sid", clock=101.5, agent_id="b")
    main.prompt("first")  # 101
    agent.write(agent.envelope("user", message={"role": "user", "content": "sub"}))  # 102.5
    main.prompt("second")  # 102
    main.prompt("third")  # 103
    got = [text_of(m) async for m in session(path, follow=False).messages()]
    assert got == ["first", "second", "sub", "third"]


async def test_a_files_own_order_holds_live_when_its_timestamps_go_back(tmp_path: Path) -> None:
    """Live lines of several files are merged by time, but never reordered within one file:
    a line whose timestamp is earlier than the one before it (a clock set back, a writer
    with its own clock) still comes after it, as in the file."""
    path = tmp_path / "sid.jsonl"
    main = TranscriptWriter(path, "sid", clock=100.0)
    agents = tmp_path / "sid" / "subagents"
    agents.mkdir(parents=True)
    agent = TranscriptWriter(agents / "agent-c.jsonl", "sid", clock=50.0, agent_id="c")
    main.prompt("first")  # 101
    async with Follower(session(path)) as follower:
        await follower.count(1)
        late = TranscriptWriter(path, "sid", clock=10.0)
        lines = [
            json.dumps(main.envelope("user", message={"role": "user", "content": "second"})),
            json.dumps(late.envelope("user", message={"role": "user", "content": "third"})),
        ]
        sub = agent.envelope("user", message={"role": "user", "content": "sub"})  # 51
        with path.open("a") as f:  # both in one poll
            f.write("\n".join(lines) + "\n")
        agent.write(sub)
        await follower.count(4)
        await settle()
    got = follower.texts()
    assert got.index("second") < got.index("third")
    assert sorted(got) == sorted(["first", "second", "third", "sub"])


async def test_an_unfinished_line_waits_for_its_newline(tmp_path: Path) -> None:
    """A line being written shows once whole; a last line that stays without a newline is
    taken when it is a whole JSON object."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    line = json.dumps(writer.envelope("user", message={"role": "user", "content": "slow"}))
    async with Follower(session(path)) as follower:
        with path.open("a") as f:
            f.write(line[:20])
            f.flush()
            await settle()
            assert follower.messages == []
            f.write(line[20:] + "\n")
        await follower.count(1)
        tail = json.dumps(
            writer.envelope("user", message={"role": "user", "content": "no newline"})
        )
        with path.open("a") as f:
            f.write(tail)
        await follower.count(2)
        await settle()
    assert follower.texts() == ["slow", "no newline"]


async def test_bookkeeping_is_hidden_unless_verbose_or_asked_for(tmp_path: Path) -> None:
    """file-history-snapshot and hook progress are left out; verbose shows them; a -t
    pattern that names one shows that one."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.file_history_snapshot()
    call, _ = writer.tool_use("Bash", {"command": "ls"})
    writer.hook_progress(call)

    async def kinds(**kwargs: Any) -> list[str]:
        got = [m async for m in session(path, follow=False, **kwargs).messages()]
        return [m.obj["type"] + "/" + str(m.obj.get("subtype", "")) for m in got]

    asked = WatchOptions(TypeFilter(include=["progress/hook_progress"]))
    assert await kinds() == ["assistant/"]
    assert await kinds(verbose=True) == [
        "file-history-snapshot/",
        "assistant/",
        "progress/hook_progress",
    ]
    assert await kinds(options=asked) == ["assistant/", "progress/hook_progress"]


async def test_a_line_beyond_the_limit_is_skipped_and_the_rest_followed(tmp_path: Path) -> None:
    """A line longer than the limit is reported and dropped, not held; the next line shows."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("before")
    with path.open("a") as f:
        f.write('{"type":"user","x":"' + "x" * 3_000_000 + '"}\n')
    writer.prompt("after")
    warnings: list[str] = []
    got = [
        m
        async for m in session(
            path, follow=False, max_line=100_000, warn=warnings.append
        ).messages()
    ]
    assert [text_of(m) for m in got] == ["before", "after"]
    assert len(warnings) == 1
    assert "longer than 100,000 bytes" in warnings[0]


async def test_wait_until_result_ignores_the_results_already_written(tmp_path: Path) -> None:
    """wait_for_state(result) on a local session: a turn that ended before does not count
    (backfill); the next turn's end (turn_duration → result) does."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("earlier")
    writer.turn_duration(1000)

    async def later() -> None:
        await settle()
        writer.prompt("now")
        writer.reply("working")
        writer.turn_duration(2500)

    task = asyncio.create_task(later())
    msg = await wait_for_state(session(path, last=20), State.result, timeout=5)
    await task
    assert msg is not None
    assert msg.obj["type"] == "result"
    assert msg.obj["duration_ms"] == 2500


async def test_wait_until_idle_sees_a_session_already_idle(tmp_path: Path) -> None:
    """wait_for_state(idle) with the last messages as backfill: a session whose last turn
    ended is idle once nothing new starts."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("earlier")
    writer.turn_duration(1000)
    msg = await wait_for_state(session(path, last=20), State.idle, timeout=5, settle=0.1)
    assert msg is not None
    assert msg.obj["type"] == "result"


async def test_start_at_end_never_counts_an_old_result(tmp_path: Path) -> None:
    """start="end" for wait --until result: an old result is not even read, so a wait
    with nothing new times out rather than matching it."""
    from sesstail.errors import ControlTimeout

    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("earlier")
    writer.turn_duration(1000)
    with pytest.raises(ControlTimeout):
        await wait_for_state(
            LocalSession(path, start="end", poll=POLL, history_is_backfill=False),
            State.result,
            timeout=0.3,
        )


async def test_a_10_mb_transcript_is_read_and_drawn_in_under_2_seconds(tmp_path: Path) -> None:
    """watch of a local 10 MB transcript: read, mapped and drawn by the pretty renderer in
    well under 2 s (about 0.7 s here)."""
    import io
    import time

    from sesstail.render.pretty import PrettyRenderer
    from sesstail.watch import watch

    path = tmp_path / "big.jsonl"
    writer = TranscriptWriter(path, clock=1_764_000_000.0)
    output = "\n".join(f"tests/test_{i}.py::test_case PASSED [{i}%]" for i in range(80))
    lines: list[str] = []
    size = 0
    while size < 10 * 2**20:
        call = f"toolu_{len(lines)}"
        turn = (
            writer.envelope("user", message={"role": "user", "content": "run the tests again"}),
            writer.assistant([{"type": "text", "text": "Running **all** the `tests`."}]),
            writer.assistant(
                [{"type": "tool_use", "id": call, "name": "Bash", "input": {"command": "pytest"}}]
            ),
            writer.envelope(
                "user",
                message={
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call, "content": output}],
                },
                toolUseResult={"stdout": output, "stderr": "", "interrupted": False},
            ),
            writer.envelope("system", subtype="turn_duration", durationMs=3000),
        )
        encoded = [json.dumps(obj) + "\n" for obj in turn]
        lines.extend(encoded)
        size += sum(len(line) for line in encoded)
    path.write_text("".join(lines))
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, timestamps=False)
    started = time.perf_counter()
    await watch(LocalSession(path, follow=False), renderer, WatchOptions(TypeFilter()))
    took = time.perf_counter() - started
    print(f"local 10 MB transcript, {len(lines)} lines: drawn in {took:.2f} s")
    assert out.getvalue().count("■ success") == len(lines) // 5
    assert took < 2.0


async def test_lines_that_are_not_messages_are_reported_and_skipped(tmp_path: Path) -> None:
    """Junk in a transcript (not JSON, an array, no type) is reported through warn with the
    file's name, and the messages around it still come."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("before")
    with path.open("a") as f:
        f.write('not json\n[1, 2]\n{"no": "type"}\n')
    writer.prompt("after")
    warnings: list[str] = []
    got = [m async for m in session(path, follow=False, warn=warnings.append).messages()]
    assert [text_of(m) for m in got] == ["before", "after"]
    assert len(warnings) == 3
    assert warnings[0].startswith("s.jsonl: not valid JSON: 'not json'")


async def test_sub_agent_files_of_the_older_layout_beside_the_transcript(tmp_path: Path) -> None:
    """Versions 2.0.24+ wrote agent-<id>.jsonl beside the transcript: one whose lines name
    this session is followed (also when it appears later); another session's is not."""
    sid = "9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
    path = tmp_path / f"{sid}.jsonl"
    main = TranscriptWriter(path, sid, clock=100.0)
    main.prompt("main")
    other = TranscriptWriter(tmp_path / "agent-x1.jsonl", "someone-else", agent_id="x1")
    other.write(other.envelope("user", message={"role": "user", "content": "not ours"}))
    async with Follower(session(path)) as follower:
        await follower.count(1)
        ours = TranscriptWriter(tmp_path / "agent-y2.jsonl", sid, agent_id="y2")
        ours.write(ours.envelope("user", message={"role": "user", "content": "ours"}))
        await follower.count(2)
        await settle()
    assert follower.texts() == ["main", "ours"]
    assert isinstance(follower.messages[1].obj["parent_tool_use_id"], str)


async def test_a_finished_file_without_a_last_newline_is_read_whole(tmp_path: Path) -> None:
    """follow=False (history, a finished file): a last line without its newline is still a
    message when it is whole; a cut one is not."""
    path = tmp_path / "s.jsonl"
    writer = TranscriptWriter(path)
    writer.prompt("one")
    last = json.dumps(writer.envelope("user", message={"role": "user", "content": "two"}))
    with path.open("a") as f:
        f.write(last)
    got = [text_of(m) async for m in session(path, follow=False).messages()]
    assert got == ["one", "two"]
    path.write_text(path.read_text()[:-5])
    cut = [text_of(m) async for m in session(path, follow=False).messages()]
    assert cut == ["one"]


async def test_several_local_sessions_follow_together_with_labels(tmp_path: Path) -> None:
    """follow_many (several sessions in one watch) takes local sources as they are: each
    drawn by its own labelled renderer, the exit code 0 when both end."""
    import io

    from sesstail.multi import Followed, follow_many, session_labels
    from sesstail.render.pretty import PrettyRenderer

    ids = ["0b6c8a52-31f4-4c1e-9d7a-5e2f1c3b4a01", "7e9d1f20-aa3b-4c5d-8e6f-102030405060"]
    labels = session_labels(ids)
    out = io.StringIO()
    followed = []
    for sid in ids:
        path = tmp_path / f"{sid}.jsonl"
        TranscriptWriter(path, sid).prompt(f"hello from {sid[:4]}")
        renderer = PrettyRenderer(out, color=False, label=labels[sid])
        followed.append(Followed(sid, labels[sid], session(path, follow=False), renderer))
    code = await follow_many(followed, WatchOptions(TypeFilter()), print)
    text = out.getvalue()
    assert code == 0
    assert f"{labels[ids[0]].strip()} ❯ hello from 0b6c" in text
    assert f"{labels[ids[1]].strip()} ❯ hello from 7e9d" in text
