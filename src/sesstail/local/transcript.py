"""The transcript of a local Claude Code session, read as the stream's messages (PROTOCOL §5).

A local session writes ``<session-id>.jsonl`` under ``$CLAUDE_CONFIG_DIR/projects/<project>/``
(its sub-agents: ``<session-id>/subagents/agent-<id>.jsonl``), one JSON object per line, close
to the stream's messages but not the same. This module is the one place that knows how they
differ; renderers, filters, ``--until`` and ``wait`` downstream see stream-shaped objects.

==========================================  ===================================================
transcript line                             read as
==========================================  ===================================================
``user`` / ``assistant``                    the same, plus the stream's names for camelCase
                                            fields: ``session_id`` (``sessionId``),
                                            ``tool_use_result`` (``toolUseResult``),
                                            ``parent_tool_use_id``; ``isMeta`` and
                                            ``isCompactSummary`` are the stream's names too
``isSidechain: true`` (a sub-agent's file,  a sub-agent's message: ``parent_tool_use_id`` is
or the main file of older versions)         its Task call when known
``progress`` with ``data.type``             ``data.message``, as the sub-agent's message
``agent_progress``                          (``parent_tool_use_id`` = ``parentToolUseID``)
``system/compact_boundary``                 plus ``compact_metadata`` (``pre_tokens``, …)
``system/api_error``                        ``system/api_retry`` (``attempt``, ``max_retries``,
                                            ``retry_delay_ms``, ``error_status``)
``system/turn_duration``                    ``result``: the end of a turn, with its duration,
                                            tokens and ``result`` (the turn's last reply), so
                                            ``--until result`` and ``wait`` work; ``subtype``
                                            ``interrupted`` after an interruption, else
                                            ``success``
``system/local_command`` (older versions:  one line: the slash command, or its output;
a ``user`` line of ``<command-name>`` or    the caveat before them (``isMeta``) is
``<local-command-stdout>``)                 bookkeeping
other ``progress``, ``file-history-         bookkeeping: ``hidden`` (shown with ``-v``, or
snapshot``, ``queue-operation``,            when a ``-t`` pattern names it); ``progress``
``summary``, ``attachment``, a passing      gets ``subtype`` = its ``data.type``, so
``system/stop_hook_summary``                ``-t progress/hook_progress`` names one kind
anything else (``custom-title``, …)         as is, less the fields every line carries
                                            (shown compactly, never dropped)
==========================================  ===================================================

Each line's ``timestamp`` is the message's time (``Mapped.at``). One line is one message, never
more, so that JSONL output can stay the file's own lines: ``Message.line`` is the line as
written in the transcript and ``Message.obj`` the mapped object. ``--json`` of a local session
therefore prints what ``tail -f`` would (minus hidden bookkeeping), while filters match the
mapped types — ``-t assistant`` also passes a ``progress`` line that carries a sub-agent's
reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Types only transcripts have: a line of one of these is a transcript line, whatever else.
TRANSCRIPT_ONLY_TYPES = frozenset(
    {
        "progress",
        "file-history-snapshot",
        "queue-operation",
        "summary",
        "attachment",
        "custom-title",
    }
)
# ``attachment``: context Claude Code gave the model (a reminder, a mentioned file), not said.
_BOOKKEEPING_TYPES = frozenset(
    {"file-history-snapshot", "queue-operation", "summary", "attachment"}
)
_BOOKKEEPING_SYSTEM = frozenset({"stop_hook_summary"})
_INTERRUPTED = "[Request interrupted by user"
_COMMAND_TAGS = ("<command-name>", "<local-command-stdout>", "<local-command-stderr>")
# What every transcript line carries: left out of bookkeeping, whose one dim line (under -v)
# should show what the line is about.
_ENVELOPE = frozenset(
    {
        "parentUuid",
        "logicalParentUuid",
        "isSidechain",
        "userType",
        "entrypoint",
        "cwd",
        "sessionId",
        "version",
        "gitBranch",
        "slug",
    }
)
# Task calls and sub-agents remembered at once; a long session starts hundreds at most.
_MEMORY = 4096


@dataclass(frozen=True, slots=True)
class Mapped:
    """One transcript line read as a stream message."""

    obj: dict[str, Any]  # stream-shaped: what renderers, filters and --until look at
    key: str | None  # what tells it from the others (its uuid); None: use the line's bytes
    at: float | None  # the line's timestamp, epoch seconds
    hidden: bool = False  # bookkeeping: shown only with -v or when a -t pattern names it


def looks_like_transcript(obj: dict[str, Any]) -> bool:
    """Whether a line is a transcript's rather than a stream message or a recording."""
    return "parentUuid" in obj or "sessionId" in obj or obj.get("type") in TRANSCRIPT_ONLY_TYPES


