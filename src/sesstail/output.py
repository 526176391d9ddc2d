"""Plain output that needs no renderer: JSON lines on stdout and status lines on stderr."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
import unicodedata
from collections.abc import Coroutine, Mapping
from typing import Any, TextIO, TypeVar

from sesstail.protocol import Message

T = TypeVar("T")

PROGRAM = "sesstail"


def want_color(choice: str, stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """``--color always|never|auto``; auto honours ``NO_COLOR``, ``FORCE_COLOR`` and the tty."""
    env = os.environ if env is None else env
    if choice == "always":
        return True
    if choice == "never":
        return False
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class JsonlWriter:
    """One line per message, exactly as received; nothing else on stdout.

    No line ever waits in a buffer for more input: on a real file descriptor, the lines of a
    burst of frames are gathered and written with one ``os.write`` as soon as the event loop
    gets control back — before it waits for the network again. Outside an event loop each line
    is written at once. (One write per line cost 1 µs a message more here.)
    """

    __slots__ = ("_error", "_fd", "_out", "_pending", "_scheduled")

    MAX_PENDING = 512

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._pending: list[str] = []
        self._scheduled = False
        self._error: OSError | None = None
        try:
            out.flush()
            self._fd: int | None = out.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None  # a StringIO, or a test runner's capture

    def message(self, msg: Message) -> None:
        if self._fd is None:
            self._out.write(msg.line + "\n")
            self._out.flush()
            return
        if self._error is not None:
            raise self._error
        self._pending.append(msg.line)
        if len(self._pending) >= self.MAX_PENDING:
            self._write_pending()
        elif not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._write_pending()
                return
            loop.call_soon(self._write_soon)
            self._scheduled = True

    def _write_soon(self) -> None:
        self._scheduled = False
        try:
            self._write_pending()
        except OSError as exc:  # a closed pipe: reported by the next message() or close()
            self._error = exc

    def _write_pending(self) -> None:
        if not self._pending:
            return
        assert self._fd is not None
        self._pending.append("")
        data = "\n".join(self._pending).encode("utf-8", "surrogatepass")
        self._pending.clear()
        while data:
            written = os.write(self._fd, data)
            data = data[written:]

    def close(self) -> None:
        if self._fd is None:
            self._out.flush()
            return
        if self._error is not None:
            raise self._error
        self._write_pending()


async def until_stdout_closes(job: Coroutine[Any, Any, T], poll_every: float = 0.5) -> T:
    """Run ``job``, but end it with ``BrokenPipeError`` (exit 0, as for any closed pipe) as
    soon as the reader of stdout goes away — also while nothing is being written (an idle
    session piped into ``head -1`` would otherwise wait for its next message to notice)."""
    task = asyncio.ensure_future(job)
    watcher = asyncio.ensure_future(_stdout_closed(poll_every))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, BrokenPipeError):
                await task
            raise BrokenPipeError("the reader of stdout went away")
        return task.result()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _stdout_closed(poll_every: float) -> None:
    """Returns once stdout is a pipe or socket whose other end is closed; never otherwise."""
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):
        fd, mode = -1, 0
    if fd < 0 or not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)) or not hasattr(select, "poll"):
        await asyncio.Event().wait()  # a terminal or a file: the reader cannot go away
        return
    poller = select.poll()
    poller.register(fd, select.POLLERR | select.POLLHUP)
    while not poller.poll(0):
        await asyncio.sleep(poll_every)


class StatusReporter:
    """Connection events on stderr; verbose ones only with ``-v``; none but errors with ``-q``.

    On a terminal a long line is wrapped at its width on word boundaries, the continuation
    lines indented under the text; anything else gets one line per event (scripts grep them).
    ``width`` stands in for the terminal's width (tests); it never makes a non-terminal wrap.
    ``timestamps``: False/None, True or "short" (HH:MM:SS), or "full" (RFC 3339, local zone).
    """

    def __init__(
        self,
        err: TextIO | None = None,
        *,
        verbose: bool = False,
        quiet: bool = False,
        color: bool = False,
        timestamps: bool | str | None = False,
        width: int | None = None,
    ) -> None:
        self.err = err if err is not None else sys.stderr
        self.verbose = verbose
        self.quiet = quiet
        self.color = color
        self.timestamps = timestamps
        self.width = width

    def __call__(self, text: str, verbose_only: bool) -> None:
        if self.quiet or (verbose_only and not self.verbose):
            return
        self.line(text)

    def line(self, text: str) -> None:
        head = f"{PROGRAM}: "
        body = self._stamp() + _printable(text)
        width = self._terminal_width()
        if width is not None:
            body = ("\n" + " " * len(head)).join(wrap_words(body, width - len(head)))
        body = head + body
        if self.color:
            body = f"\x1b[2m{body}\x1b[0m"
        try:
            self.err.write(body + "\n")
            self.err.flush()
        except (BrokenPipeError, ValueError):
            pass

    def _stamp(self) -> str:
        """The time before the text: ``timestamps`` True or "short" for HH:MM:SS, "full"
        for RFC 3339 with the date and the zone offset, local time."""
        if not self.timestamps:
            return ""
        if str(self.timestamps).lower() == "full":
            import datetime

            return datetime.datetime.now().astimezone().isoformat(timespec="seconds") + " "
        return time.strftime("%H:%M:%S ")

    def _terminal_width(self) -> int | None:
        return terminal_width(self.err, self.width)


def terminal_width(stream: TextIO, width: int | None = None) -> int | None:
    """The width to wrap status lines at: only when ``stream`` is a terminal."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    if width is not None:
        return width
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size().columns


