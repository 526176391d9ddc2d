"""``top --json``: one JSON line per change, for other tools; no TUI, no terminal needed.

A line is a session's state (:meth:`~sesstail.top.model.SessionState.as_json`) plus ``at``,
the time of the change. It is written when anything but the running turn's clock changed: a
status change at once (so ``running → requires_action → running`` within a moment gives three
lines), other changes — a new last activity, a cost — at most once per ``tick`` per session,
with the latest state. ``--status`` keeps the sessions in those states, plus the line that
says a session left them. Diagnostics go to ``report`` (stderr), never to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from sesstail.notify import Notifier
from sesstail.top.follow import Follower, Transport
from sesstail.top.model import Board, iso_time


class JsonLines:
    """Writes a session's line when it changed since the last one written."""

    def __init__(
        self,
        board: Board,
        out: TextIO,
        statuses: frozenset[str] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.board = board
        self.out = out
        self.statuses = statuses
        self.clock = clock
        self._written: dict[str, dict[str, Any]] = {}
        self.lines = 0
        self.reader_gone = False  # stdout was closed (``top --json | head -3``)

    def _shown(self, status: str) -> bool:
        return self.statuses is None or status in self.statuses

    def write(self, session_id: str) -> None:
        state = self.board.sessions.get(session_id)
        if state is None:
            return
        now = self.clock()
        body = state.as_json(now)
        last = self._written.get(session_id)
        if not self._shown(body["status"]) and (last is None or not self._shown(last["status"])):
            return
        comparable = {k: v for k, v in body.items() if k != "turn_seconds"}
        if last == comparable:
            return
        self._written[session_id] = comparable
        if self.reader_gone:
            return
        try:
            self.out.write(orjson.dumps({"at": iso_time(now), **body}).decode() + "\n")
            self.out.flush()
        except BrokenPipeError:
            self.reader_gone = True
            return
        self.lines += 1

    def flush_dirty(self) -> None:
        for session_id in sorted(self.board.take_dirty()):
            self.write(session_id)


async def follow_as_json(
    transport: Transport,
    out: TextIO,
    *,
    statuses: frozenset[str] | None = None,
    refresh: float = 5.0,
    tick: float = 0.25,
    notifier: Notifier | None = None,
    report: Callable[[str], None] = lambda text: None,
    board: Board | None = None,
    follower_options: dict[str, Any] | None = None,
) -> int:
    """Run until cancelled (Ctrl-C) or until the reader goes away (exit 0 then)."""
    board = board or Board()
    follower = Follower(
        transport, board, refresh=refresh, notifier=notifier, **(follower_options or {})
    )
    lines = JsonLines(board, out, statuses)
    reported = ""

    def on_status(session_id: str, change: tuple[str, str]) -> None:
        lines.write(session_id)

    follower.status_listeners.append(on_status)
    runner = asyncio.ensure_future(follower.run())
    try:
        while not runner.done() and not lines.reader_gone:
            await asyncio.wait({runner}, timeout=tick)
            if board.list_error != reported:
                reported = board.list_error
                if reported:
                    report(f"cannot list the sessions: {reported}")
            lines.flush_dirty()
        if not lines.reader_gone:
            runner.result()
        return 0
    finally:
        runner.cancel()
        with contextlib.suppress(BaseException):
            await runner
        if notifier is not None:
            notifier.close()
