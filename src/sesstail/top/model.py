"""What ``sesstail top`` knows about each session: pure state, no I/O, no drawing.

A :class:`Board` is fed two things — the items of the sessions list (PROTOCOL §7) and the
messages of the sessions' streams (§4, §5) — and keeps, per session, what the view shows:
its status, title, model, how long the current turn has run, one line on the last thing said
or done, the cost of the last result, and the permission prompts still open.

The status is the freshest word on it: an open permission prompt always means
``requires_action``; otherwise the stream's last word (a result means idle, a
``session_state_changed`` names the state, anything else is work) unless the list said
something different since. Every string that came from a session is escaped with
:func:`~sesstail.render.sanitize.clean` and flattened to one line before it is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sesstail.protocol import Message, is_permission_prompt
from sesstail.render.sanitize import clean

REQUIRES_ACTION = "requires_action"
RUNNING = "running"
IDLE = "idle"
ARCHIVED = "archived"
STATUSES = (REQUIRES_ACTION, RUNNING, IDLE, ARCHIVED)
ACTIVITY_LIMIT = 300
RECENT_MESSAGES = 200
RECENT_BYTES = 4 * 2**20

# Messages that say nothing about whether the session is at work.
_NEUTRAL_TYPES = frozenset(
    {
        "keep_alive",
        "control_response",
        "control_cancel_request",
        "rate_limit_event",
        "env_manager_log",
        "auth_status",
        "prompt_suggestion",
    }
)
_NEUTRAL_SYSTEM = frozenset({"post_turn_summary", "informational", "session_state_changed"})
# Never kept for the watch pane: they draw nothing there.
_NOT_RECENT = frozenset({"keep_alive", "stream_event"})


def one_line(value: Any, limit: int = ACTIVITY_LIMIT) -> str:
    """Remote text as one safe line: control characters escaped, whitespace runs as one
    space, at most ``limit`` characters."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    text = " ".join(clean(text[: limit * 4]).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    return None


def parse_time(value: Any) -> float | None:
    """An ISO 8601 time from the list endpoint as epoch seconds; None if it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def iso_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def format_duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``2h 10m``."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_cost(dollars: float | None) -> str:
    if dollars is None:
        return ""
    return f"${dollars:.2f}" if dollars >= 0.995 or dollars == 0 else f"${dollars:.3f}"


# -- one line on what a message says or does --------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """The last thing a session said or did, as one cleaned line; ``kind`` picks its look:
    ``text``, ``thinking``, ``tool``, ``tool_result``, ``tool_error``, ``prompt``, ``user``,
    ``result``, ``result_error``, ``system``, ``other``."""

    kind: str
    text: str
    at: float


_TOOL_KEYS = ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt")


def describe_tool(name: str, tool_input: Any) -> str:
    """``Bash: npm test``: a tool call's name and its key input, on one line."""
    label = one_line(name, 80) or "?"
    if isinstance(tool_input, dict):
        for key in _TOOL_KEYS:
            value = tool_input.get(key)
            if isinstance(value, str) and value.strip():
                return f"{label}: {one_line(value)}"
        if tool_input:
            return f"{label}: {one_line(json.dumps(tool_input, ensure_ascii=False))}"
    return label


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            _str(block.get("text")) for block in content if isinstance(block, dict)
        ).strip()
    return ""


