"""Keeping a :class:`~sesstail.top.model.Board` current: the list refreshed, and one stream per
session that is running or waiting (issue 12).

``top`` talks to the sessions service only through a :class:`Transport` — four injected
callables — so it does not care which API generation carries them:

* ``list_sessions() -> list[dict]``, blocking (run in a thread): PROTOCOL §7 list items
  (``id``, ``title``, ``session_status``, ``updated_at``, ``session_context.model``);
* ``open_stream(session_id)`` → an object whose ``messages()`` yields
  :class:`~sesstail.protocol.Message` across reconnects (messages marked ``backfill`` are
  history: they update the view but never notify);
* ``send_control(session_id, subtype, fields)`` → awaitable control_response dict (§4);
* ``answer_prompt(session_id, response)`` → awaitable; ``response`` is a whole
  ``control_response`` built with ``control.allow_response`` / ``deny_response``.

A stream is opened for a session the list or the stream shows running or waiting, or that the
view pins (its watch pane is open); it is closed once the session has been idle and quiet for
``linger`` seconds. A stream that fails is retried after ``retry_after`` seconds at the
soonest. Failures are shown, never fatal: the list error on the board, a stream's on its row.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sesstail.errors import SesstailError
from sesstail.notify import Notifier
from sesstail.protocol import Message
from sesstail.top.model import ARCHIVED, REQUIRES_ACTION, RUNNING, Board, one_line


class MessageStream(Protocol):
    def messages(self) -> AsyncIterator[Message]: ...


@dataclass(frozen=True)
class Transport:
    """How ``top`` reaches the sessions service; see the module docstring."""

    list_sessions: Callable[[], list[dict[str, Any]]]
    open_stream: Callable[[str], MessageStream]
    send_control: Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
    answer_prompt: Callable[[str, dict[str, Any]], Awaitable[object]]


MessageListener = Callable[[str, Message], None]
StatusListener = Callable[[str, tuple[str, str]], None]


class Follower:
    """Refreshes the list every ``refresh`` seconds and follows the sessions worth following."""

    def __init__(
        self,
        transport: Transport,
        board: Board,
        *,
        refresh: float = 5.0,
        linger: float = 60.0,
        retry_after: float = 15.0,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport = transport
        self.board = board
        self.refresh = refresh
        self.linger = linger
        self.retry_after = retry_after
        self.notifier = notifier
        self.clock = clock
        self.streams: dict[str, asyncio.Task[None]] = {}
        self._last_message: dict[str, float] = {}
        self._failed_at: dict[str, float] = {}
        self._pinned: dict[str, int] = {}
        self.message_listeners: list[MessageListener] = []
        self.status_listeners: list[StatusListener] = []
        self.refreshed = asyncio.Event()  # set after every list refresh, for whoever waits
        self._listed = False  # a list has been taken since this follower started
        self._wake = asyncio.Event()

    # -- the list -----------------------------------------------------------------------

    async def refresh_once(self) -> None:
        """Ask for the list once, take it, and start or stop streams to match."""
        try:
            items = await asyncio.to_thread(self.transport.list_sessions)
        except SesstailError as exc:
            self.board.list_error = one_line(exc.message, 200)
            self.board.touch("")
        except Exception as exc:  # a bug must not end the view: say it, keep refreshing
            self.board.list_error = f"listing failed: {type(exc).__name__}"
            self.board.touch("")
        else:
            if self.board.list_error:
                self.board.list_error = ""
                self.board.touch("")
            transitions = self.board.update_list(items)
            for session_id, change in transitions.items():
                if self.notifier is not None:
                    state = self.board.sessions[session_id]
                    self.notifier.on_status(state.label, change[1], key=session_id)
                self._tell_status(session_id, change)
            if not self._listed:
                self._listed = True
                self._already_waiting()
        self.reconcile()
        self.refreshed.set()

    def _already_waiting(self) -> None:
        """Sessions waiting for you when top started are not news: their open prompt, which
        the stream brings again on connect (v1 asks it again, v2 replays it), is part of that
        spell of waiting, and notifies nothing. Called before any stream is opened."""
        if self.notifier is None:
            return
        for session_id, state in self.board.sessions.items():
            if state.listed and state.status == REQUIRES_ACTION:
                self.notifier.already_waiting(session_id)

    async def run(self) -> None:
        """Refresh until cancelled; ``refresh_now`` cuts a wait short."""
        try:
            while True:
                await self.refresh_once()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.refresh)
        finally:
            await self.aclose()

    def refresh_now(self) -> None:
        self._wake.set()

    # -- streams ------------------------------------------------------------------------

    def pin(self, session_id: str) -> None:
        """Follow this session whatever its status (its watch pane is open)."""
        self._pinned[session_id] = self._pinned.get(session_id, 0) + 1
        self._failed_at.pop(session_id, None)
        self.reconcile()

    def unpin(self, session_id: str) -> None:
        count = self._pinned.get(session_id, 0) - 1
        if count > 0:
            self._pinned[session_id] = count
        else:
            self._pinned.pop(session_id, None)
        self.reconcile()

    def _wanted(self, session_id: str, now: float) -> bool:
        if session_id in self._pinned:
            return True
        state = self.board.sessions.get(session_id)
        if state is None or not state.listed or state.status == ARCHIVED:
            return False
        if state.status in (RUNNING, REQUIRES_ACTION):
            return True
        # Idle: keep listening a while, since the next turn often follows soon.
        running = session_id in self.streams
        return running and now - self._last_message.get(session_id, 0.0) < self.linger

    def reconcile(self) -> None:
        """Start the streams wanted and not running; stop the ones no longer wanted."""
        now = self.clock()
        for session_id in list(self.board.sessions):
            task = self.streams.get(session_id)
            wanted = self._wanted(session_id, now)
            if task is not None and not wanted:
                task.cancel()
                del self.streams[session_id]
                self.board.set_stream(session_id, "")
            elif task is None and wanted:
                failed = self._failed_at.get(session_id)
                if failed is not None and now - failed < self.retry_after:
                    continue
                self._last_message[session_id] = now
                self.streams[session_id] = asyncio.ensure_future(self._follow(session_id))

    async def _follow(self, session_id: str) -> None:
        board = self.board
        messages: AsyncIterator[Message] | None = None
        try:
            messages = self.transport.open_stream(session_id).messages()
            board.set_stream(session_id, "connected")
            async for msg in messages:
                self._last_message[session_id] = self.clock()
                change = board.apply(session_id, msg)
                if self.notifier is not None:
                    label = board.sessions[session_id].label
                    self.notifier.on_message(label, msg, key=session_id)
                for listener in self.message_listeners:
                    listener(session_id, msg)
                if change is not None:
                    self._tell_status(session_id, change)
            board.set_stream(session_id, "ended")
            self._failed_at[session_id] = self.clock()  # not back before retry_after
        except SesstailError as exc:
            board.set_stream(session_id, one_line(exc.message, 200))
            self._failed_at[session_id] = self.clock()
        except Exception as exc:  # a bug must not end the view: show it on the row
            board.set_stream(session_id, f"stream failed: {type(exc).__name__}")
            self._failed_at[session_id] = self.clock()
        finally:
            closer = getattr(messages, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
            if self.streams.get(session_id) is asyncio.current_task():
                del self.streams[session_id]

    def _tell_status(self, session_id: str, change: tuple[str, str]) -> None:
        for listener in self.status_listeners:
            listener(session_id, change)

    async def aclose(self) -> None:
        tasks = list(self.streams.values())
        self.streams.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    # -- acting on a session ------------------------------------------------------------

    async def interrupt(self, session_id: str) -> dict[str, Any]:
        """Send ``interrupt``; its success body, or ControlError with the session's words."""
        from sesstail.control import success_body

        answer = await self.transport.send_control(session_id, "interrupt", {})
        return success_body(answer, "the session refused interrupt")

    async def answer(self, session_id: str, response: dict[str, Any]) -> None:
        """Send a prompt's answer; the prompt is closed here once it is sent."""
        await self.transport.answer_prompt(session_id, response)
        request_id = response["response"]["request_id"]
        self.board.answered(session_id, request_id)
        if self.notifier is not None:
            self.notifier.answered(session_id, request_id)