def epoch_of(value: Any) -> float | None:
    """An ISO 8601 timestamp (``2026-12-01T21:30:00.123Z``) in epoch seconds; None if not one."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00", 1)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _between(text: str, tag: str) -> str | None:
    """The text inside ``<tag>…</tag>``, found without a regex (remote text: stay linear)."""
    start = text.find(f"<{tag}>")
    if start < 0:
        return None
    start += len(tag) + 2
    end = text.find(f"</{tag}>", start)
    return text[start:] if end < 0 else text[start:end]


def _remember(memory: dict[str, Any], key: str, value: Any) -> None:
    memory[key] = value
    if len(memory) > _MEMORY:
        del memory[next(iter(memory))]


def _text_of(message: Any) -> str | None:
    """A user message's typed text (a prompt), or None for tool results and the like."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if texts:
            return "\n".join(texts)
    return None


class TranscriptMapper:
    """Maps one session's lines, in order; it remembers what later lines refer back to (which
    Task call started which sub-agent, the tokens of the turn so far).

    Use one mapper per session (main file and sub-agent files together)."""

    def __init__(self) -> None:
        self._agent_calls: dict[str, str] = {}  # agentId → the Task call's tool_use_id
        self._task_prompts: dict[str, str] = {}  # a Task call's prompt → its tool_use_id
        self._turn_usage: dict[str, dict[str, Any]] = {}  # message id → its latest usage
        self._interrupted = False
        # The text of the turn's latest reply, by message id: the result's ``result``.
        self._reply_id: str | None = None
        self._reply: list[str] = []

    def map(self, obj: dict[str, Any]) -> Mapped:
        """Read one parsed transcript line (an object with a string ``type``)."""
        kind = obj["type"]
        at = epoch_of(obj.get("timestamp"))
        key = obj.get("uuid") if isinstance(obj.get("uuid"), str) else None
        if kind == "user" and obj.get("isSidechain") is not True:
            typed = _text_of(obj.get("message"))
            if typed is not None and typed.lstrip().startswith(_COMMAND_TAGS):
                # Older versions wrote slash commands and their output as user lines.
                return self._local_command({**self._common(obj), "content": typed}, key, at)
            if typed is not None and obj.get("isMeta") is True and _is_caveat(typed):
                return Mapped(_lean(self._common(obj)), key, at, hidden=True)
        if kind in ("user", "assistant"):
            return Mapped(self._conversation(obj, None), key, at)
        if kind == "progress":
            return self._progress(obj, key, at)
        if kind == "system":
            return self._system(obj, key, at)
        # Anything else (custom-title, types to come) is drawn compactly: without the fields
        # every line carries, so that its one line shows what it is about.
        hidden = kind in _BOOKKEEPING_TYPES and not (kind == "attachment" and _failed_hook(obj))
        return Mapped(_lean(self._common(obj)), key, at, hidden=hidden)

    # -- the conversation ----------------------------------------------------------------------

    @staticmethod
    def _common(obj: dict[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        if "session_id" not in out and isinstance(obj.get("sessionId"), str):
            out["session_id"] = obj["sessionId"]
        return out

    def _conversation(self, obj: dict[str, Any], parent: str | None) -> dict[str, Any]:
        out = self._common(obj)
        if "toolUseResult" in obj and "tool_use_result" not in obj:
            out["tool_use_result"] = obj["toolUseResult"]
        if obj.get("isApiErrorMessage") is True and not obj.get("error"):
            out["error"] = "api_error"
        if not isinstance(obj.get("parent_tool_use_id"), str):
            if parent is None and obj.get("isSidechain") is True:
                parent = self._sub_agent_call(obj)
            out["parent_tool_use_id"] = parent
        self._note(out)
        return out

    def _sub_agent_call(self, obj: dict[str, Any]) -> str:
        """The Task call a sub-agent's line belongs to, or a stand-in that still marks it as a
        sub-agent's (the renderer indents anything with a parent)."""
        agent = obj.get("agentId")
        agent_id = agent if isinstance(agent, str) else ""
        call = self._agent_calls.get(agent_id)
        if call is None and obj.get("type") == "user":
            # The sub-agent's first prompt is the Task call's prompt: that names the call
            # before its result (which carries the agentId) is written.
            prompt = _text_of(obj.get("message"))
            call = self._task_prompts.get(prompt) if prompt is not None else None
            if call is not None and agent_id:
                _remember(self._agent_calls, agent_id, call)
        if call is not None:
            return call
        return f"agent-{agent_id}" if agent_id else "sidechain"

    def _note(self, out: dict[str, Any]) -> None:
        """Remember what later lines refer to: Task calls, sub-agent ids, the turn's tokens."""
        message = out.get("message")
        if not isinstance(message, dict):
            return
        content = message.get("content")
        main_chain = not isinstance(out.get("parent_tool_use_id"), str)
        if out["type"] == "assistant":
            if isinstance(content, list):
                for block in content:
                    if (
                        isinstance(block, dict)
                        and block.get("type") == "tool_use"
                        and block.get("name") in ("Task", "Agent")
                        and isinstance(block.get("id"), str)
                        and isinstance(block.get("input"), dict)
                        and isinstance(block["input"].get("prompt"), str)
                    ):
                        _remember(self._task_prompts, block["input"]["prompt"], block["id"])
            usage = message.get("usage")
            if main_chain and isinstance(message.get("id"), str) and isinstance(usage, dict):
                _remember(self._turn_usage, message["id"], usage)
            if main_chain:
                self._note_reply(message)
            return
        result = out.get("tool_use_result")
        if isinstance(result, dict) and isinstance(result.get("agentId"), str):
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and isinstance(block.get("tool_use_id"), str):
                    _remember(self._agent_calls, result["agentId"], block["tool_use_id"])
        text = _text_of(message)
        if main_chain and text is not None and out.get("isMeta") is not True:
            if text.startswith(_INTERRUPTED):
                self._interrupted = True
            elif out.get("isCompactSummary") is not True:
                self._interrupted = False  # a new prompt: a new turn
                self._turn_usage.clear()
                self._reply_id, self._reply = None, []

    def _note_reply(self, message: dict[str, Any]) -> None:
        content = message.get("content")
        texts = [
            b["text"]
            for b in (content if isinstance(content, list) else [])
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if not texts:
            return
        reply_id = message.get("id") if isinstance(message.get("id"), str) else None
        if reply_id is None or reply_id != self._reply_id:
            self._reply_id, self._reply = reply_id, []
        self._reply.extend(texts)

    def _progress(self, obj: dict[str, Any], key: str | None, at: float | None) -> Mapped:
        data = obj.get("data")
        data_type = data.get("type") if isinstance(data, dict) else None
        if isinstance(data, dict) and data_type == "agent_progress":
            inner = data.get("message")
            parent = obj.get("parentToolUseID")
            if isinstance(parent, str) and isinstance(data.get("agentId"), str):
                _remember(self._agent_calls, data["agentId"], parent)
            if (
                isinstance(inner, dict)
                and inner.get("type") in ("user", "assistant")
                and isinstance(parent, str)
            ):
                # The sub-agent's own line: its uuid (also in its sub-agent file, if any, so
                # the two are shown once) and its time.
                merged = {"sessionId": obj.get("sessionId"), **inner}
                if isinstance(data.get("agentId"), str):
                    merged.setdefault("agentId", data["agentId"])
                out = self._conversation(merged, parent)
                inner_key = inner.get("uuid") if isinstance(inner.get("uuid"), str) else key
                return Mapped(out, inner_key, epoch_of(inner.get("timestamp")) or at)
        out = _lean(self._common(obj))
        if isinstance(data_type, str) and "subtype" not in out:
            out["subtype"] = data_type
        return Mapped(out, key, at, hidden=True)

    # -- system lines ----------------------------------------------------------------------------

    def _system(self, obj: dict[str, Any], key: str | None, at: float | None) -> Mapped:
        subtype = obj.get("subtype")
        # System lines are drawn by their own fields (or compactly, for subtypes to come such
        # as away_summary): the envelope every line carries is only noise there.
        out = _lean(self._common(obj))
        if subtype == "compact_boundary":
            meta = obj.get("compactMetadata")
            if isinstance(meta, dict) and "compact_metadata" not in obj:
                out["compact_metadata"] = {_snake(k): v for k, v in meta.items()}
        elif subtype == "api_error":
            out = self._api_retry(out)
        elif subtype == "turn_duration":
            return Mapped(self._turn_end(out), key, at, hidden=obj.get("isSidechain") is True)
        elif subtype == "local_command":
            return self._local_command(out, key, at)
        if subtype in _BOOKKEEPING_SYSTEM:
            return Mapped(_lean(out), key, at, hidden=not _failed(obj))
        return Mapped(out, key, at)

    @staticmethod
    def _api_retry(out: dict[str, Any]) -> dict[str, Any]:
        out["subtype"] = "api_retry"
        for theirs, ours in (
            ("retryAttempt", "attempt"),
            ("maxRetries", "max_retries"),
            ("retryInMs", "retry_delay_ms"),
        ):
            if theirs in out:
                out.setdefault(ours, out[theirs])
        error = out.get("error")
        if isinstance(error, dict) and "error_status" not in out:
            status = error.get("status")
            if isinstance(status, int) and not isinstance(status, bool):
                out["error_status"] = status
        if isinstance(error, dict):
            # The renderer shows an error as text; keep the structured one under its own name.
            out["api_error"] = error
            inner = error.get("error")
            detail = inner.get("error") if isinstance(inner, dict) else None
            message = detail.get("message") if isinstance(detail, dict) else None
            out["error"] = message if isinstance(message, str) else error.get("message")
        return out

    def _turn_end(self, out: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "type": "result",
            "subtype": "interrupted" if self._interrupted else "success",
            "is_error": False,
        }
        duration = out.get("durationMs")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            result["duration_ms"] = duration
        usage = self._usage()
        if usage:
            result["usage"] = usage
        if self._reply:
            result["result"] = "\n\n".join(self._reply)
        for name in ("uuid", "session_id", "timestamp"):
            if name in out:
                result[name] = out[name]
        self._turn_usage.clear()
        self._interrupted = False
        self._reply_id, self._reply = None, []
        return result

    def _usage(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for usage in self._turn_usage.values():
            for name in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                value = usage.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    total[name] = total.get(name, 0) + value
        return total

    @staticmethod
    def _local_command(out: dict[str, Any], key: str | None, at: float | None) -> Mapped:
        content = out.get("content")
        text = content if isinstance(content, str) else ""
        line: dict[str, Any] = {"type": "system", "subtype": "local_command"}
        name = _between(text, "command-name")
        if name is not None:
            args = (_between(text, "command-args") or "").strip()
            line["command"] = f"{name.strip()} {args}".strip()
        else:
            stdout = _between(text, "local-command-stdout")
            stderr = _between(text, "local-command-stderr")
            output = "\n".join(s.strip() for s in (stdout, stderr) if s and s.strip())
            if stdout is None and stderr is None:
                output = text.strip()
            if output:
                line["output"] = output
        for name in ("uuid", "session_id"):
            if name in out:
                line[name] = out[name]
        return Mapped(line, key, at, hidden="command" not in line and "output" not in line)


def _is_caveat(text: str) -> bool:
    """The note Claude Code adds before a slash command's lines, for the model only."""
    text = text.lstrip()
    return text.startswith("<local-command-caveat>") or text.startswith(
        "Caveat: The messages below were generated by the user while running local commands"
    )


def _lean(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if k not in _ENVELOPE}


def _failed_hook(obj: dict[str, Any]) -> bool:
    """An attachment that reports a hook failing (``hook_*error*``, a non-zero exit code):
    worth a line, unlike the hooks that passed."""
    attachment = obj.get("attachment")
    if not isinstance(attachment, dict):
        return False
    kind = attachment.get("type")
    code = attachment.get("exitCode")
    failed_code = isinstance(code, int) and not isinstance(code, bool) and code != 0
    return (isinstance(kind, str) and "error" in kind) or failed_code


def _failed(obj: dict[str, Any]) -> bool:
    """A stop-hook summary worth showing: a hook failed or stopped the session."""
    errors = obj.get("hookErrors")
    return (isinstance(errors, list) and bool(errors)) or obj.get("preventedContinuation") is True