def summarize(obj: dict[str, Any]) -> tuple[str, str] | None:
    """``(kind, line)`` for a message worth a line in the view; None keeps the previous line."""
    kind = obj.get("type")
    if kind == "assistant":
        message = obj.get("message")
        blocks = message.get("content") if isinstance(message, dict) else None
        if not isinstance(blocks, list):
            return None
        for block in reversed(blocks):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                return "tool", describe_tool(_str(block.get("name")), block.get("input"))
            if block.get("type") == "text" and _str(block.get("text")).strip():
                return "text", one_line(block["text"])
            if block.get("type") == "thinking":
                return "thinking", "thinking…"
        return None
    if kind == "user":
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    failed = block.get("is_error") is True
                    text = one_line(_content_text(block.get("content"))) or "(no output)"
                    return ("tool_error" if failed else "tool_result"), text
        text = _content_text(content)
        return ("user", "› " + one_line(text)) if text else None
    if kind == "result":
        subtype = _str(obj.get("subtype")) or "result"
        if obj.get("is_error") is True or subtype != "success":
            errors = obj.get("errors")
            detail = errors[0] if isinstance(errors, list) and errors else ""
            line = one_line(subtype) + (f": {one_line(detail)}" if detail else "")
            return "result_error", line
        return "result", "done: " + (one_line(obj.get("result")) or "success")
    if is_permission_prompt(obj):
        request = obj["request"]
        tool = describe_tool(_str(request.get("tool_name")), request.get("input"))
        return "prompt", "wants " + tool
    if kind == "control_cancel_request":
        return "system", "permission prompt withdrawn"
    if kind == "tool_progress":
        seconds = _number(obj.get("elapsed_time_seconds"))
        name = one_line(obj.get("tool_name"), 80) or "tool"
        return "tool", f"{name} running" + (f" {format_duration(seconds)}" if seconds else "")
    if kind == "system":
        return _summarize_system(obj)
    if kind in ("keep_alive", "stream_event", "control_response", "control_request"):
        return None
    if kind == "rate_limit_event":
        return None
    return "other", one_line(kind, 60)


def _summarize_system(obj: dict[str, Any]) -> tuple[str, str] | None:
    subtype = _str(obj.get("subtype"))
    if subtype == "init":
        model = one_line(obj.get("model"), 60)
        return "system", "session started" + (f" ({model})" if model else "")
    if subtype == "status":
        status = one_line(obj.get("status"), 60)
        return ("system", status) if status else None
    if subtype == "compact_boundary":
        return "system", "context compacted"
    if subtype == "api_retry":
        attempt, most = obj.get("attempt"), obj.get("max_retries")
        return "system", f"API retry {one_line(attempt, 8)}/{one_line(most, 8)}"
    if subtype == "task_started":
        return "system", "task: " + one_line(obj.get("description"))
    if subtype == "task_notification":
        return "system", "task " + one_line(obj.get("status"), 30) + ": " + one_line(
            obj.get("summary")
        )
    if subtype in ("thinking_tokens", "session_state_changed", "post_turn_summary"):
        return None
    return "system", one_line(subtype, 60) or "system"


# -- one session ------------------------------------------------------------------------------


def _is_state_message(obj: dict[str, Any]) -> bool:
    kind = obj.get("type")
    return kind == "session_state_changed" or (
        kind == "system" and obj.get("subtype") == "session_state_changed"
    )


def _stream_status(obj: dict[str, Any]) -> str | None:
    """What a message says about the session's status; None when it says nothing."""
    kind = obj.get("type")
    if kind == "result":
        return IDLE
    if _is_state_message(obj):
        state = obj.get("state")
        return state if state in STATUSES else None
    if kind in _NEUTRAL_TYPES or (kind == "control_request" and not is_permission_prompt(obj)):
        return None
    if kind == "system" and obj.get("subtype") in _NEUTRAL_SYSTEM:
        return None
    return RUNNING


