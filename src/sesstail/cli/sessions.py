"""Commands around the stream: list sessions, history, send, open, replay.

Also what ``watch`` does for several sessions, ``--history`` and ``--record``
(``follow_sessions``). Only typer is imported at load: the REST client, websockets and the
renderers are imported inside the commands.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sesstail.cli.app import (
    _say,
    app,
    run,
)
from sesstail.cli.common import build_options, build_renderer, choose_format, counting, summed_up
from sesstail.cli.options import (
    DEFAULT_BASE_URL,
    ApiChoice,
    ApiOpt,
    BaseUrlOpt,
    ColorChoice,
    ColorOpt,
    Connection,
    DebugOpt,
    Display,
    ExitStatusOpt,
    Filters,
    KeepaliveOpt,
    Logging,
    OrgOpt,
    OutputFormat,
    PingIntervalOpt,
    PingTimeoutOpt,
    RetriesOpt,
    RetryDelayOpt,
    SessionArg,
    TimestampMode,
    UntilOpt,
    grouped,
)
from sesstail.cli.targets import (
    resolve_account,
    resolve_target,
)
from sesstail.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sesstail.cli.targets import Account, Target
    from sesstail.output import StatusReporter
    from sesstail.sessions_api import SessionsApi
    from sesstail.watch import MessageSource, WatchOptions


class SessionStatus(enum.StrEnum):
    running = "running"
    idle = "idle"
    requires_action = "requires_action"
    archived = "archived"


def _api(where: Account | Target, retry_delay: float = 0.5) -> SessionsApi:
    from sesstail.sessions_api import SessionsApi

    return SessionsApi(
        where.base_url, where.org_uuid, where.token, where.env, retry_delay=retry_delay
    )


# -- ls ------------------------------------------------------------------------------------


@app.command("ls")
def ls_command(
    status: Annotated[
        SessionStatus | None,
        typer.Option(
            "--status",
            metavar="running|idle|requires_action|archived",
            help="Only sessions in this state.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, metavar="N", help="At most this many.")
    ] = 20,
    json_flag: Annotated[bool, typer.Option("--json", help="One JSON line per session.")] = False,
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="The sessions on this machine (Claude Code's transcripts) instead."
        ),
    ] = False,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            metavar="DIR",
            help="With --local: only the sessions of this project directory.",
            show_default=False,
        ),
    ] = None,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    org: OrgOpt = None,
    api: ApiOpt = ApiChoice.auto,
    color: ColorOpt = ColorChoice.auto,
    debug: DebugOpt = False,
) -> None:
    """List sessions, most recently active first: id, title, status, model, last update.

    On a terminal (or with --color always), a table; into a pipe, tab-separated values
    without a header (id, title, status, model, updated_at), as gh does; --json, one JSON
    object per line.
    """

    def job() -> int:
        import json

        from sesstail.output import want_color

        if project is not None and not local:
            raise UsageError("--project goes with --local")
        if local:
            return _ls_local(status, limit, json_flag, project, color)
        account = resolve_account(base_url, org, api.value)
        items = list_sessions(account, limit, status.value if status else None)
        if status is None:  # TAB completion offers what the last full listing held
            from sesstail.completion import remember

            remember(base_url, items)
        if json_flag:
            for item in items:
                sys.stdout.write(json.dumps(item, separators=(",", ":")) + "\n")
            sys.stdout.flush()
            return ExitCode.OK
        if not items:
            _say("sesstail: no sessions" + (f" with status {status.value}" if status else ""))
            return ExitCode.OK
        if not _is_terminal(sys.stdout) and color is not ColorChoice.always:
            _write_tsv(items, ("id", "title", "session_status", "model", "updated_at"))
            return ExitCode.OK
        from sesstail.render.sessions_table import render_sessions

        render_sessions(items, sys.stdout, color=want_color(color.value, sys.stdout))
        return ExitCode.OK

    run(job, debug=debug)


def _ls_local(
    status: SessionStatus | None,
    limit: int,
    json_flag: bool,
    project: str | None,
    color: ColorChoice,
) -> int:
    from sesstail.local.sessions import list_local_sessions, write_jsonl
    from sesstail.output import want_color

    if status is not None:
        raise UsageError("--status is for remote sessions (local ones have no status)")
    sessions = list_local_sessions(limit=limit, project=project)
    if json_flag:
        write_jsonl(sessions, sys.stdout)
        return ExitCode.OK
    if not sessions:
        _say("sesstail: no local sessions")
        return ExitCode.OK
    if not _is_terminal(sys.stdout) and color is not ColorChoice.always:
        _write_tsv(sessions, ("id", "title", "project", "updated_at", "size"))
        return ExitCode.OK
    from sesstail.render.local_table import render_local_sessions

    render_local_sessions(sessions, sys.stdout, color=want_color(color.value, sys.stdout))
    return ExitCode.OK


def _is_terminal(out: Any) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def _tsv_field(value: Any) -> str:
    """One field: remote text with every control character shown as a visible escape, as
    everywhere else (a tab and a newline too: they would split a field or a row)."""
    from sesstail.render.sanitize import clean

    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return clean(text.replace("\t", "\\x09").replace("\n", "\\x0a"))


def _write_tsv(items: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """``ls`` into a pipe: one row per session, tab-separated, no header (``cut -f1``)."""
    rows = []
    for item in items:
        context = item.get("session_context")
        fields = []
        for column in columns:
            value = item.get(column)
            if column == "model" and value is None and isinstance(context, dict):
                value = context.get("model")
            fields.append(_tsv_field(value))
        rows.append("\t".join(fields) + "\n")
    sys.stdout.write("".join(rows))
    sys.stdout.flush()


def list_sessions(account: Account, limit: int, status: str | None) -> list[dict[str, Any]]:
    from sesstail.transport.listing import list_sessions as listed

    return listed(
        account.base_url, account.org_uuid, account.token, account.env, account.api, limit, status
    )


# -- history -------------------------------------------------------------------------------


@app.command("history")
@grouped
def history_command(
    session_id: SessionArg,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=1, metavar="N", help="How many of the last messages."),
    ] = 50,
    conn: Connection = Connection(),
    display: Display = Display(),
    filters: Filters = Filters(),
    debug: DebugOpt = False,
) -> None:
    """Print a session's last messages, oldest first, as `watch` would show them.

    The filters apply to those last messages: `-n 50 -t assistant` shows the assistant
    messages among the last 50.
    """

    def job() -> int:
        import asyncio

        from sesstail.cli.local import is_local_target
        from sesstail.output import StatusReporter
        from sesstail.transport.stream import SessionStream

        options = build_options(filters)  # usage errors first
        out_format = choose_format(display)
        if is_local_target(session_id):
            from sesstail.cli.local import local_source

            _, source = local_source(session_id, options=options, history=limit, follow=False)

            async def read() -> list[Any]:
                return [msg async for msg in source.messages()]

            history = asyncio.run(read())
        else:
            target = resolve_target(session_id, conn.base_url, conn.org, conn.api.value)
            settings = target.stream_settings(open_timeout=conn.open_timeout)
            stream = SessionStream(settings, StatusReporter(verbose=debug))
            history = asyncio.run(stream.last_messages(limit))
        renderer = build_renderer(display, out_format)
        try:
            for msg in history:
                if msg.obj["type"] != "keep_alive" and options.keeps(msg.obj):
                    renderer.message(msg)
        finally:
            renderer.close()
        return ExitCode.OK

    run(job, debug=debug)


# -- open ----------------------------------------------------------------------------------


def _has_desktop() -> bool:
    import os

    if sys.platform in ("darwin", "win32"):
        return not os.environ.get("SSH_CONNECTION")
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@app.command("open")
def open_command(
    session_id: SessionArg,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the address.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Print a session's web address, and open it in a browser when there is a desktop."""

    def job() -> int:
        from urllib.parse import quote

        from sesstail.cli.local import refuse_local
        from sesstail.protocol import WEB_URL, validate_session_id

        refuse_local(session_id, "a web address", "it has no page on claude.ai")
        url = WEB_URL + quote(validate_session_id(session_id), safe="")
        print(url, flush=True)
        if not no_browser and sys.stdout.isatty() and _has_desktop():
            import webbrowser

            if not webbrowser.open(url):
                _say("sesstail: could not start a browser; the address is above")
        return ExitCode.OK

    run(job, debug=debug)


