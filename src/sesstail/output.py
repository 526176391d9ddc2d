"""Plain output that needs no renderer: JSON lines on stdout and status lines on stderr."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from sesstail.protocol import Message

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
    """One line per message, exactly as received, flushed per line; nothing else on stdout.

    On a real file descriptor each line is one ``os.write``: unbuffered, so nothing waits in a
    buffer, and cheaper than a text write plus a flush (1.0 µs against 1.7 µs per line here).
    """

    __slots__ = ("_fd", "_out")

    def __init__(self, out: TextIO) -> None:
        self._out = out
        try:
            out.flush()
            self._fd: int | None = out.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None  # a StringIO, or a test runner's capture

    def message(self, msg: Message) -> None:
        fd = self._fd
        if fd is None:
            self._out.write(msg.line + "\n")
            self._out.flush()
            return
        data = (msg.line + "\n").encode("utf-8", "surrogatepass")
        while data:
            written = os.write(fd, data)
            data = data[written:]

    def close(self) -> None:
        if self._fd is None:
            self._out.flush()


class StatusReporter:
    """Connection events on stderr; verbose ones only with ``-v``; none but errors with ``-q``."""

    def __init__(
        self,
        err: TextIO | None = None,
        *,
        verbose: bool = False,
        quiet: bool = False,
        color: bool = False,
        timestamps: bool = False,
    ) -> None:
        self.err = err if err is not None else sys.stderr
        self.verbose = verbose
        self.quiet = quiet
        self.color = color
        self.timestamps = timestamps

    def __call__(self, text: str, verbose_only: bool) -> None:
        if self.quiet or (verbose_only and not self.verbose):
            return
        self.line(text)

    def line(self, text: str) -> None:
        prefix = time.strftime("%H:%M:%S ") if self.timestamps else ""
        body = f"{PROGRAM}: {prefix}{_printable(text)}"
        if self.color:
            body = f"\x1b[2m{body}\x1b[0m"
        try:
            self.err.write(body + "\n")
            self.err.flush()
        except (BrokenPipeError, ValueError):
            pass


_CONTROL = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0)], "?")
_CONTROL.pop(0x09)


def _printable(text: str) -> str:
    """Status lines can quote remote text (a close reason, a junk frame): no controls."""
    return text if text.isprintable() else text.translate(_CONTROL)