@dataclass
class SessionState:
    """Everything the view shows about one session. Remote strings are stored cleaned."""

    session_id: str
    title: str = ""
    model: str = ""
    list_status: str = IDLE
    list_status_at: float = 0.0
    updated_at: float | None = None
    stream_status: str | None = None
    stream_status_at: float = 0.0
    turn_started: float | None = None
    last_turn_seconds: float | None = None
    activity: Activity | None = None
    cost_usd: float | None = None
    result_subtype: str = ""
    result_error: bool = False
    prompts: dict[str, dict[str, Any]] = field(default_factory=dict)
    stream: str = ""  # "", "connected", "ended", or why it failed (cleaned)
    listed: bool = True  # False once the list stopped naming it
    recent: deque[Message] = field(default_factory=deque)
    recent_bytes: int = 0

    @property
    def status(self) -> str:
        if self.prompts:
            return REQUIRES_ACTION
        if self.stream_status is not None and self.stream_status_at >= self.list_status_at:
            return self.stream_status
        return self.list_status

    @property
    def label(self) -> str:
        """A short name for status lines and notifications: the title, else the id."""
        return self.title or self.session_id

    def oldest_prompt(self) -> dict[str, Any] | None:
        return next(iter(self.prompts.values()), None)

    def turn_seconds(self, now: float) -> float | None:
        """How long the current turn has run (None between turns)."""
        if self.turn_started is None:
            return None
        return max(0.0, now - self.turn_started)

    def as_json(self, now: float) -> dict[str, Any]:
        """The line ``top --json`` prints for this session."""
        activity = self.activity
        turn = self.turn_seconds(now)
        return {
            "id": self.session_id,
            "title": self.title,
            "status": self.status,
            "model": self.model,
            "turn_seconds": None if turn is None else round(turn, 1),
            "last_turn_seconds": self.last_turn_seconds,
            "last": activity.text if activity is not None else "",
            "last_kind": activity.kind if activity is not None else "",
            "last_at": iso_time(activity.at) if activity is not None else None,
            "cost_usd": self.cost_usd,
            "result": self.result_subtype or None,
            "pending_prompts": [
                {
                    "request_id": one_line(rid, 200),
                    "tool_name": one_line(p["request"].get("tool_name"), 80),
                }
                for rid, p in self.prompts.items()
            ],
            "stream": self.stream,
        }

    # -- updates ------------------------------------------------------------------------

    def _remember(self, msg: Message) -> None:
        if msg.obj.get("type") in _NOT_RECENT:
            return
        self.recent.append(msg)
        self.recent_bytes += len(msg.line)
        while len(self.recent) > RECENT_MESSAGES or (
            self.recent_bytes > RECENT_BYTES and len(self.recent) > 1
        ):
            self.recent_bytes -= len(self.recent.popleft().line)

    def apply(self, msg: Message) -> bool:
        """Take one stream message; whether anything the view shows changed."""
        obj = msg.obj
        at = msg.received_at
        kind = obj.get("type")
        self._remember(msg)
        before = (self.status, self.activity, self.cost_usd, len(self.prompts), self.model)
        if is_permission_prompt(obj):
            self.prompts[obj["request_id"]] = obj
        elif kind == "control_cancel_request":
            self.prompts.pop(_str(obj.get("request_id")), None)
        elif kind == "control_response":
            # An answer on the stream to one of the open prompts: it was answered elsewhere.
            body = obj.get("response")
            if isinstance(body, dict):
                self.prompts.pop(_str(body.get("request_id")), None)
        elif kind == "result":
            self.prompts.clear()  # a result ends the turn: any prompt still open is void
            self.cost_usd = _number(obj.get("total_cost_usd"))
            self.result_subtype = one_line(obj.get("subtype"), 60)
            self.result_error = obj.get("is_error") is True or self.result_subtype != "success"
            duration = _number(obj.get("duration_ms"))
            if duration is not None:
                self.last_turn_seconds = round(duration / 1000, 1)
            elif self.turn_started is not None:
                self.last_turn_seconds = round(at - self.turn_started, 1)
            self.turn_started = None
        elif kind == "system" and obj.get("subtype") == "init" and not self.model:
            self.model = one_line(obj.get("model"), 60)
        status = _stream_status(obj)
        if status is not None:
            self.stream_status = status
            self.stream_status_at = at
            if status in (RUNNING, REQUIRES_ACTION) and self.turn_started is None:
                self.turn_started = at
            elif status in (IDLE, ARCHIVED):
                self.turn_started = None
        line = summarize(obj)
        if line is not None:
            self.activity = Activity(line[0], line[1], at)
        return before != (self.status, self.activity, self.cost_usd, len(self.prompts), self.model)

    def take_list_item(self, item: dict[str, Any], now: float) -> bool:
        """Take this session's item from the sessions list; whether anything shown changed."""
        before = (self.status, self.title, self.model, self.updated_at, self.listed)
        self.listed = True
        title = one_line(item.get("title"), 200)
        if title:
            self.title = title
        context = item.get("session_context")
        model = one_line(context.get("model"), 60) if isinstance(context, dict) else ""
        if model:
            self.model = model
        updated = parse_time(item.get("updated_at"))
        if updated is not None:
            self.updated_at = updated
        status = one_line(item.get("session_status"), 40) or IDLE
        if status != self.list_status or not self.list_status_at:
            self.list_status = status
            self.list_status_at = now
            if self.status in (RUNNING, REQUIRES_ACTION) and self.turn_started is None:
                self.turn_started = now  # first seen at work: the turn counts from here
            elif self.status in (IDLE, ARCHIVED):
                self.turn_started = None
        return before != (self.status, self.title, self.model, self.updated_at, self.listed)