# -- send ----------------------------------------------------------------------------------


@app.command("send")
@grouped
def send_command(
    session_id: SessionArg,
    text: Annotated[
        str, typer.Argument(metavar="PROMPT", help="The prompt; - reads it from stdin.")
    ],
    watch_flag: Annotated[
        bool, typer.Option("--watch", "-w", help="Then watch the session until that turn ends.")
    ] = False,
    conn: Connection = Connection(),
    display: Display = Display(),
    filters: Filters = Filters(),
    exit_status: ExitStatusOpt = False,
    retries: RetriesOpt = 10,
    retry_delay: RetryDelayOpt = 1.0,
    log: Logging = Logging(),
    ping_interval: PingIntervalOpt = 30.0,
    ping_timeout: PingTimeoutOpt = 20.0,
) -> None:
    """Send a prompt to a session; it is never delivered twice, even when retried.

    Without --watch, prints the prompt's uuid.
    """

    def job() -> int:
        import uuid

        from sesstail.cli.local import refuse_local
        from sesstail.output import StatusReporter, want_color

        refuse_local(session_id, "sending a prompt")
        prompt = sys.stdin.read() if text == "-" else text
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        import asyncio

        from sesstail.transport.stream import SessionStream

        if exit_status and not watch_flag:
            raise UsageError("--exit-status goes with --watch")
        options = build_options(filters, exit_status=exit_status)  # usage errors first
        out_format = choose_format(display)
        target = resolve_target(session_id, conn.base_url, conn.org, conn.api.value)
        prompt_uuid = str(uuid.uuid4())
        reporter = StatusReporter(
            verbose=log.loud, quiet=log.quiet, color=want_color(display.color.value, sys.stderr)
        )
        settings = target.stream_settings(
            retries=retries,
            retry_delay=retry_delay,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            open_timeout=conn.open_timeout,
        )
        stream = SessionStream(settings, reporter)
        if not watch_flag:
            asyncio.run(stream.send_prompt(prompt, prompt_uuid))
            reporter(f"sent to {target.session_id}", True)
            print(prompt_uuid, flush=True)
            return ExitCode.OK
        import dataclasses

        from sesstail.attach import AfterPrompt
        from sesstail.protocol import TypeFilter
        from sesstail.watch import outcome, watch

        renderer = build_renderer(display, out_format)
        # The turn ends with its result: --exit-status judges that one.
        until_result = counting(
            dataclasses.replace(options, until=TypeFilter(["result"])), out_format
        )

        async def go() -> int:
            turn = AfterPrompt(stream, prompt_uuid, prompt)
            return outcome(await watch(turn, renderer, until_result), until_result)

        with summed_up(until_result, reporter, log.quiet):
            return asyncio.run(go())

    run(job, debug=log.debug)


