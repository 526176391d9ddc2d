"""``sesstail watch``: follow one session or several."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sesstail.cli.app import app, run
from sesstail.cli.common import (
    _follow,
    build_options,
    build_renderer,
    choose_format,
    counting,
    summed_up,
)
from sesstail.cli.options import (
    Connection,
    Display,
    ExitStatusOpt,
    Filters,
    KeepaliveOpt,
    Logging,
    MaxSizeOpt,
    NotifyOpt,
    OutputFormat,
    PingIntervalOpt,
    PingTimeoutOpt,
    RetriesOpt,
    RetryDelayOpt,
    UntilOpt,
    complete_target,
    grouped,
)
from sesstail.cli.targets import resolve_targets
from sesstail.errors import UsageError

if TYPE_CHECKING:
    from sesstail.cli.targets import Target
    from sesstail.output import StatusReporter
    from sesstail.watch import WatchOptions


@app.command("watch")
@grouped
def watch_command(
    session_ids: Annotated[
        list[str],
        typer.Argument(
            metavar="SESSION_ID...",
            help="Session ids (session_…) or claude.ai/code addresses; several are followed "
            "together, each line labelled (pretty output).",
            show_default=False,
            autocompletion=complete_target,
        ),
    ],
    conn: Connection = Connection(),
    display: Display = Display(),
    filters: Filters = Filters(),
    until: UntilOpt = None,
    exit_status: ExitStatusOpt = False,
    keepalive: KeepaliveOpt = False,
    interactive: Annotated[
        bool,
        typer.Option(
            "--interactive",
            "-i",
            help="Ask about permission prompts right here: allow, deny or leave them "
            "(needs a terminal on stdin and stdout).",
        ),
    ] = False,
    retries: RetriesOpt = 10,
    retry_delay: RetryDelayOpt = 1.0,
    log: Logging = Logging(),
    ping_interval: PingIntervalOpt = 30.0,
    ping_timeout: PingTimeoutOpt = 20.0,
    max_size: MaxSizeOpt = 256 * 2**20,
    history: Annotated[
        int,
        typer.Option(
            "--history",
            "-n",
            min=0,
            metavar="N",
            help="First show the last N messages, then the live stream (each message once).",
        ),
    ] = 0,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            metavar="FILE",
            help="Also append every raw message, with its receive time, to FILE (JSONL).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="First show what was said since this time (10m, 2h, 2026-12-01T10:00Z), then "
            "the live stream; with -n N, the last N of those.",
            show_default=False,
        ),
    ] = None,
    notify: NotifyOpt = False,
) -> None:
    """Follow sessions live: pretty on a terminal, one JSON line per message when piped.

    A session is a remote id (session_…), its claude.ai/code address, or a local session:
    its id or the path of its transcript (.jsonl). Several sessions: each reconnects on its
    own, a session that fails for good is reported and the others go on; the exit code is
    the worst outcome (0 < 4 < 3 < 5 < others).
    """

    def job() -> int:
        from sesstail.cli.local import is_local_target
        from sesstail.output import StatusReporter, want_color

        local = [s for s in session_ids if is_local_target(s)]
        beyond_one = (
            len(session_ids) > 1
            or history > 0
            or since is not None
            or record is not None
            or bool(local)
            or notify
        )
        if interactive and (beyond_one or local):
            raise UsageError(
                "--interactive follows one remote session, without --history, --since, "
                "--record or --notify"
            )
        if since is not None:
            from sesstail.local.sessions import parse_since

            parse_since(since)  # a bad time is a usage error before anything is sent
        if exit_status and not until:
            raise UsageError("--exit-status goes with --until (e.g. --until result)")
        # usage errors first
        options = build_options(filters, until, keepalive, exit_status=exit_status)
        out_format = choose_format(display)
        remote = [s for s in session_ids if s not in local]
        targets = resolve_targets(remote, conn.base_url, conn.org, conn.api.value) if remote else []
        options = counting(options, out_format)
        stream_options: dict[str, Any] = {
            "retries": retries,
            "retry_delay": retry_delay,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "open_timeout": conn.open_timeout,
            "max_size": max_size,
            # JSON lines are written as received: the parsed object only serves filters.
            "exact_numbers": out_format is not OutputFormat.jsonl,
        }
        reporter = StatusReporter(
            verbose=log.loud,
            quiet=log.quiet,
            color=want_color(display.color.value, sys.stderr),
            timestamps=display.timestamps.value if display.timestamps is not None else None,
        )
        with summed_up(options, reporter, log.quiet):
            return follow(out_format, options, targets, local, stream_options, reporter, beyond_one)

    def follow(
        out_format: OutputFormat,
        options: WatchOptions,
        targets: list[Target],
        local: list[str],
        stream_options: dict[str, Any],
        reporter: StatusReporter,
        beyond_one: bool,
    ) -> int:
        from sesstail.output import want_color

        if beyond_one:
            from sesstail.cli.sessions import follow_sessions

            order = {s: i for i, s in enumerate(session_ids)}
            return follow_sessions(
                targets,
                stream_options,
                out_format,
                options,
                reporter,
                color=want_color(display.color.value, sys.stdout),
                timestamps=display.timestamps,
                history=history,
                record=record,
                local=sorted(dict.fromkeys(local), key=order.__getitem__),
                since=since,
                verbose=log.loud,
                notify=notify,
            )
        settings = targets[0].stream_settings(**stream_options)
        if interactive:
            from sesstail.control import follow_interactively, require_terminal

            terminal = require_terminal()
            renderer = build_renderer(display, out_format)
            color = want_color(display.color.value, sys.stdout)
            return follow_interactively(
                settings, renderer, options, reporter, terminal, color=color
            )
        return _follow(settings, build_renderer(display, out_format), options, reporter)

    run(job, debug=log.debug)
