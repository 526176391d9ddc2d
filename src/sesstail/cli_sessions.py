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

from sesstail.cli import (
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
    OpenTimeoutOpt,
    OrgOpt,
    OutputFormat,
    PingIntervalOpt,
    PingTimeoutOpt,
    QuietOpt,
    RetriesOpt,
    RetryDelayOpt,
    SessionArg,
    TimestampsOpt,
    TypeOpt,
    UntilOpt,
    VerboseOpt,
    _build_options,
    _build_renderer,
    _choose_format,
    _say,
    app,
    resolve_account,
    resolve_target,
    run,
)
from sesstail.errors import ExitCode, SessionNotFound, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sesstail.cli import Account, Target
    from sesstail.output import StatusReporter
    from sesstail.sessions_api import SessionsApi
    from sesstail.watch import WatchOptions


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
        typer.Option("--status", help="Only sessions in this state.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    json_flag: Annotated[bool, typer.Option("--json", help="One JSON line per session.")] = False,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    org: OrgOpt = None,
    api: ApiOpt = ApiChoice.auto,
    color: ColorOpt = ColorChoice.auto,
    debug: DebugOpt = False,
) -> None:
    """List sessions, most recently active first: id, title, status, model, last update."""

    def job() -> int:
        import json

        from sesstail.output import want_color

        account = resolve_account(base_url, org, api.value)
        items = list_sessions(account, limit, status.value if status else None)
        if json_flag:
            for item in items:
                sys.stdout.write(json.dumps(item, separators=(",", ":")) + "\n")
            sys.stdout.flush()
            return ExitCode.OK
        if not items:
            _say("sesstail: no sessions" + (f" with status {status.value}" if status else ""))
            return ExitCode.OK
        from sesstail.render.sessions_table import render_sessions

        render_sessions(items, sys.stdout, color=want_color(color.value, sys.stdout))
        return ExitCode.OK

    run(job, debug=debug)


def list_sessions(account: Account, limit: int, status: str | None) -> list[dict[str, Any]]:
    """The sessions, by the API asked for; ``auto``: v2's list, else v1's (PROTOCOL §9).
    v2 items keep their fields, with ``id`` in the ``session_…`` form and the v1 names of
    status and model added, so the table and ``--json`` read the same either way."""
    from sesstail.transport.http import HttpStatusError

    if account.api != "v1":
        from sesstail.transport.rest_v2 import V2_STATUSES, V2Api, as_v1_resource

        v2 = V2Api(account.base_url, account.org_uuid, account.token, account.env)
        wanted = V2_STATUSES.get(status, [status]) if status else None
        kept: list[dict[str, Any]] = []
        try:
            # Read on (the pages are bounded) until enough match: statuses are coarser in v2.
            for item in v2.sessions(limit if status is None else 100_000, wanted):
                resource = as_v1_resource(item)
                if status is None or resource["session_status"] == status:
                    kept.append(resource)
                    if len(kept) >= limit:
                        break
        except (SessionNotFound, HttpStatusError) as exc:
            not_v2 = isinstance(exc, SessionNotFound) or exc.status in (404, 405, 426, 501)
            if account.api == "v2" or not not_v2:
                raise
        else:
            return kept
    return list(_api(account).sessions(limit, status))


# -- history -------------------------------------------------------------------------------


@app.command("history")
def history_command(
    session_id: SessionArg,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many of the last messages.")
    ] = 50,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    org: OrgOpt = None,
    api: ApiOpt = ApiChoice.auto,
    fmt: FormatOpt = None,
    json_flag: JsonOpt = False,
    types: TypeOpt = None,
    excludes: ExcludeOpt = None,
    keepalive: KeepaliveOpt = False,
    timestamps: TimestampsOpt = False,
    color: ColorOpt = ColorChoice.auto,
    debug: DebugOpt = False,
) -> None:
    """Print a session's last messages, oldest first, as `watch` would show them.

    The filters apply to those last messages: `-n 50 -t assistant` shows the assistant
    messages among the last 50.
    """

    def job() -> int:
        import asyncio

        from sesstail.output import StatusReporter, want_color
        from sesstail.transport.stream import SessionStream

        options = _build_options(types, excludes, None, keepalive)  # usage errors first
        target = resolve_target(session_id, base_url, org, api.value)
        out_format = _choose_format(fmt, json_flag, sys.stdout)
        stream = SessionStream(target.stream_settings(), StatusReporter(verbose=debug))
        history = asyncio.run(stream.last_messages(limit))
        renderer = _build_renderer(out_format, want_color(color.value, sys.stdout), timestamps)
        try:
            for msg in history:
                if msg.obj["type"] == "keep_alive" and not options.keepalive:
                    continue
                if options.filter.keeps(msg.obj):
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

        from sesstail.protocol import WEB_URL, validate_session_id

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
def send_command(
    session_id: SessionArg,
    text: Annotated[str, typer.Argument(help="The prompt; - reads it from stdin.")],
    watch_flag: Annotated[
        bool, typer.Option("--watch", "-w", help="Then watch the session until that turn ends.")
    ] = False,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    org: OrgOpt = None,
    api: ApiOpt = ApiChoice.auto,
    fmt: FormatOpt = None,
    json_flag: JsonOpt = False,
    types: TypeOpt = None,
    excludes: ExcludeOpt = None,
    timestamps: TimestampsOpt = False,
    color: ColorOpt = ColorChoice.auto,
    retries: RetriesOpt = 10,
    retry_delay: RetryDelayOpt = 1.0,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    ping_interval: PingIntervalOpt = 30.0,
    ping_timeout: PingTimeoutOpt = 20.0,
    open_timeout: OpenTimeoutOpt = 10.0,
) -> None:
    """Send a prompt to a session; it is never delivered twice, even when retried.

    Without --watch, prints the prompt's uuid.
    """

    def job() -> int:
        import uuid

        from sesstail.output import StatusReporter, want_color

        prompt = sys.stdin.read() if text == "-" else text
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        import asyncio

        from sesstail.transport.stream import SessionStream

        options = _build_options(types, excludes, None, False)  # usage errors first
        out_format = _choose_format(fmt, json_flag, sys.stdout)
        target = resolve_target(session_id, base_url, org, api.value)
        prompt_uuid = str(uuid.uuid4())
        reporter = StatusReporter(
            verbose=verbose or debug, quiet=quiet, color=want_color(color.value, sys.stderr)
        )
        settings = target.stream_settings(
            retries=retries,
            retry_delay=retry_delay,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            open_timeout=open_timeout,
        )
        stream = SessionStream(settings, reporter)
        if not watch_flag:
            asyncio.run(stream.send_prompt(prompt, prompt_uuid))
            reporter(f"sent to {target.session_id}", True)
            print(prompt_uuid, flush=True)
            return ExitCode.OK
        from sesstail.attach import AfterPrompt
        from sesstail.watch import watch

        renderer = _build_renderer(out_format, want_color(color.value, sys.stdout), timestamps)

        async def go() -> int:
            await watch(AfterPrompt(stream, prompt_uuid, prompt), renderer, options)
            return ExitCode.OK

        return asyncio.run(go())

    run(job, debug=debug)


