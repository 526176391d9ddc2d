"""Desktop notifications when a session needs you or a turn ends (``--notify``, issue 12).

:class:`Notifier` decides: it is shown every message of a session (``on_message``) — and, for
``top``, the status changes the sessions list reports (``on_status``) — and fires at most one
notification per event:

* a permission prompt (``can_use_tool``) or a question (``request_user_dialog``): once per
  ``request_id``; a ``session_state_changed`` to ``requires_action`` once per spell of
  waiting, and a prompt that arrives during a spell a state change opened is the same event;
* a ``result``: once per result ``uuid``, with its status (success, or the error subtype);
* messages marked ``backfill`` (history shown before the live stream) and uuids passed to
  :meth:`Notifier.mark_seen` (a replayed history) update what is pending but never notify.

A channel delivers: ``notify-send`` on a Linux desktop, ``osascript`` on macOS, else the
terminal's own notification escape (OSC 9 in iTerm2, WezTerm, Ghostty and Windows Terminal;
OSC 777 in foot and urxvt), else the terminal bell. Commands get their text as argv, never
through a shell; every remote string is escaped with ``clean``, made one line and bounded,
and the terminal escapes carry no control character at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sesstail.protocol import Message, is_permission_prompt
from sesstail.top.model import describe_tool, format_cost, format_duration, one_line

TITLE_LIMIT = 80
BODY_LIMIT = 200
MAX_RUNNING = 16  # notification commands still running; beyond this, new ones are dropped
_MEMORY = 4096  # request ids and result uuids remembered for deduplication


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    needs_input: bool  # True: a session waits for you; False: a turn ended


def safe_text(value: Any, limit: int) -> str:
    """Remote text fit for a notification: escaped, one line, at most ``limit`` chars."""
    return one_line(value, limit)


# -- channels ---------------------------------------------------------------------------------


class Channel(Protocol):
    name: str

    def send(self, note: Notification) -> None: ...

    def close(self, timeout: float = 2.0) -> None: ...


class CommandChannel:
    """Runs a notification command per notification without waiting for it; children are
    reaped as new ones start and on ``close``."""

    def __init__(
        self,
        name: str,
        argv: Callable[[Notification], list[str]],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._argv = argv
        self._env = dict(env) if env is not None else None
        self._running: list[subprocess.Popen[bytes]] = []
        self.dropped = 0

    def send(self, note: Notification) -> None:
        self._running = [p for p in self._running if p.poll() is None]
        if len(self._running) >= MAX_RUNNING:
            self.dropped += 1
            return
        self._running.append(
            subprocess.Popen(
                self._argv(note),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self._env,
                start_new_session=True,  # Ctrl-C in our terminal is not for it
            )
        )

    def close(self, timeout: float = 2.0) -> None:
        for process in self._running:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._running = []


def notify_send_argv(command: str) -> Callable[[Notification], list[str]]:
    def argv(note: Notification) -> list[str]:
        # "--": a body starting with "-" is text, not an option.
        return [command, "--app-name=sesstail", "--", note.title, note.body]

    return argv


# The text reaches AppleScript as the run handler's arguments, never inside the script.
_APPLESCRIPT = (
    "on run argv\ndisplay notification (item 2 of argv) with title (item 1 of argv)\nend run"
)


def osascript_argv(command: str) -> Callable[[Notification], list[str]]:
    def argv(note: Notification) -> list[str]:
        # The title always starts with "sesstail", so it is never taken for an option.
        return [command, "-e", _APPLESCRIPT, note.title, note.body]

    return argv


def _escape_safe(text: str) -> str:
    """Nothing that could end or extend an escape sequence: ``clean`` has made every control
    character visible already; ``;`` separates OSC 777 fields."""
    return "".join(c for c in text if c.isprintable()).replace(";", ",")


class TerminalChannel:
    """The terminal's notification escape (``osc`` 9 or 777), or the bell (``osc`` None)."""

    def __init__(self, write: Callable[[str], None], osc: int | None) -> None:
        self._write = write
        self.osc = osc
        self.name = f"osc{osc}" if osc is not None else "bell"

    def send(self, note: Notification) -> None:
        title, body = _escape_safe(note.title), _escape_safe(note.body)
        if self.osc == 9:
            data = f"\x1b]9;{title}: {body}\x07"
        elif self.osc == 777:
            data = f"\x1b]777;notify;{title};{body}\x07"
        else:
            data = "\a"
        with contextlib.suppress(OSError, ValueError):  # a closed terminal: nobody to tell
            self._write(data)

    def close(self, timeout: float = 2.0) -> None:
        pass


class FallbackChannel:
    """The first channel; the next one if the first cannot start (its command went away)."""

    def __init__(self, first: Channel, then: Channel) -> None:
        self.first = first
        self.then = then
        self.name = first.name

    def send(self, note: Notification) -> None:
        try:
            self.first.send(note)
        except OSError:
            self.then.send(note)

    def close(self, timeout: float = 2.0) -> None:
        self.first.close(timeout)
        self.then.close(timeout)


