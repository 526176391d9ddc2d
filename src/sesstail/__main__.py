"""The ``sesstail`` command, as the console script and as ``python -m sesstail``.

Importing the command line takes a tenth of a second; a Ctrl-C in that time arrives before
``cli.run`` can catch it. This entry point catches it around the import too, so Ctrl-C ends
with one line and exit code 130 whenever it comes, never with a traceback.
"""

from __future__ import annotations

import os
import sys

INTERRUPTED = 130  # errors.ExitCode.INTERRUPTED, without importing anything


def main() -> None:
    _closed_streams_to_devnull()
    try:
        instruction = os.environ.get("_SESSTAIL_COMPLETE", "")
        if instruction.startswith("complete_"):
            # TAB: the common answers without building the command line (most of a TAB's time).
            from sesstail.completion import complete_quickly

            try:
                if complete_quickly(instruction, os.environ):
                    return
            except Exception:  # noqa: S110 - whatever went wrong, typer answers instead
                pass
        from sesstail.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        try:
            sys.stderr.write("sesstail: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        sys.exit(INTERRUPTED)


def _closed_streams_to_devnull() -> None:
    """Started with stdout or stderr closed (``sesstail … >&-``), Python has None there and
    every write would crash: the command runs as usual and what it says goes nowhere, as
    when its reader has gone away."""
    import os

    for name, fd in (("stdout", 1), ("stderr", 2)):
        if getattr(sys, name) is None:
            try:
                os.fstat(fd)
            except OSError:  # fd closed: give it /dev/null, so os.write(fd) works too
                devnull = os.open(os.devnull, os.O_WRONLY)
                if devnull != fd:
                    os.dup2(devnull, fd)
                    os.close(devnull)
            setattr(sys, name, open(fd, "w", encoding="utf-8", closefd=False))  # noqa: SIM115


if __name__ == "__main__":
    main()