def wrap_for_terminal(line: str, stream: TextIO) -> str:
    """A ``sesstail: …`` line (already printable) wrapped between words as a status line is,
    continuing under the text after ``sesstail: ``, when ``stream`` is a terminal."""
    head = f"{PROGRAM}: "
    width = terminal_width(stream)
    if width is None or not line.startswith(head):
        return line
    body = line[len(head) :]
    return head + ("\n" + " " * len(head)).join(wrap_words(body, width - len(head)))


# Narrowest text column a wrapped status line gets, however narrow the terminal.
_MIN_COLUMN = 10


def wrap_words(text: str, width: int) -> list[str]:
    """``text`` (one line, already printable) cut into lines of at most ``width`` cells, at
    spaces; a word wider than a line is cut hard. One pass, linear in the text's length:
    status lines can quote remote text of any shape."""
    width = max(width, _MIN_COLUMN)
    if len(text) <= width and text.isascii():
        return [text]
    lines: list[str] = []
    words: list[str] = []  # the current line's words; "" stands for an extra space
    used = 0
    for word in text.replace("\t", " ").split(" "):
        if not words and not word and lines:
            continue  # the blanks at a break
        size = _cells(word)
        gap = 1 if words else 0
        if used + gap + size <= width:
            words.append(word)
            used += gap + size
            continue
        if words:
            lines.append(" ".join(words).rstrip(" "))
            words, used = [], 0
        if not word:
            continue
        if size <= width:
            words, used = [word], size
            continue
        piece: list[str] = []
        piece_size = 0
        for char in word:
            char_size = _cells(char)
            if piece_size + char_size > width and piece:
                lines.append("".join(piece))
                piece, piece_size = [], 0
            piece.append(char)
            piece_size += char_size
        words, used = ["".join(piece)], piece_size
    if words or not lines:
        lines.append(" ".join(words).rstrip(" "))
    return lines


def _cells(text: str) -> int:
    """How many terminal columns ``text`` takes: wide characters two, combining marks none."""
    if text.isascii():
        return len(text)
    size = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        size += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return size


def _printable(text: str) -> str:
    """Status lines can quote remote text (a close reason, a junk frame): escaped as the
    renderers escape it, kept on one line, and with every token seen in this process scrubbed
    (a server could echo one back in a close reason)."""
    return printable_line(text)


def printable_line(text: str) -> str:
    """The one way every line sesstail writes to stderr is made safe: tokens redacted, control
    characters escaped, newlines shown as ``\\n`` (one remote value, one line: a close reason
    holding a newline cannot forge a line that looks like sesstail's own)."""
    from sesstail.render.sanitize import clean
    from sesstail.secrets import redact

    return clean(redact(text)).replace("\n", "\\n")