def terminal_osc(env: Mapping[str, str]) -> int | None:
    """The notification escape this terminal is known to show, from its environment."""
    term = env.get("TERM", "")
    if env.get("TMUX") or term.startswith(("screen", "tmux")):
        return None  # tmux swallows OSC 9/777 unless wrapped; its bell reaches the window
    program = env.get("TERM_PROGRAM", "")
    if program in ("iTerm.app", "WezTerm", "ghostty") or env.get("WT_SESSION"):
        return 9
    if term.startswith(("foot", "rxvt")):
        return 777
    return None


def stderr_terminal_writer() -> Callable[[str], None] | None:
    """A writer to the terminal on stderr (never stdout, which may carry JSON lines)."""
    stream = sys.stderr
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None

    def write(data: str) -> None:
        stream.write(data)
        stream.flush()

    return write


def choose_channel(
    env: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    terminal_write: Callable[[str], None] | None = None,
) -> Channel | None:
    """What this machine has: a desktop command, else the terminal (``terminal_write``, by
    default stderr when it is a terminal); None when there is no way to tell anyone."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    write = terminal_write if terminal_write is not None else stderr_terminal_writer()
    terminal: Channel | None = None
    if write is not None:
        terminal = TerminalChannel(write, terminal_osc(env))
    path = env.get("PATH", os.defpath)
    command: Channel | None = None
    if platform.startswith("linux") and (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("DBUS_SESSION_BUS_ADDRESS")
    ):
        found = shutil.which("notify-send", path=path)
        if found:
            command = CommandChannel("notify-send", notify_send_argv(found), env)
    elif platform == "darwin":
        found = shutil.which("osascript", path=path)
        if found:
            command = CommandChannel("osascript", osascript_argv(found), env)
    if command is not None and terminal is not None:
        return FallbackChannel(command, terminal)
    return command or terminal


# -- deciding ---------------------------------------------------------------------------------


class _Bounded:
    """A set that forgets its oldest entries beyond a size."""

    def __init__(self, size: int = _MEMORY) -> None:
        self._items: set[str] = set()
        self._order: deque[str] = deque()
        self._size = size

    def add(self, item: str) -> bool:
        """Add ``item``; whether it was new."""
        if item in self._items:
            return False
        self._items.add(item)
        self._order.append(item)
        if len(self._order) > self._size:
            self._items.discard(self._order.popleft())
        return True

    def __contains__(self, item: object) -> bool:
        return item in self._items


@dataclass
class _Waiting:
    """A session's spell of waiting for you: what opened it, and its prompts still open."""

    opened_by: str | None = None  # None (not waiting), "prompt" or "state"
    prompts: set[str] = field(default_factory=set)


def _is_state(obj: dict[str, Any], state: str) -> bool:
    kind = obj.get("type")
    return (
        kind == "session_state_changed"
        or (kind == "system" and obj.get("subtype") == "session_state_changed")
    ) and obj.get("state") == state


def _is_question(obj: dict[str, Any]) -> bool:
    request = obj.get("request")
    return (
        obj.get("type") == "control_request"
        and isinstance(obj.get("request_id"), str)
        and isinstance(request, dict)
        and request.get("subtype") == "request_user_dialog"
    )


