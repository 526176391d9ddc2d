"""Finding local sessions (ls --local), resolving a watch argument to a transcript, telling a
local target from a remote id, the table, and the demo session written as a session would."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path

import pytest

from sesstail.errors import SessionNotFound, UsageError
from sesstail.local.demo import TranscriptWriter, demo_transcript_path, write_demo_session
from sesstail.local.follow import LocalSession
from sesstail.local.sessions import (
    is_local_target,
    list_local_sessions,
    project_dir_name,
    projects_dir,
    resolve_local,
    write_jsonl,
)
from sesstail.render.local_table import render_local_sessions, size_text

A = "0b6c8a52-31f4-4c1e-9d7a-5e2f1c3b4a01"
B = "7e9d1f20-aa3b-4c5d-8e6f-102030405060"
C = "c1c2c3c4-d5d6-4e7f-8a9b-0c1d2e3f4a5b"


def make_session(root: Path, project: str, session_id: str, prompt: str, mtime: float) -> Path:
    directory = root / project_dir_name(project)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{session_id}.jsonl"
    writer = TranscriptWriter(path, session_id, cwd=project)
    writer.file_history_snapshot()
    meta = writer.envelope(
        "user",
        message={"role": "user", "content": "Caveat: the messages below were generated…"},
        isMeta=True,
    )
    writer.write(meta)
    writer.prompt(prompt)
    writer.reply("On it.")
    os.utime(path, (mtime, mtime))
    return path


def test_sessions_are_listed_newest_first_with_title_project_and_size(tmp_path: Path) -> None:
    """Each transcript under projects/: id, the first typed prompt (not the snapshot or the
    isMeta caveat) as title, the cwd as project, its size and sub-agents; newest first."""
    root = tmp_path / "projects"
    make_session(root, "/home/dev/shop", A, "Fix the checkout test\nand more", 1_000_000)
    newest = make_session(root, "/home/dev/blog", B, "Write the release notes", 3_000_000)
    make_session(root, "/home/dev/shop", C, "Add a rounding test", 2_000_000)
    agents = root / "-home-dev-blog" / B / "subagents"
    agents.mkdir(parents=True)
    (agents / "agent-a1.jsonl").write_text("")
    os.utime(agents / "agent-a1.jsonl", (3_000_500, 3_000_500))
    (root / "-home-dev-blog" / "notes.jsonl").write_text("{}\n")  # not a session id: ignored
    sessions = list_local_sessions(root=root)
    assert [s["id"] for s in sessions] == [B, C, A]
    first = sessions[0]
    assert first["title"] == "Write the release notes"
    assert first["project"] == "/home/dev/blog"
    assert first["size"] == newest.stat().st_size
    assert first["subagents"] == 1
    assert first["updated_at"] == "1970-02-04T17:28:20Z"  # the sub-agent wrote last
    assert first["path"] == str(newest)
    assert sessions[2]["title"] == "Fix the checkout test"
    assert [s["id"] for s in list_local_sessions(root=root, limit=2)] == [B, C]


def test_a_session_whose_sub_agent_wrote_last_is_listed_by_that_write(tmp_path: Path) -> None:
    """The order is the last activity shown: a session whose transcript is older but whose
    sub-agent is writing now comes before one whose transcript was written in between, and
    --limit keeps it."""
    root = tmp_path / "projects"
    make_session(root, "/home/dev/shop", A, "Long refactor", 1_000_000)
    make_session(root, "/home/dev/blog", B, "Release notes", 2_000_000)
    agents = root / "-home-dev-shop" / A / "subagents"
    agents.mkdir(parents=True)
    (agents / "agent-x.jsonl").write_text("")
    os.utime(agents / "agent-x.jsonl", (3_000_000, 3_000_000))
    sessions = list_local_sessions(root=root)
    assert [s["id"] for s in sessions] == [A, B]
    assert sessions[0]["updated_at"] > sessions[1]["updated_at"]
    assert [s["id"] for s in list_local_sessions(root=root, limit=1)] == [A]


def test_a_slash_command_first_is_the_title(tmp_path: Path) -> None:
    """A session started with a slash command is titled by the command and its arguments."""
    path = tmp_path / "projects" / "-p" / f"{A}.jsonl"
    path.parent.mkdir(parents=True)
    writer = TranscriptWriter(path, A)
    content = (
        "<command-name>/review</command-name>\n<command-message>review</command-message>\n"
        "<command-args>PR 12</command-args>"
    )
    writer.write(writer.envelope("user", message={"role": "user", "content": content}))
    [session] = list_local_sessions(root=tmp_path / "projects")
    assert session["title"] == "/review PR 12"


def test_claude_config_dir_moves_the_projects_directory(tmp_path: Path) -> None:
    """$CLAUDE_CONFIG_DIR/projects when set, else ~/.claude/projects."""
    assert projects_dir({"CLAUDE_CONFIG_DIR": str(tmp_path)}) == tmp_path / "projects"
    assert projects_dir({}) == Path.home() / ".claude" / "projects"


def test_json_lines_are_the_dicts_one_per_line(tmp_path: Path) -> None:
    """ls --local --json: each session's dict as one JSON line, nothing else."""
    root = tmp_path / "projects"
    make_session(root, "/w", A, "hello", 1_000_000)
    out = io.StringIO()
    write_jsonl(list_local_sessions(root=root), out)
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["id"] == A
    assert json.loads(line)["title"] == "hello"


