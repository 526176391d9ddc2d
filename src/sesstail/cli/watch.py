"""``sesstail watch``: follow one session or several."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from sesstail.cli.app import app, run
from sesstail.cli.common import _build_options, _build_renderer, _choose_format, _follow
from sesstail.cli.options import (
    DEFAULT_BASE_URL,
    ApiChoice,
    ApiOpt,
    BaseUrlOpt,
    ColorChoice,
    ColorOpt,
    DebugOpt,
    ExcludeOpt,
    FormatOpt,
    JsonOpt,
    KeepaliveOpt,
    MaxSizeOpt,
    NotifyOpt,
    OpenTimeoutOpt,
    OrgOpt,
    OutputFormat,
    PingIntervalOpt,
    PingTimeoutOpt,
    QuietOpt,
    RetriesOpt,
    RetryDelayOpt,
    TimestampsOpt,
    TypeOpt,
    UntilOpt,
    VerboseOpt,
)
from sesstail.cli.targets import resolve_targets
from sesstail.errors import UsageError


@app.command("watch")
def watch_command(
    session_ids: Annotated[
        list[str],
        typer.Argument(
            metavar="SESSION_ID...",
            help="Session ids (session_…) or claude.ai/code addresses; several are followed "
            "together, each line labelled (pretty output).",
            show_default=False,
        ),
    ],
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    org: OrgOpt = None,
    api: ApiOpt = ApiChoice.auto,
    fmt: FormatOpt = None,
    json_flag: JsonOpt = False,
    types: TypeOpt = None,
    excludes: ExcludeOpt = None,
    until: UntilOpt = None,
    keepalive: KeepaliveOpt = False,
    timestamps: TimestampsOpt = False,
    color: ColorOpt = ColorChoice.auto,
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
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    ping_interval: PingIntervalOpt = 30.0,
    ping_timeout: PingTimeoutOpt = 20.0,
    open_timeout: OpenTimeoutOpt = 10.0,
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
            help="Local sessions: the transcript from this time (10m, 2h, 2026-12-01T10:00Z).",
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
            len(session_ids) > 1 or history > 0 or record is not None or bool(local) or notify
        )
        if interactive and (beyond_one or local):
            raise UsageError(
                "--interactive follows one remote session, without --history, --record or --notify"
            )
        if since is not None and len(local) != len(session_ids):
            raise UsageError("--since works on local sessions (remote ones: use -n N)")
        options = _build_options(types, excludes, until, keepalive)  # usage errors first
        remote = [s for s in session_ids if s not in local]
        targets = resolve_targets(remote, base_url, org, api.value) if remote else []
        out_format = _choose_format(fmt, json_flag, sys.stdout)
        stream_options: dict[str, Any] = {
            "retries": retries,
            "retry_delay": retry_delay,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "open_timeout": open_timeout,
            "max_size": max_size,
            # JSON lines are written as received: the parsed object only serves filters.
            "exact_numbers": out_format is not OutputFormat.jsonl,
        }
        reporter = StatusReporter(
            verbose=verbose or debug,
            quiet=quiet,
            color=want_color(color.value, sys.stderr),
            timestamps=timestamps,
        )
        if beyond_one:
            from sesstail.cli.sessions import follow_sessions

            order = {s: i for i, s in enumerate(session_ids)}
            return follow_sessions(
                targets,
                stream_options,
                out_format,
                options,
                reporter,
                color=want_color(color.value, sys.stdout),
                timestamps=timestamps,
                history=history,
                record=record,
                local=sorted(dict.fromkeys(local), key=order.__getitem__),
                since=since,
                verbose=verbose or debug,
                notify=notify,
            )
        settings = targets[0].stream_settings(**stream_options)
        if interactive:
            from sesstail.control import follow_interactively, require_terminal

            terminal = require_terminal()
            renderer = _build_renderer(out_format, want_color(color.value, sys.stdout), timestamps)
            return follow_interactively(settings, renderer, options, reporter, terminal)
        renderer = _build_renderer(out_format, want_color(color.value, sys.stdout), timestamps)
        return _follow(settings, renderer, options, reporter)

    run(job, debug=debug)
