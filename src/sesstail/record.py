"""Recordings: every raw message with its receive time, one JSON line each.

    {"recorded_at": 1764000000.123, "message": {...the message as received...}}

The same format is what ``serve`` accepts as a session file. ``replay`` reads recordings,
plain JSONL of messages (a ``--json`` capture) and the transcripts local sessions write (each
transcript line read through ``sesstail.local.transcript``, the one mapping of that format)
alike; a line that is none of these is reported with its number and skipped.

Input files, as people make them: UTF-8 with or without a BOM, LF or CRLF lines; UTF-16 (what
PowerShell's ``>`` writes) is recognised by its BOM or its NUL bytes and read as UTF-16 when
the bytes can be reached (a file, stdin), refused with a usage error when only decoded text is
given. A line longer than ``MAX_LINE_CHARS`` is skipped with its number, read past in bounded
memory (never held whole). A file in which no line is a message is a usage error, not "nothing,
exit 0". Under ``--realtime`` each pause is at most ``MAX_GAP_S``: a recorded gap of hours (or
a corrupt 1e300 s one) does not hold the replay.
"""

from __future__ import annotations

import codecs
import io
import itertools
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple, TextIO, cast

from sesstail.errors import UsageError
from sesstail.local.transcript import TranscriptMapper, looks_like_transcript
from sesstail.protocol import (
    NESTED_TOO_DEEPLY,
    Message,
    TypeFilter,
    encode,
    input_encoding,
    loads,
    shorten,
)
from sesstail.times import message_time
from sesstail.watch import MessageSource, Renderer, WatchOptions

# One line at most this long: the stream's own limit for one message (``max_size``).
MAX_LINE_CHARS = 256 * 2**20
# The longest pause ``--realtime`` keeps, after ``--speed``.
MAX_GAP_S = 60.0
_CHUNK = 1 << 20


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


class Line(NamedTuple):
    """A line of a replay input read as a message."""

    msg: Message
    timed: bool  # its time was recorded (a recording, a transcript's timestamp)
    hidden: bool = False  # transcript bookkeeping, shown only when asked for


def parse_line(text: str, mapper: TranscriptMapper | None = None) -> Line | str:
    """A recording line, a bare message or a transcript line (mapped by ``mapper``, a fresh
    one if None); or why the line is none of these."""
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
        if looks_like_transcript(inner):
            mapped = (mapper or TranscriptMapper()).map(inner)
            return Line(Message(encode(inner), mapped.obj, float(at)), True, mapped.hidden)
        return Line(Message(encode(inner), inner, float(at)), True)
    if not isinstance(obj.get("type"), str):
        return "not a message (no string type)"
    if looks_like_transcript(obj):
        mapped = (mapper or TranscriptMapper()).map(obj)
        timed = mapped.at is not None and math.isfinite(mapped.at)
        at = mapped.at if timed and mapped.at is not None else time.time()
        return Line(Message(text, mapped.obj, at), timed, mapped.hidden)
    return Line(Message(text, obj, time.time()), False)


# -- input files ---------------------------------------------------------------------------------


def input_lines(
    source: Iterable[str] | IO[Any], warn: Callable[[str], None], max_line: int = MAX_LINE_CHARS
) -> Iterator[tuple[int, str]]:
    """The numbered lines of a replay input, each at most ``max_line`` characters.

    A file (or stdin) is read as bytes, whatever text wrapper it comes in, so that its
    encoding is decided here: UTF-8 (a BOM is dropped), or UTF-16 by its BOM or NUL bytes.
    Other iterables of text are taken as decoded; UTF-16 read as UTF-8 is refused there.
    """
    raw = _bytes_of(source)
    if raw is not None:
        yield from _decoded_lines(raw, warn, max_line)
        return
    for number, text in enumerate(cast("Iterable[str]", source), 1):
        if number == 1:
            text = text.removeprefix("\ufeff")
            if "\x00" in text:
                raise _utf16_refused()
        if len(text) > max_line:
            warn(f"line {number}: longer than {max_line:,} characters; skipped")
            continue
        yield number, text


def _utf16_refused() -> UsageError:
    return UsageError(
        "the input looks like UTF-16 (NUL bytes in its first line), which replay reads only "
        "from a file or stdin",
        hint="convert it: iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8.jsonl",
    )


def _bytes_of(source: Any) -> IO[bytes] | None:
    # A text file not yet read from: its buffer holds every byte. (Iterating the text
    # wrapper instead would decode before the encoding is known, and read a line whole.)
    if isinstance(source, io.RawIOBase | io.BufferedIOBase):
        return source  # type: ignore[return-value]
    buffer = getattr(source, "buffer", None)
    if isinstance(source, io.TextIOBase) and isinstance(buffer, io.RawIOBase | io.BufferedIOBase):
        return buffer  # type: ignore[return-value]
    return None