# -- replay --------------------------------------------------------------------------------


@app.command("replay")
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
            min=0.001,
            help="Keep the recorded timing, this many times faster (implies --realtime).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOpt = None,
    json_flag: JsonOpt = False,
    types: TypeOpt = None,
    excludes: ExcludeOpt = None,
    until: UntilOpt = None,
    keepalive: KeepaliveOpt = False,
    timestamps: TimestampsOpt = False,
    color: ColorOpt = ColorChoice.auto,
    debug: DebugOpt = False,
) -> None:
    """Render a recording (`watch --record`) or a `--json` capture, as `watch` would.

    Bad lines are reported with their line number and skipped.
    """

    def job() -> int:
        from sesstail.output import StatusReporter, want_color
        from sesstail.record import replay

        options = _build_options(types, excludes, until, keepalive)
        out_format = _choose_format(fmt, json_flag, sys.stdout)
        reporter = StatusReporter(color=want_color(color.value, sys.stderr))
        if file == "-":
            lines: Any = sys.stdin
        else:
            try:
                lines = Path(file).open(encoding="utf-8", errors="replace")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
        renderer = _build_renderer(out_format, want_color(color.value, sys.stdout), timestamps)
        try:
            replay(
                lines,
                renderer,
                options,
                speed=speed if speed is not None else (1.0 if realtime else None),
                warn=reporter.line,
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
    timestamps: bool,
    history: int,
    record: Path | None,
    retry_delay: float,
) -> int:
    """``watch`` beyond one plain session: several at once, a backfill, a recording."""
    import asyncio
    from functools import partial

    from sesstail.attach import Backfilled
    from sesstail.multi import Followed, follow_many, session_labels
    from sesstail.output import JsonlWriter
    from sesstail.record import Recorded, Recorder
    from sesstail.transport.stream import SessionStream
    from sesstail.watch import MessageSource, Renderer, watch

    several = len(targets) > 1
    labels = session_labels([t.session_id for t in targets]) if several else {}
    recorder = Recorder.open(record) if record is not None else None
    jsonl = JsonlWriter(sys.stdout) if out_format is OutputFormat.jsonl else None

    def renderer_for(label: str | None) -> Renderer:
        if jsonl is not None:
            return jsonl  # the lines stay the messages themselves: they carry session_id
        from sesstail.render.pretty import PrettyRenderer

        return PrettyRenderer(sys.stdout, color=color, timestamps=timestamps, label=label)

    async def go() -> int:
        followed: list[Followed] = []
        for target in targets:
            label = labels.get(target.session_id, "")
            status: Callable[[str, bool], None] = reporter
            if label:
                status = partial(_labelled, reporter, label.strip())
            stream = SessionStream(target.stream_settings(**stream_options), status)
            source: MessageSource = stream
            if history:
                source = Backfilled(stream, history)
            if recorder is not None:
                source = Recorded(source, recorder)
            followed.append(Followed(target.session_id, label, source, renderer_for(label)))
        if not several:
            await watch(followed[0].source, followed[0].renderer, options)
            return ExitCode.OK
        return await follow_many(followed, options, reporter.line)

    try:
        return asyncio.run(go())
    finally:
        if recorder is not None:
            recorder.close()


def _labelled(reporter: StatusReporter, label: str, text: str, verbose_only: bool) -> None:
    reporter(f"{label}: {text}", verbose_only)