# -- all of them ------------------------------------------------------------------------------

_ORDER = {REQUIRES_ACTION: 0, RUNNING: 1, IDLE: 2, ARCHIVED: 3}


class Board:
    """The sessions of an organization as ``top`` shows them, and what changed since the
    view last looked (``take_dirty``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.sessions: dict[str, SessionState] = {}
        self.clock = clock
        self._dirty: set[str] = set()
        self.list_error = ""  # why the last list refresh failed (cleaned), or ""
        self.lists_taken = 0

    def session(self, session_id: str) -> SessionState:
        state = self.sessions.get(session_id)
        if state is None:
            state = self.sessions[session_id] = SessionState(session_id)
        return state

    def update_list(self, items: Iterable[dict[str, Any]]) -> dict[str, tuple[str, str]]:
        """Take a fresh sessions list; the sessions whose status changed: id → (old, new).

        A session first listed after the first list is a change from ``""`` (it was not
        there): one that appears already waiting for you is news, as much as one that starts
        waiting. The first list only says how things stand.
        """
        now = self.clock()
        first_list = self.lists_taken == 0
        self.lists_taken += 1
        seen: set[str] = set()
        transitions: dict[str, tuple[str, str]] = {}
        for item in items:
            session_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(session_id, str) or not session_id or session_id in seen:
                continue
            seen.add(session_id)
            known = session_id in self.sessions
            state = self.session(session_id)
            old = state.status
            if state.take_list_item(item, now) or not known:
                self._dirty.add(session_id)
            if known and state.status != old:
                transitions[session_id] = (old, state.status)
            elif not known and not first_list:
                transitions[session_id] = ("", state.status)
        for session_id, state in self.sessions.items():
            if session_id not in seen and state.listed:
                state.listed = False
                self._dirty.add(session_id)
        return transitions

    def apply(self, session_id: str, msg: Message) -> tuple[str, str] | None:
        """Take one stream message; ``(old, new)`` when the session's status changed."""
        state = self.session(session_id)
        old = state.status
        if state.apply(msg):
            self._dirty.add(session_id)
        new = state.status
        return (old, new) if new != old else None

    def set_stream(self, session_id: str, stream: str) -> None:
        state = self.session(session_id)
        if state.stream != stream:
            state.stream = stream
            self._dirty.add(session_id)

    def answered(self, session_id: str, request_id: str) -> None:
        """We answered this prompt: it is no longer open (the first answer wins)."""
        state = self.session(session_id)
        if state.prompts.pop(request_id, None) is not None:
            self._dirty.add(session_id)

    def touch(self, session_id: str) -> None:
        self._dirty.add(session_id)

    def take_dirty(self) -> set[str]:
        dirty, self._dirty = self._dirty, set()
        return dirty

    def ordered(self, statuses: frozenset[str] | None = None) -> list[SessionState]:
        """The sessions to show, waiting-for-you first, then at work, then the rest; within
        each, most recently updated first as the list says (not by each message, so rows do
        not jump about while sessions talk)."""
        shown = [
            s
            for s in self.sessions.values()
            if s.listed and (s.status != ARCHIVED if statuses is None else s.status in statuses)
        ]
        shown.sort(key=lambda s: (_ORDER.get(s.status, 4), -(s.updated_at or 0.0), s.session_id))
        return shown

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for state in self.sessions.values():
            if state.listed:
                counts[state.status] = counts.get(state.status, 0) + 1
        return counts
