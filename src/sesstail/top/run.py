"""What the ``sesstail top`` command calls: check the options, then the TUI or JSON lines.

The typer command resolves the account as every command does, builds a transport (today
:func:`sesstail.top.wiring.v1_transport`) and calls :func:`run_top` inside ``cli.run``, which
maps the errors raised here to exit codes (a usage error, 2, when there is no terminal).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

from sesstail.errors import UsageError
from sesstail.top.follow import Transport
from sesstail.top.model import STATUSES, Board

MIN_REFRESH = 0.5


def parse_statuses(values: Iterable[str]) -> frozenset[str] | None:
    """``--status`` values (repeatable, or comma-separated); None when none was given."""
    wanted = {v.strip() for value in values for v in value.split(",") if v.strip()}
    if not wanted:
        return None
    unknown = sorted(wanted - set(STATUSES))
    if unknown:
        raise UsageError(f"invalid --status {unknown[0]!r}: expected one of {', '.join(STATUSES)}")
    return frozenset(wanted)


def check_refresh(seconds: float) -> float:
    if not seconds >= MIN_REFRESH:  # also catches NaN
        raise UsageError(f"--refresh must be at least {MIN_REFRESH:g} s")
    return seconds


def require_terminal(stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """A usage error unless stdin and stdout are both terminals: a full-screen view needs one."""
    streams = (stdin or sys.stdin, stdout or sys.stdout)
    try:
        ok = all(stream.isatty() for stream in streams)
    except (AttributeError, ValueError):
        ok = False
    if not ok:
        raise UsageError(
            "sesstail top needs a terminal",
            hint="use --json for one JSON line per change instead",
        )


def run_top(
    transport: Transport,
    *,
    statuses: frozenset[str] | None = None,
    refresh: float = 5.0,
    notify: bool = False,
    json_lines: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    report: Callable[[str], None] = lambda text: None,
) -> int:
    """``sesstail top``: the exit code. Raises ``SesstailError`` for ``cli.run`` to map.

    The list is asked for once before anything is drawn, so a login or network problem ends
    the command with its own exit code rather than inside a full-screen view.
    """
    check_refresh(refresh)
    out = stdout or sys.stdout
    if not json_lines:
        require_terminal(stdin, out)
    board = Board()
    board.update_list(transport.list_sessions())
    if json_lines:
        from sesstail.notify import Notifier, choose_channel
        from sesstail.top.jsonl import follow_as_json

        notifier = Notifier(choose_channel()) if notify else None
        return asyncio.run(
            follow_as_json(
                transport,
                out,
                statuses=statuses,
                refresh=refresh,
                notifier=notifier,
                report=report,
                board=board,
            )
        )
    from sesstail.top.app import TopApp

    app = TopApp(transport, statuses=statuses, refresh=refresh, notify=notify, board=board)
    code = app.run()
    return code if isinstance(code, int) else 0