def test_the_table_keeps_ids_whole_and_shows_titles_as_text(tmp_path: Path) -> None:
    """The table: the whole id, the title with escapes made visible and [markup] literal,
    the project with ~ for home, a readable size."""
    sessions = [
        {
            "id": A,
            "title": "\x1b[31mred[/] [bold]x",
            "project": str(Path.home() / "code" / "shop"),
            "updated_at": "2026-12-01T10:00:00Z",
            "size": 4_200,
            "subagents": 0,
        }
    ]
    out = io.StringIO()
    render_local_sessions(sessions, out, color=False, now=1_796_119_500.0)
    text = out.getvalue()
    assert A in text
    assert "\\x1b[31mred[/] [bold]x" in text
    assert "~/code/shop" in text
    assert "5 min ago" in text
    assert "4.2 kB" in text
    assert "\x1b" not in text


def test_sizes_read_as_people_write_them() -> None:
    """Bytes, kB, MB: one decimal under 100, none above."""
    assert [size_text(n) for n in (0, 999, 4_200, 13_400_000, 250_000_000)] == [
        "0 B",
        "999 B",
        "4.2 kB",
        "13.4 MB",
        "250 MB",
    ]
    assert size_text(None) == ""


def test_a_session_id_resolves_to_its_transcript_and_sub_agents(tmp_path: Path) -> None:
    """A bare UUID is looked up under projects/*/; its sub-agents' directory comes with it."""
    root = tmp_path / "projects"
    path = make_session(root, "/w", A, "hello", 1_000_000)
    target = resolve_local(A.upper(), root=root)
    assert target.session_id == A
    assert target.transcript == path
    assert target.subagents == path.parent / A / "subagents"


def test_a_path_resolves_to_itself_and_bad_ones_are_refused(tmp_path: Path) -> None:
    """A path to a .jsonl is taken as it is; a missing one is a usage error (exit 2); an
    unknown session id is not found (exit 4)."""
    path = tmp_path / "anything.jsonl"
    path.write_text("")
    assert resolve_local(str(path)).transcript == path
    with pytest.raises(UsageError):
        resolve_local(str(tmp_path / "missing.jsonl"))
    with pytest.raises(SessionNotFound):
        resolve_local(B, root=tmp_path / "projects")


def test_local_targets_are_told_from_remote_session_ids(tmp_path: Path) -> None:
    """UUIDs, .jsonl paths and existing files are local; session_… ids and URLs are not."""
    existing = tmp_path / "transcript"
    existing.write_text("")
    assert is_local_target(A)
    assert is_local_target("~/somewhere/x.jsonl")
    assert is_local_target(str(existing))
    assert not is_local_target("session_01AbCdEf")
    assert not is_local_target("https://claude.ai/code/session_01AbC")
    assert not is_local_target("not-a-file")