# -- replay --------------------------------------------------------------------------------


@app.command("replay")
@grouped
def replay_command(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="A recording or JSONL of messages; - is stdin.")
    ],
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Keep the recorded timing (instant by default).")
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            metavar="FACTOR",
            min=0.001,
            help="Keep the recorded timing, this many times faster (implies --realtime).",
            show_default=False,
        ),
    ] = None,
    display: Display = Display(),
    filters: Filters = Filters(),
    until: UntilOpt = None,
    keepalive: KeepaliveOpt = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also draw a local transcript's bookkeeping lines (snapshots, progress, …).",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Only what was said since this time (10m, 2h, 2026-12-01T10:00Z): by each "
            "message's own time, else when it was recorded.",
            show_default=False,
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Render a recording (`watch --record`) or a `--json` capture, as `watch` would.

    Bad lines are reported with their line number and skipped.
    """

    def job() -> int:
        from sesstail.output import StatusReporter, want_color
        from sesstail.record import replay

        since_at = None
        if since is not None:
            from sesstail.local.sessions import parse_since

            since_at = parse_since(since)  # a bad time is a usage error before reading
        options = build_options(filters, until, keepalive)
        out_format = choose_format(display)
        reporter = StatusReporter(color=want_color(display.color.value, sys.stderr))
        if file == "-":
            lines: Any = sys.stdin
        else:
            try:
                lines = Path(file).open(encoding="utf-8", errors="replace")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
        renderer = build_renderer(display, out_format)
        try:
            replay(
                lines,
                renderer,
                options,
                speed=speed if speed is not None else (1.0 if realtime else None),
                warn=reporter.line,
                verbose=verbose,
                since=since_at,
            )
        finally:
            if lines is not sys.stdin:
                lines.close()
        return ExitCode.OK

    run(job, debug=debug)


# -- watch: several sessions, --history, --record --------------------------------------------


def follow_sessions(
    targets: list[Target],
    stream_options: dict[str, Any],
    out_format: OutputFormat,
    options: WatchOptions,
    reporter: StatusReporter,
    *,
    color: bool,
    timestamps: TimestampMode | None,
    history: int,
    record: Path | None,
    local: list[str] | None = None,
    since: str | None = None,
    verbose: bool = False,
    notify: bool = False,
) -> int:
    """``watch`` beyond one plain remote session: several at once, local sessions, a
    backfill, a recording, notifications."""
    import asyncio
    from functools import partial

    from sesstail.attach import SINCE_MAX_MESSAGES, Backfilled
    from sesstail.multi import Followed, follow_many, session_labels
    from sesstail.output import JsonlWriter
    from sesstail.record import Recorded, Recorder
    from sesstail.transport.stream import SessionStream
    from sesstail.watch import Renderer, outcome, watch

    since_at = None
    if since is not None:
        from sesstail.local.sessions import parse_since

        since_at = parse_since(since)
    count = history or (SINCE_MAX_MESSAGES if since_at is not None else 0)
    sources: list[tuple[str, Callable[[Callable[[str, bool], None]], MessageSource]]] = []
    for target in targets:

        def remote(status: Callable[[str, bool], None], t: Target = target) -> MessageSource:
            stream = SessionStream(t.stream_settings(**stream_options), status)
            return Backfilled(stream, count, since_at) if count else stream

        sources.append((target.session_id, remote))
    for arg in local or []:
        from sesstail.cli.local import local_source

        session_id, source = local_source(
            arg,
            options=options,
            history=history,
            since=since,
            verbose=verbose,
            warn=reporter.line,
        )

        def local_one(
            _status: Callable[[str, bool], None], s: MessageSource = source
        ) -> MessageSource:
            return s

        sources.append((session_id, local_one))
    several = len(sources) > 1
    if several:
        _preload(targets)
    labels = session_labels([sid for sid, _ in sources]) if several else {}
    recorder = Recorder.open(record) if record is not None else None
    jsonl = JsonlWriter(sys.stdout) if out_format is OutputFormat.jsonl else None
    notifier = None
    if notify:
        from sesstail.notify import Notifier

        notifier = Notifier.for_this_machine()

    def renderer_for(label: str | None) -> Renderer:
        if jsonl is not None:
            return jsonl  # the lines stay the messages themselves: they carry session_id
        from sesstail.render.pretty import PrettyRenderer

        return PrettyRenderer(
            sys.stdout,
            color=color,
            timestamps=timestamps.value if timestamps is not None else None,
            label=label,
        )

    async def go() -> int:
        followed: list[Followed] = []
        for session_id, build in sources:
            label = labels.get(session_id, "")
            status: Callable[[str, bool], None] = reporter
            if label:
                status = partial(_labelled, reporter, label.strip())
            source = build(status)
            if recorder is not None:
                source = Recorded(source, recorder)
            if notifier is not None:
                from sesstail.notify import NotifyingSource

                source = NotifyingSource(source, notifier, label.strip() or session_id)
            followed.append(Followed(session_id, label, source, renderer_for(label)))
        if not several:
            return outcome(await watch(followed[0].source, followed[0].renderer, options), options)
        return await follow_many(followed, options, reporter.line)

    from sesstail.output import until_stdout_closes

    async def main() -> int:
        return await until_stdout_closes(go())

    try:
        return asyncio.run(main())
    finally:
        if recorder is not None:
            recorder.close()
        if notifier is not None:
            notifier.close()


def _preload(targets: list[Target]) -> None:
    """Import now what following the sessions would import on first use: with hundreds of
    sessions the process can run out of file descriptors, and an import that cannot open its
    file would then end the whole watch instead of failing one session's connection."""
    import importlib

    modules = ["sesstail.render.sanitize", "sesstail.render.pretty", "sesstail.attach"]
    if targets:
        modules += [
            "sesstail.transport.ws_v1",
            "sesstail.transport.sse_v2",
            "sesstail.transport.rest_v1",
            "sesstail.transport.rest_v2",
            "sesstail.transport.http",
            "httpx",
            "httpx_sse",
            "httpcore",
            "anyio._backends._asyncio",
            "truststore",
            "concurrent.futures.thread",
        ]
    for name in modules:
        importlib.import_module(name)
    from sesstail.netconfig import shared_tls_context

    for target in targets[:1]:
        shared_tls_context(target.env)  # loads the trust store once, before any socket


def _labelled(reporter: StatusReporter, label: str, text: str, verbose_only: bool) -> None:
    reporter(f"{label}: {text}", verbose_only)
