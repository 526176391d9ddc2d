"""Transcripts written as a local session writes them: for ``sesstail demo --local`` and tests.

``TranscriptWriter`` composes lines in the transcript format (``uuid``, ``parentUuid``,
``sessionId``, ``timestamp``, ``cwd``, ``type``, ``message``, ``toolUseResult``, ``progress``
lines carrying a sub-agent's messages, bookkeeping lines) and appends them to a file, one
flushed line at a time, as Claude Code does. ``write_demo_session`` plays a short session into
a file with pauses, so that a follower has something to follow live.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid as uuid_module
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sesstail.protocol import Message

DEMO_CWD = "/home/dev/shop"
VERSION = "2.1.0"


def iso(epoch: float) -> str:
    """Epoch seconds as a transcript timestamp: ``2026-12-01T21:30:00.123Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TranscriptWriter:
    """Appends transcript lines to ``path``; each method returns the object it wrote."""

    def __init__(
        self,
        path: Path,
        session_id: str | None = None,
        *,
        cwd: str = DEMO_CWD,
        clock: float | None = None,
        agent_id: str | None = None,
    ) -> None:
        self.path = path
        self.session_id = session_id or str(uuid_module.uuid4())
        self.cwd = cwd
        self.agent_id = agent_id  # set: a sub-agent's file, every line a sidechain
        self._clock = clock
        self._last_uuid: str | None = None
        self._calls = 0

    def now(self) -> float:
        """The time written into the next line; a fixed clock steps one second per line."""
        if self._clock is None:
            return time.time()
        self._clock += 1.0
        return self._clock

    def write(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Append one line, as is, flushed."""
        with self.path.open("ab") as f:
            f.write(orjson.dumps(obj) + b"\n")
        return obj

    def envelope(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The fields every conversation line carries, chained to the line before."""
        line_uuid = str(uuid_module.uuid4())
        obj: dict[str, Any] = {
            "parentUuid": self._last_uuid,
            "isSidechain": self.agent_id is not None,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION,
            "gitBranch": "main",
        }
        if self.agent_id is not None:
            obj["agentId"] = self.agent_id
        obj.update(fields)
        obj.update({"type": kind, "uuid": line_uuid, "timestamp": iso(self.now())})
        self._last_uuid = line_uuid
        return obj

    # -- conversation lines --------------------------------------------------------------------

    def prompt(self, text: str) -> dict[str, Any]:
        return self.write(self.envelope("user", message={"role": "user", "content": text}))

    def reply(self, text: str, *, message_id: str | None = None) -> dict[str, Any]:
        return self.write(self.assistant([{"type": "text", "text": text}], message_id=message_id))

    def assistant(
        self, content: list[dict[str, Any]], *, message_id: str | None = None
    ) -> dict[str, Any]:
        message = {
            "id": message_id or f"msg_01{uuid_module.uuid4().hex[:20]}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": content,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 40, "cache_read_input_tokens": 900},
        }
        return self.envelope("assistant", message=message, requestId="req_011CVdemo")

    def tool_use(self, name: str, tool_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A tool call; its id and the line."""
        self._calls += 1
        call_id = f"toolu_01Demo{self._calls:04d}{uuid_module.uuid4().hex[:8]}"
        block = {"type": "tool_use", "id": call_id, "name": name, "input": tool_input}
        return call_id, self.write(self.assistant([block]))

    def tool_result(
        self, call_id: str, content: str, tool_use_result: Any, *, is_error: bool = False
    ) -> dict[str, Any]:
        block = {
            "tool_use_id": call_id,
            "type": "tool_result",
            "content": content,
            "is_error": is_error,
        }
        message = {"role": "user", "content": [block]}
        return self.write(self.envelope("user", message=message, toolUseResult=tool_use_result))

    # -- sub-agents, bookkeeping, turn ends ----------------------------------------------------

    def agent_progress(
        self, task_call_id: str, agent_id: str, inner: dict[str, Any]
    ) -> dict[str, Any]:
        """A ``progress`` line carrying one of a sub-agent's messages (``inner``, a line as the
        sub-agent's own file would hold it)."""
        data = {
            "message": {k: inner[k] for k in ("type", "message", "uuid", "timestamp")},
            "normalizedMessages": [],
            "type": "agent_progress",
            "prompt": "",
            "agentId": agent_id,
        }
        return self.write(
            self.envelope(
                "progress",
                data=data,
                toolUseID=f"agent_msg_{uuid_module.uuid4().hex[:12]}",
                parentToolUseID=task_call_id,
            )
        )

    def hook_progress(self, call_id: str) -> dict[str, Any]:
        data = {
            "type": "hook_progress",
            "hookEvent": "PostToolUse",
            "hookName": "PostToolUse:Edit",
            "command": "npx prettier --write",
        }
        return self.write(
            self.envelope("progress", data=data, toolUseID=call_id, parentToolUseID=call_id)
        )

    def file_history_snapshot(self) -> dict[str, Any]:
        message_id = str(uuid_module.uuid4())
        snapshot = {"messageId": message_id, "trackedFileBackups": {}, "timestamp": iso(self.now())}
        return self.write(
            {
                "type": "file-history-snapshot",
                "messageId": message_id,
                "snapshot": snapshot,
                "isSnapshotUpdate": False,
            }
        )

    def local_command(self, name: str, args: str = "", output: str | None = None) -> None:
        content = (
            f"<command-name>{name}</command-name>\n"
            f"            <command-message>{name.lstrip('/')}</command-message>\n"
            f"            <command-args>{args}</command-args>"
        )
        self.write(self.envelope("system", subtype="local_command", content=content, level="info"))
        if output is not None:
            stdout = f"<local-command-stdout>{output}</local-command-stdout>"
            self.write(
                self.envelope("system", subtype="local_command", content=stdout, level="info")
            )

    def turn_duration(self, duration_ms: int) -> dict[str, Any]:
        return self.write(
            self.envelope("system", subtype="turn_duration", durationMs=duration_ms, isMeta=False)
        )


def demo_transcript_path(directory: Path, session_id: str | None = None) -> Path:
    """Where ``demo --local`` writes: ``<dir>/projects/<project>/<session-id>.jsonl``, the
    layout of ``$CLAUDE_CONFIG_DIR``, so ``ls --local`` finds it with that variable set."""
    sid = session_id or str(uuid_module.uuid4())
    project = directory / "projects" / DEMO_CWD.replace("/", "-")
    project.mkdir(parents=True, exist_ok=True)
    return project / f"{sid}.jsonl"


async def write_demo_session(path: Path, *, pause: float = 0.4) -> None:
    """Play a short local session into ``path`` (and its sub-agent file), a line at a time
    with ``pause`` seconds between lines: a prompt, a Bash call and its result, a sub-agent
    (its messages in the main file as ``progress`` lines and in its own file), a slash
    command, bookkeeping, the answer and the turn's end."""
    session_id = path.stem
    main = TranscriptWriter(path, session_id)
    agent_id = "a3f9c2e"
    agent_dir = path.parent / session_id / "subagents"
    agent_dir.mkdir(parents=True, exist_ok=True)
    agent = TranscriptWriter(agent_dir / f"agent-{agent_id}.jsonl", session_id, agent_id=agent_id)

    async def step() -> None:
        await asyncio.sleep(pause)

    main.file_history_snapshot()
    main.prompt("Why does the checkout test fail on CI but not locally?")
    await step()
    main.reply("Let me run the test first and look at the failure.")
    await step()
    call, _ = main.tool_use(
        "Bash", {"command": "npm test -- checkout", "description": "Run the checkout tests"}
    )
    await step()
    output = (
        "FAIL checkout.test.ts\n  ✕ applies the discount (12 ms)\n"
        "    Expected: 90\n    Received: 89.99"
    )
    main.tool_result(
        call,
        output,
        {"stdout": output, "stderr": "", "interrupted": False, "isImage": False},
        is_error=True,
    )
    main.hook_progress(call)
    await step()
    prompt = "Find where the discount is rounded and report the file and line."
    task, _ = main.tool_use(
        "Task",
        {"description": "Find the rounding", "prompt": prompt, "subagent_type": "Explore"},
    )
    await step()
    for inner in (
        agent.write(agent.envelope("user", message={"role": "user", "content": prompt})),
        agent.write(
            agent.assistant([{"type": "text", "text": "Searching for Math.round in src/."}])
        ),
        agent.write(agent.assistant([{"type": "text", "text": "src/price.ts:14 rounds down."}])),
    ):
        main.agent_progress(task, agent_id, inner)
        await step()
    main.tool_result(
        task,
        "src/price.ts:14 rounds with Math.floor instead of Math.round.",
        {"status": "completed", "agentId": agent_id, "totalDurationMs": 2100},
    )
    await step()
    main.local_command("/model", "opus", output="Set model to opus")
    await step()
    main.reply(
        "The discount is rounded down with `Math.floor` in `src/price.ts:14`; CI runs in UTC, "
        "where the price lands on a different cent. Use `Math.round` there."
    )
    await step()
    main.turn_duration(9400)


class LocalDemo:
    """``sesstail demo --local`` as a ``MessageSource``: writes the demo session into
    ``directory`` (see ``demo_transcript_path``) while following it with ``LocalSession``,
    and ends once the session has been written and read whole."""

    def __init__(self, directory: Path, *, pause: float = 0.4, **follow: Any) -> None:
        self.path = demo_transcript_path(directory)
        self.pause = pause
        self.follow = follow  # more LocalSession options: verbose, options, warn, poll

    async def messages(self) -> AsyncIterator[Message]:
        from sesstail.local.follow import LocalSession

        done = asyncio.Event()

        async def write() -> None:
            try:
                await write_demo_session(self.path, pause=self.pause)
            finally:
                done.set()

        writer = asyncio.create_task(write())
        source = LocalSession(self.path, history_is_backfill=False, stop=done, **self.follow)
        try:
            async for msg in source.messages():
                yield msg
            await writer  # its failure, if any, is the demo's
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
