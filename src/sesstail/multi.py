"""Several sessions in one process, like ``stern`` follows pods.

Each session has its own stream (so it reconnects on its own) and its own renderer (pretty
output: the renderer's memory of tool calls is per session, and each line carries the
session's label). A session that fails for good is reported; the others go on. The exit
code is the worst outcome, in this order (best first):

    0 ok  <  4 not found  <  3 auth  <  5 cannot connect  <  any other failure (1, 2, …)

A session that is not there is the mildest failure (a stale id); a login problem needs the
user's hand; an unreachable service means nothing could be watched; anything else is a bug.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sesstail.errors import ExitCode, SesstailError
from sesstail.watch import MessageSource, Renderer, WatchOptions, outcome, watch

SEVERITY = (ExitCode.OK, ExitCode.NOT_FOUND, ExitCode.AUTH, ExitCode.CANNOT_CONNECT)


def worst(codes: Iterable[int]) -> int:
    """The worst of several exit codes, by ``SEVERITY``; codes not in it rank above all."""

    def rank(code: int) -> tuple[int, int]:
        return (SEVERITY.index(code), 0) if code in SEVERITY else (len(SEVERITY), code)

    return max(codes, key=rank, default=ExitCode.OK)


def session_labels(session_ids: list[str], shortest: int = 8) -> dict[str, str]:
    """A short label per session: the shortest tail of its id (after ``session_``), at least
    ``shortest`` characters, that tells it from the others; padded to one width."""
    names = [sid.removeprefix("session_") for sid in session_ids]
    longest = max((len(n) for n in names), default=0)
    size = min(shortest, longest)
    while size < longest and len({n[-size:] for n in names}) < len(set(names)):
        size += 1
    tails = [n[-size:] for n in names]
    width = max((len(t) for t in tails), default=0)
    return {sid: tail.ljust(width) for sid, tail in zip(session_ids, tails, strict=True)}


@dataclass
class Followed:
    session_id: str
    label: str
    source: MessageSource
    renderer: Renderer


async def follow_many(
    sessions: list[Followed], options: WatchOptions, report: Callable[[str], None]
) -> int:
    """Watch every session at once until each ends; the worst exit code."""

    async def follow(session: Followed) -> int:
        try:
            ended_by = await watch(session.source, session.renderer, options)
        except SesstailError as exc:
            report(f"{session.label.strip()}: error: {exc.message}")
            if exc.hint:
                report(f"{session.label.strip()}: hint: {exc.hint}")
            return exc.exit_code
        return outcome(ended_by, options)

    codes = await asyncio.gather(*(follow(s) for s in sessions))
    return worst(codes)
