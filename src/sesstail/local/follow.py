"""Following a local session's transcript as it grows: a ``MessageSource`` like a stream.

``LocalSession(path).messages()`` yields the transcript from the start (or its last N
messages, or those since a time, or nothing old at all), then every line as it is written,
from the main file and from each sub-agent's file (``<session-id>/subagents/agent-*.jsonl``,
or ``agent-*.jsonl`` beside the transcript naming its session, as 2.0.24 to 2.0.x wrote them;
found as they appear), each line read through ``sesstail.local.transcript``.

A short poll, not a file-watching library. Every poll is an ``os.stat`` per file (about 2 µs
here) and a directory listing for new sub-agents, five times a second: nothing to save. A
poll also needs no dependency (watchfiles, the natural choice, is a compiled wheel that
imports anyio: 37 ms more at start-up), works where change notifications do not arrive
(NFS, sshfs, a Docker bind mount, a WSL drive), cannot run out of inotify watches, and
has to stat anyway to notice a file truncated or replaced. The cost is latency: a line
appears up to ``poll`` seconds (0.2 s) after it was written, which a reader does not notice.

Truncated or replaced (a smaller size, or another inode at the path): the file is read again
from its start, and what was shown already is not shown again — every message is known by
its uuid (a line without one by its text), in a memory of the last ``SEEN_CAPACITY``. A line
being written (no newline yet) waits for its newline; one that stays unfinished but is a whole
JSON object is taken as it is. A line beyond ``MAX_LINE_BYTES`` is skipped (reported through
``warn``) and read past without being held.

What was in the files when following started is marked ``backfill``: ``watch --until`` and
``wait --until result`` look only at what is written after (``start="end"`` skips it
altogether, without reading it).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import os
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sesstail.local.sessions import subagents_dir
from sesstail.local.transcript import Mapped, TranscriptMapper, epoch_of
from sesstail.protocol import NESTED_TOO_DEEPLY, Message, SeenIds, loads, shorten
from sesstail.watch import WatchOptions

POLL_S = 0.2
MAX_LINE_BYTES = 256 * 2**20  # the stream's own limit for one message
SEEN_CAPACITY = 262_144  # uuids remembered: ~7 MB at most, for transcripts of 250k lines
_READ = 1 << 20
_SIGNATURE = 64

Start = Literal["beginning", "end"]


@dataclass
class _Line:
    text: str
    obj: dict[str, Any]
    at: float  # its timestamp, or the last one before it in its file (to merge files by)
    file: int


@dataclass
class _Tail:
    """One file read as it grows: where we are in it, and which file it is."""

    path: Path
    index: int
    offset: int = 0
    identity: tuple[int, int] | None = None
    # The bytes just before ``offset``: if they change, the file was rewritten in place.
    signature: bytes = b""
    partial: bytearray = field(default_factory=bytearray)
    skipping: bool = False  # inside a line beyond the limit: read to its newline, drop it
    last_at: float = -math.inf
    quiet_polls: int = 0

    def _restart(self) -> None:
        self.offset = 0
        self.signature = b""
        self.partial.clear()
        self.skipping = False

    def skip_to_end(self) -> None:
        """Start at the end: after the last whole line written so far."""
        try:
            with self.path.open("rb") as f:
                st = os.fstat(f.fileno())
                self.identity = (st.st_dev, st.st_ino)
                position = st.st_size
                while position > 0:
                    step = min(_READ, position)
                    f.seek(position - step)
                    block = f.read(step)
                    newline = block.rfind(b"\n")
                    if newline >= 0:
                        self.offset = position - step + newline + 1
                        f.seek(max(0, self.offset - _SIGNATURE))
                        self.signature = f.read(self.offset - max(0, self.offset - _SIGNATURE))
                        return
                    position -= step
        except OSError:
            pass
        self._restart()

    def read_lines(
        self, max_line: int, warn: Callable[[str], None], restarted: Callable[[Path], None]
    ) -> Iterator[bytes]:
        """The whole lines written since the last read; from the start again (after calling
        ``restarted``) when the file was truncated, replaced or rewritten."""
        try:
            st = os.stat(self.path)
        except OSError:
            return
        identity = (st.st_dev, st.st_ino)
        if self.identity is not None and (identity != self.identity or st.st_size < self.offset):
            self._restart()
            restarted(self.path)
        self.identity = identity
        if st.st_size == self.offset:
            yield from self._unfinished()
            return
        try:
            f = self.path.open("rb")
        except OSError:
            return
        with f:
            if self.signature:
                f.seek(self.offset - len(self.signature))
                if f.read(len(self.signature)) != self.signature:
                    self._restart()
                    restarted(self.path)
            f.seek(self.offset)
            self.quiet_polls = 0
            while chunk := f.read(_READ):
                self.offset += len(chunk)
                self.signature = (self.signature + chunk[-_SIGNATURE:])[-_SIGNATURE:]
                yield from self._split(chunk, max_line, warn)

    def _unfinished(self) -> Iterator[bytes]:
        """A last line left without its newline for a poll: taken if it is a whole object."""
        if not self.partial or self.skipping:
            return
        self.quiet_polls += 1
        if self.quiet_polls == 2:
            yield from self.whole_partial()

    def whole_partial(self) -> Iterator[bytes]:
        """The last line, without its newline, if it is a whole JSON object already."""
        if self.skipping or not self.partial.rstrip().endswith(b"}"):
            return
        text = bytes(self.partial)
        try:
            loads(text.decode("utf-8", "replace"), exact=False)
        except ValueError:
            return
        self.partial.clear()
        yield text

    def _split(self, chunk: bytes, max_line: int, warn: Callable[[str], None]) -> Iterator[bytes]:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if not self.skipping:
                    self.partial += chunk[start:]
                    if len(self.partial) > max_line:
                        warn(f"{self.path.name}: a line longer than {max_line:,} bytes skipped")
                        self.partial.clear()
                        self.skipping = True
                return
            if self.skipping:
                self.skipping = False
            else:
                if self.partial:
                    self.partial += chunk[start:end]
                    line = bytes(self.partial)
                    self.partial.clear()
                else:
                    line = chunk[start:end]
                if len(line) > max_line:
                    warn(f"{self.path.name}: a line longer than {max_line:,} bytes skipped")
                else:
                    yield line
            start = end + 1


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEAD = 64 * 1024


def _agent_files(directory: Path) -> list[Path]:
    try:
        names = sorted(
            e.name
            for e in os.scandir(directory)
            if e.name.startswith("agent-") and e.name.endswith(".jsonl")
        )
    except OSError:
        return []
    return [directory / name for name in names]


def _session_of(path: Path) -> str | None:
    """The ``sessionId`` of a sub-agent file's first line; "" if it has none; None if no
    whole first line is there yet."""
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return None
    first, newline, _ = head.partition(b"\n")
    if not newline:
        return None if len(head) < _HEAD else ""
    try:
        obj = loads(first.decode("utf-8", "replace"), exact=False)
    except ValueError:
        return ""
    owner = obj.get("sessionId") if isinstance(obj, dict) else None
    return owner if isinstance(owner, str) else ""


class LocalSession:
    """A local session's messages, as a ``MessageSource`` (``sesstail.watch``).

    ``last``: only the last N messages of what is there already; ``since``: only those at or
    after this time (epoch seconds); ``start="end"``: none of them. ``follow=False``: stop
    once what is there has been read; ``stop``: once it is set, read what is left and end
    (a writer that is done, as in the demo). Bookkeeping lines are shown with ``verbose``, or when
    a ``-t`` / ``--until`` pattern of ``options`` names them. ``warn`` hears about lines
    that are not messages.
    """

    def __init__(
        self,
        transcript: Path,
        *,
        subagents: Path | None = None,
        last: int | None = None,
        since: float | None = None,
        start: Start = "beginning",
        follow: bool = True,
        options: WatchOptions | None = None,
        verbose: bool = False,
        warn: Callable[[str], None] | None = None,
        poll: float = POLL_S,
        max_line: int = MAX_LINE_BYTES,
        history_is_backfill: bool = True,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.transcript = transcript
        self.subagents = subagents if subagents is not None else subagents_dir(transcript)
        self.last = last
        self.since = since
        self.start = start
        self.follow = follow
        self.options = options
        self.verbose = verbose
        self.warn = warn or (lambda _text: None)
        self.poll = poll
        self.max_line = max_line
        self.history_is_backfill = history_is_backfill
        self.stop = stop

    # -- the source -----------------------------------------------------------------------------

    async def messages(self) -> AsyncIterator[Message]:
        mapper = TranscriptMapper()
        seen = SeenIds(SEEN_CAPACITY)
        tails = [_Tail(self.transcript, 0)]
        known: set[Path] = {self.transcript}
        self._discover(tails, known)
        if self.start == "end":
            for tail in tails:
                tail.skip_to_end()
        else:
            for msg in self._backlog(tails, mapper, seen):
                yield msg
        if not self.follow:
            return
        while True:
            finished = self.stop is not None and self.stop.is_set()
            if not finished:
                await self._pause()
            self._discover(tails, known)
            # Merged by time, each file in its own order (a timestamp may go back within
            # a file: a clock set back); a file's lines are read whole before the merge.
            batches = [list(self._lines_of(tail, final=finished)) for tail in tails]
            for line in heapq.merge(*batches, key=lambda line: line.at):
                live = self._message(line, mapper, seen, backfill=False)
                if live is not None:
                    yield live
            if finished:
                return

    async def _pause(self) -> None:
        if self.stop is None:
            await asyncio.sleep(self.poll)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.poll)

    def _restarted(self, path: Path) -> None:
        self.warn(f"{path.name} was truncated or replaced: reading it again from the start")

    def _discover(self, tails: list[_Tail], known: set[Path]) -> None:
        """Add the sub-agent files that appeared: in ``<session-id>/subagents/``, and (as
        versions 2.0.24 to 2.0.x wrote them) ``agent-*.jsonl`` beside the transcript whose
        lines name this session."""
        for path in _agent_files(self.subagents):
            if path not in known:
                known.add(path)
                tails.append(_Tail(path, len(tails)))
        if not _UUID.fullmatch(self.transcript.stem):
            return  # any file anywhere: its neighbours are no sub-agents of it
        for path in _agent_files(self.transcript.parent):
            if path in known:
                continue
            owner = _session_of(path)
            if owner is None:
                continue  # nothing whole written yet: look again next time
            known.add(path)
            if owner == self.transcript.stem:
                tails.append(_Tail(path, len(tails)))

    def _backlog(
        self, tails: list[_Tail], mapper: TranscriptMapper, seen: SeenIds
    ) -> Iterator[Message]:
        final = not self.follow
        merged = heapq.merge(
            *(self._lines_of(t, final=final) for t in tails), key=lambda line: line.at
        )
        backfill = self.history_is_backfill
        if self.last is None:
            for line in merged:
                if self.since is not None and line.at < self.since:
                    # Not shown, yet known: Task calls, the turn's tokens, and its uuid
                    # (a rewrite of the file must not bring it back).
                    mapped = mapper.map(line.obj)
                    seen.first_time(mapped.key or line.text)
                    continue
                msg = self._message(line, mapper, seen, backfill=backfill)
                if msg is not None:
                    yield msg
            return
        kept: deque[Message] = deque(maxlen=max(self.last, 0))
        for line in merged:
            msg = self._message(line, mapper, seen, backfill=backfill)
            if msg is not None and (self.since is None or line.at >= self.since):
                kept.append(msg)
        yield from kept

    def _lines_of(self, tail: _Tail, *, final: bool = False) -> Iterator[_Line]:
        """The new lines of one file; ``final``: also a last line without its newline."""
        raws = tail.read_lines(self.max_line, self.warn, self._restarted)
        if final:
            raws = itertools.chain(raws, tail.whole_partial())
        for raw in raws:
            text = raw.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                obj = loads(text)
            except ValueError as exc:
                why = NESTED_TOO_DEEPLY if str(exc) == NESTED_TOO_DEEPLY else "not valid JSON"
                self.warn(f"{tail.path.name}: {why}: {shorten(text, 40)!r}; skipped")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
                self.warn(f"{tail.path.name}: not a message: {shorten(text, 40)!r}; skipped")
                continue
            at = epoch_of(obj.get("timestamp"))
            if at is not None:
                tail.last_at = at
            yield _Line(text, obj, tail.last_at, tail.index)

    def _message(
        self, line: _Line, mapper: TranscriptMapper, seen: SeenIds, *, backfill: bool
    ) -> Message | None:
        mapped = mapper.map(line.obj)
        if not seen.first_time(mapped.key or line.text):
            return None
        if mapped.hidden and not self._asked_for(mapped):
            return None
        at = mapped.at if mapped.at is not None else line.at
        if not math.isfinite(at):
            at = time.time()
        return Message(line.text, mapped.obj, at, backfill)

    def _asked_for(self, mapped: Mapped) -> bool:
        if self.verbose:
            return True
        options = self.options
        if options is None:
            return False
        return options.filter.matches(mapped.obj) or (
            options.until is not None and options.until.matches(mapped.obj)
        )