class Notifier:
    """Decides when a session's messages deserve a notification, and sends it.

    ``on_message`` returns the notification it sent (or None), so callers and tests can see
    the decision; a failing channel never fails the watch.
    """

    def __init__(self, channel: Channel | None) -> None:
        self.channel = channel
        self._notified = _Bounded()
        self._seen_uuids = _Bounded()
        self._waiting: dict[str, _Waiting] = {}
        self.sent: list[Notification] = []  # the last few, for status lines and tests

    @classmethod
    def for_this_machine(cls, terminal_write: Callable[[str], None] | None = None) -> Notifier:
        """A notifier through whatever :func:`choose_channel` finds here."""
        return cls(choose_channel(terminal_write=terminal_write))

    def mark_seen(self, uuids: Iterable[str]) -> None:
        """Messages with these uuids were said before we attached: never notify for them."""
        for value in uuids:
            self._seen_uuids.add(value)

    def on_message(
        self, session_label: str, msg: Message, key: str | None = None
    ) -> Notification | None:
        """Take one message of the session called ``session_label`` (``key`` tells sessions
        apart when labels might not); the notification sent, if any."""
        obj = msg.obj
        key = key or session_label
        waiting = self._waiting.setdefault(key, _Waiting())
        uuid = obj.get("uuid")
        live = not msg.backfill and not (isinstance(uuid, str) and uuid in self._seen_uuids)
        kind = obj.get("type")
        if is_permission_prompt(obj) or _is_question(obj):
            request_id = obj["request_id"]
            same_event = waiting.opened_by == "state"
            waiting.prompts.add(request_id)
            waiting.opened_by = "prompt"
            if not self._notified.add(f"{key}\0prompt\0{request_id}") or same_event or not live:
                return None
            return self._send(self._prompt_note(session_label, obj))
        if kind in ("control_cancel_request", "control_response"):
            body = obj.get("response")
            request_id = (
                obj.get("request_id")
                if kind == "control_cancel_request"
                else (body.get("request_id") if isinstance(body, dict) else None)
            )
            self._closed(waiting, request_id if isinstance(request_id, str) else "")
            return None
        if _is_state(obj, "requires_action"):
            if waiting.opened_by is not None:
                return None
            waiting.opened_by = "state"
            if not live:
                return None
            return self._send(self._waiting_note(session_label))
        if kind == "result":
            waiting.opened_by = None
            waiting.prompts.clear()
            event = uuid if isinstance(uuid, str) and uuid else f"line:{hash(msg.line)}"
            if not self._notified.add(f"{key}\0result\0{event}") or not live:
                return None
            return self._send(self._result_note(session_label, obj))
        if (_is_state(obj, "running") or _is_state(obj, "idle")) and not waiting.prompts:
            waiting.opened_by = None
        return None

    def on_status(
        self, session_label: str, status: str, key: str | None = None
    ) -> Notification | None:
        """A status the sessions list reports (``top``): ``requires_action`` notifies once
        per spell of waiting, unless a prompt or state change already did."""
        key = key or session_label
        waiting = self._waiting.setdefault(key, _Waiting())
        if status == "requires_action":
            if waiting.opened_by is not None:
                return None
            waiting.opened_by = "state"
            return self._send(self._waiting_note(session_label))
        if not waiting.prompts:
            waiting.opened_by = None
        return None

    def already_waiting(self, key: str) -> None:
        """This session was waiting for you before we were listening (``top`` at start): a
        spell of waiting that notifies nothing, its prompt included."""
        waiting = self._waiting.setdefault(key, _Waiting())
        if waiting.opened_by is None:
            waiting.opened_by = "state"

    def answered(self, key: str, request_id: str) -> None:
        """We answered this prompt ourselves (the stream may never say so)."""
        self._closed(self._waiting.setdefault(key, _Waiting()), request_id)

    @staticmethod
    def _closed(waiting: _Waiting, request_id: str) -> None:
        waiting.prompts.discard(request_id)
        if not waiting.prompts and waiting.opened_by == "prompt":
            waiting.opened_by = None

    def close(self, timeout: float = 2.0) -> None:
        if self.channel is not None:
            self.channel.close(timeout)

    # -- the words ------------------------------------------------------------------------

    def _send(self, note: Notification) -> Notification:
        self.sent.append(note)
        del self.sent[:-32]
        if self.channel is not None:
            with contextlib.suppress(OSError):  # no way to notify now; the watch goes on
                self.channel.send(note)
        return note

    @staticmethod
    def _title(session_label: str, what: str) -> str:
        return safe_text(f"sesstail: {safe_text(session_label, 50)} {what}", TITLE_LIMIT)

    def _prompt_note(self, session_label: str, obj: dict[str, Any]) -> Notification:
        request = obj["request"]
        if request.get("subtype") == "request_user_dialog":
            kind = safe_text(request.get("dialog_kind"), 40) or "question"
            return Notification(
                self._title(session_label, "asks you"), f"a {kind} is waiting for you", True
            )
        tool = describe_tool(str(request.get("tool_name") or "a tool"), request.get("input"))
        body = f"Allow {safe_text(tool, 120)}?"  # room left for the reason
        reason = request.get("decision_reason") or request.get("description")
        if isinstance(reason, str) and reason.strip():
            body += f" ({safe_text(reason, BODY_LIMIT)})"
        return Notification(
            self._title(session_label, "needs you"), safe_text(body, BODY_LIMIT), True
        )

    def _waiting_note(self, session_label: str) -> Notification:
        return Notification(self._title(session_label, "needs you"), "waiting for input", True)

    def _result_note(self, session_label: str, obj: dict[str, Any]) -> Notification:
        subtype = safe_text(obj.get("subtype"), 60) or "result"
        failed = obj.get("is_error") is True or subtype != "success"
        parts = [subtype]
        if failed:
            errors = obj.get("errors")
            if isinstance(errors, list) and errors:
                parts[0] += f": {safe_text(errors[0], 120)}"
        cost = obj.get("total_cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            parts.append(format_cost(float(cost)))
        duration = obj.get("duration_ms")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            parts.append(format_duration(duration / 1000))
        title = self._title(session_label, "failed" if failed else "finished")
        return Notification(title, safe_text(" · ".join(parts), BODY_LIMIT), False)


class _Source(Protocol):
    def messages(self) -> AsyncIterator[Message]: ...


class NotifyingSource:
    """A message source that shows each message to a notifier on its way through: what
    ``watch --notify`` and ``wait --notify`` wrap their stream in."""

    def __init__(self, source: _Source, notifier: Notifier, label: str) -> None:
        self.source = source
        self.notifier = notifier
        self.label = label

    async def messages(self) -> AsyncIterator[Message]:
        messages = self.source.messages()
        try:
            async for msg in messages:
                self.notifier.on_message(self.label, msg)
                yield msg
        finally:
            closer = getattr(messages, "aclose", None)
            if closer is not None:
                await closer()
