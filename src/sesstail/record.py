"""Recordings: every raw message with its receive time, one JSON line each.

    {"recorded_at": 1764000000.123, "message": {...the message as received...}}

The same format is what ``serve`` accepts as a session file. ``replay`` reads recordings and
plain JSONL of messages (a ``--json`` capture) alike; a line that is neither is reported with
its number and skipped.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sesstail.errors import UsageError
from sesstail.protocol import NESTED_TOO_DEEPLY, Message, encode, loads, shorten
from sesstail.watch import MessageSource, Renderer, WatchOptions


class Recorder:
    """Appends messages to a file, flushed per line: a crash or Ctrl-C loses nothing
    already received. Appending, so that an earlier recording is never overwritten."""

    def __init__(self, file: TextIO) -> None:
        self._file = file

    @classmethod
    def open(cls, path: Path) -> Recorder:
        try:
            return cls(path.open("a", encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot record to {path}: {exc.strerror or exc}") from None

    def write(self, msg: Message) -> None:
        at = msg.received_at if math.isfinite(msg.received_at) else time.time()
        # The message goes in as received, not re-encoded.
        self._file.write(f'{{"recorded_at":{at!r},"message":{msg.line}}}\n')
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass
class Recorded:
    """A message source that records everything it passes on, filtered out or not."""

    source: MessageSource
    recorder: Recorder

    async def messages(self) -> AsyncIterator[Message]:
        async for msg in self.source.messages():
            self.recorder.write(msg)
            yield msg


def parse_line(text: str) -> tuple[Message, bool] | str:
    """A recording line or a bare message, as a message and whether its time was recorded;
    or why the line is neither."""
    text = text.strip()
    try:
        obj = loads(text)
    except ValueError as exc:
        if str(exc) == NESTED_TOO_DEEPLY:
            return NESTED_TOO_DEEPLY
        return f"not valid JSON: {shorten(text, 40)!r}"
    if not isinstance(obj, dict):
        return "not a JSON object"
    if "recorded_at" in obj and isinstance(obj.get("message"), dict):
        at = obj["recorded_at"]
        inner = obj["message"]
        if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
            return "recorded_at is not a number"
        if not isinstance(inner.get("type"), str):
            return "the recorded message has no string type"
        return Message(encode(inner), inner, float(at)), True
    if not isinstance(obj.get("type"), str):
        return "not a message (no string type)"
    return Message(text, obj, time.time()), False


def replay(
    lines: Iterable[str],
    renderer: Renderer,
    options: WatchOptions,
    *,
    speed: float | None,
    warn: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Render a recording; with ``speed``, keep its timing (divided by ``speed``).
    The number of lines skipped."""
    keeps = options.filter.keeps
    until = options.until
    skipped = 0
    previous: float | None = None
    try:
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            parsed = parse_line(text)
            if isinstance(parsed, str):
                warn(f"line {number}: {parsed}; skipped")
                skipped += 1
                continue
            msg, timed = parsed
            if speed is not None and timed:
                if previous is not None and msg.received_at > previous:
                    sleep((msg.received_at - previous) / speed)
                previous = msg.received_at
            if msg.obj["type"] == "keep_alive" and not options.keepalive:
                continue
            if keeps(msg.obj):
                renderer.message(msg)
            if until is not None and until.matches(msg.obj):
                break
    finally:
        renderer.close()
    return skipped
