"""The ``sesstail`` command, as the console script and as ``python -m sesstail``.

Importing the command line takes a tenth of a second; a Ctrl-C in that time arrives before
``cli.run`` can catch it. This entry point catches it around the import too, so Ctrl-C ends
with one line and exit code 130 whenever it comes, never with a traceback.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # errors.ExitCode.INTERRUPTED, without importing anything


def main() -> None:
    try:
        from sesstail.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        try:
            sys.stderr.write("sesstail: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        sys.exit(INTERRUPTED)


if __name__ == "__main__":
    main()