def _read_head(raw: IO[bytes], size: int) -> bytes:
    head = b""
    while len(head) < size:
        more = raw.read(size - len(head))
        if not more:
            break
        head += more
    return head


def _decoded_lines(
    raw: IO[bytes], warn: Callable[[str], None], max_line: int
) -> Iterator[tuple[int, str]]:
    head = _read_head(raw, 4)
    encoding, bom = input_encoding(head)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    splitter = _LineSplitter(max_line, warn)
    chunks = itertools.chain([head[bom:]], iter(lambda: raw.read(_CHUNK), b""))
    for chunk in chunks:
        yield from splitter.feed(decoder.decode(chunk))
    yield from splitter.feed(decoder.decode(b"", final=True))
    yield from splitter.end()


class _LineSplitter:
    """Text in chunks → lines; a line beyond the limit is reported and read past, never kept."""

    def __init__(self, max_line: int, warn: Callable[[str], None]) -> None:
        self._max = max_line
        self._warn = warn
        self._pieces: list[str] = []
        self._size = 0
        self._skipping = False
        self._number = 0

    def feed(self, text: str) -> Iterator[tuple[int, str]]:
        start = 0
        while True:
            end = text.find("\n", start)
            if end < 0:
                if not self._skipping and start < len(text):
                    self._pieces.append(text[start:])
                    self._size += len(text) - start
                    if self._size > self._max:
                        self._too_long()
                return
            self._number += 1
            if self._skipping:
                self._skipping = False
            else:
                line = text[start:end]
                if self._pieces:
                    line = "".join([*self._pieces, line])
                    self._pieces, self._size = [], 0
                if len(line) > self._max:
                    self._say_too_long(self._number)
                else:
                    yield self._number, line
            start = end + 1

    def end(self) -> Iterator[tuple[int, str]]:
        if self._pieces and not self._skipping:
            self._number += 1
            yield self._number, "".join(self._pieces)
        self._pieces, self._size = [], 0

    def _too_long(self) -> None:
        """The line being read is past the limit: say so, drop it, read on to its end."""
        self._say_too_long(self._number + 1)
        self._pieces, self._size = [], 0
        self._skipping = True

    def _say_too_long(self, number: int) -> None:
        self._warn(f"line {number}: longer than {self._max:,} characters; skipped")


# -- replay ----------------------------------------------------------------------------------------


def replay(
    lines: Iterable[str] | IO[Any],
    renderer: Renderer,
    options: WatchOptions,
    *,
    speed: float | None,
    warn: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    verbose: bool = False,
    max_line: int = MAX_LINE_CHARS,
    since: float | None = None,
) -> int:
    """Render a recording, a capture or a transcript; with ``speed``, keep its timing (divided
    by ``speed``, each pause at most ``MAX_GAP_S``). The number of lines skipped.

    With ``since`` (epoch seconds), only the messages made then or later: by the message's
    own ``timestamp``/``created_at``, else its recording time; a message with neither takes
    the time of the one before it (kept when none before has one).

    Transcript bookkeeping is drawn only with ``verbose`` or when a ``-t``/``--until``
    pattern names it. A non-empty input with no message in it raises ``UsageError``.
    """
    keeps = options.keeps
    until = options.until
    mapper = TranscriptMapper()
    skipped = 0
    read = 0
    previous: float | None = None
    current: float | None = None  # the time of the latest message that had one (--since)
    try:
        for number, text in input_lines(lines, warn, max_line):
            if not text.strip():
                continue
            parsed = parse_line(text, mapper)
            if isinstance(parsed, str):
                warn(f"line {number}: {parsed}; skipped")
                skipped += 1
                continue
            read += 1
            msg, timed, hidden = parsed
            if since is not None:
                when = message_time(msg.obj)
                current = when if when is not None else (msg.received_at if timed else current)
                if current is not None and current < since:
                    continue
            if hidden and not (verbose or _asked_for(msg.obj, options.filter, until)):
                continue
            if speed is not None and timed:
                if previous is not None and msg.received_at > previous:
                    sleep(min((msg.received_at - previous) / speed, MAX_GAP_S))
                previous = msg.received_at
            if msg.obj["type"] == "keep_alive" and not options.keepalive:
                continue
            if keeps(msg.obj):
                renderer.message(msg)
            if until is not None and until.matches(msg.obj):
                break
    finally:
        renderer.close()
    if read == 0 and skipped > 0:
        raise UsageError(
            f"nothing to replay: none of the {skipped} lines read is a message",
            hint="replay reads recordings (watch --record), --json captures and transcripts",
        )
    return skipped


def _asked_for(obj: dict[str, Any], types: TypeFilter, until: TypeFilter | None) -> bool:
    return types.matches(obj) or (until is not None and until.matches(obj))