async def test_the_demo_writes_a_session_that_a_follower_sees_live(tmp_path: Path) -> None:
    """demo --local: the transcript appears line by line (the follower has the prompt
    before the demo ends), with a tool call and result, the sub-agent's messages once each
    under its Task call, the slash command, and the turn's result; bookkeeping hidden."""
    path = demo_transcript_path(tmp_path)
    assert path.parent.parent == tmp_path / "projects"
    writing = asyncio.create_task(write_demo_session(path, pause=0.05))
    got = []
    seen_before_end = False

    async def follow() -> None:
        nonlocal seen_before_end
        async for msg in LocalSession(path, poll=0.02, history_is_backfill=False).messages():
            got.append(msg)
            seen_before_end = seen_before_end or not writing.done()
            if msg.obj["type"] == "result":
                return

    await asyncio.wait_for(follow(), 10)
    await writing
    kinds = [m.obj["type"] for m in got]
    assert seen_before_end
    assert kinds[0] == "user"
    assert kinds[-1] == "result"
    assert "file-history-snapshot" not in kinds
    assert "progress" not in kinds
    sub_agent = [m for m in got if isinstance(m.obj.get("parent_tool_use_id"), str)]
    assert len(sub_agent) == 3
    assert len({m.obj["uuid"] for m in sub_agent}) == 3
    assert any(m.obj.get("command") == "/model opus" for m in got)
    results = [m for m in got if "tool_use_result" in m.obj]
    assert len(results) == 2
    assert [s["id"] for s in list_local_sessions(root=tmp_path / "projects")] == [path.stem]


async def test_demo_local_draws_the_session_and_ends_on_its_own(tmp_path: Path) -> None:
    """LocalDemo is a whole demo --local: watch() draws it with the pretty renderer as a
    conversation (no JSON fallback lines but the slash command's) and returns when the
    session has been written and read."""
    from sesstail.local.demo import LocalDemo
    from sesstail.protocol import TypeFilter
    from sesstail.render.pretty import PrettyRenderer
    from sesstail.watch import WatchOptions, watch

    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, timestamps=False, width=100)
    demo = LocalDemo(tmp_path, pause=0.01, poll=0.02)
    await asyncio.wait_for(watch(demo, renderer, WatchOptions(TypeFilter())), 10)
    text = out.getvalue()
    assert "Why does the checkout test fail" in text
    assert "npm test -- checkout" in text
    assert "src/price.ts:14 rounds down." in text
    assert text.count("src/price.ts:14 rounds down.") == 1
    assert "■ success · 9.4 s" in text
    fallback = [line for line in text.splitlines() if line.startswith("· ")]
    assert all("local_command" in line for line in fallback)
    assert demo.path.exists()


def test_one_projects_sessions_by_its_directory(tmp_path: Path) -> None:
    """project=: only the sessions of that working directory, found by Claude Code's
    spelling of it as a directory name (every non-alphanumeric character a dash)."""
    assert project_dir_name("/home/dev/my_app.v2") == "-home-dev-my-app-v2"
    root = tmp_path / "projects"
    make_session(root, "/home/dev/shop", A, "one", 1_000_000)
    make_session(root, "/home/dev/my_app", B, "two", 2_000_000)
    make_session(root, "/home/dev/my_app", C, "three", 3_000_000)
    assert [s["id"] for s in list_local_sessions(root=root, project="/home/dev/my_app")] == [C, B]
    assert [s["id"] for s in list_local_sessions(root=root, project="/home/dev/shop")] == [A]


def test_since_takes_a_duration_ago_or_a_time() -> None:
    """--since 10m / 2h / 1d / 90s is that long before now; an ISO time is that time;
    anything else is a usage error."""
    from sesstail.local.sessions import parse_since

    now = 1_796_119_200.0
    assert parse_since("10m", now) == now - 600
    assert parse_since("2h", now) == now - 7200
    assert parse_since("1d", now) == now - 86400
    assert parse_since("90s", now) == now - 90
    assert parse_since("2026-12-01T10:00:00Z", now) == 1_796_119_200.0
    for bad in ("yesterday", "10 parsecs", "", "9" * 40):
        with pytest.raises(UsageError):
            parse_since(bad, now)
