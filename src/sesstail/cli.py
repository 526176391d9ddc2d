"""The command line: parse options, build a configuration, run one ``asyncio.run``.

Errors become exit codes in exactly one place, ``run``. Heavy modules (websockets, rich, the
renderers) are imported inside the commands that need them, so ``--help``, ``--version`` and
every TAB completion stay fast.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

from sesstail import __version__
from sesstail.errors import ExitCode, SesstailError, UsageError

if TYPE_CHECKING:
    from sesstail.credentials import Token
    from sesstail.output import StatusReporter
    from sesstail.transport.stream import StreamSettings
    from sesstail.watch import Renderer, WatchOptions

_APP_SETTINGS: dict[str, Any] = {
    "name": "sesstail",
    "help": "Follow a remote Claude Code session live from a terminal.",
    "no_args_is_help": True,
    "pretty_exceptions_enable": False,
    "pretty_exceptions_show_locals": False,
    "add_completion": True,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}
app = typer.Typer(**_APP_SETTINGS)


class OutputFormat(enum.StrEnum):
    pretty = "pretty"
    jsonl = "jsonl"


class ApiChoice(enum.StrEnum):
    auto = "auto"
    v1 = "v1"
    v2 = "v2"


class ColorChoice(enum.StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


# -- the one place errors become exit codes ----------------------------------------------


def _say(text: str) -> None:
    # Errors can quote remote text (a close reason, an error answer): escaped like the rest,
    # on one line, tokens scrubbed (output.printable_line).
    from sesstail.output import printable_line

    try:
        sys.stderr.write(printable_line(text) + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def _silence_stdout() -> None:
    # Further writes (and the interpreter's final flush) go nowhere instead of raising again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run(job: Callable[[], int], *, debug: bool = False) -> NoReturn:
    """Run a command body and exit with its code; every failure ends here."""
    try:
        code = int(job())
    except SesstailError as exc:
        _say(f"sesstail: error: {exc.message}")
        if exc.hint:
            _say(f"sesstail: hint: {exc.hint}")
        if debug:
            _print_traceback()
        code = exc.exit_code
    except KeyboardInterrupt:
        _say("sesstail: interrupted")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`sesstail … | head`): that is how a pipe says "enough".
        _silence_stdout()
        code = ExitCode.OK
    except Exception as exc:  # the last resort, by design
        _say(f"sesstail: unexpected error: {type(exc).__name__}: {exc}")
        if debug:
            _print_traceback()
        else:
            _say("sesstail: run again with --debug for a traceback")
        code = ExitCode.ERROR
    raise typer.Exit(code)


def _print_traceback() -> None:
    import traceback

    for line in traceback.format_exc().rstrip().splitlines():
        _say(line)


# -- shared options ------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sesstail {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Follow a remote Claude Code session live from a terminal."""


DEFAULT_BASE_URL = "https://api.anthropic.com"  # protocol.DEFAULT_BASE_URL, without its imports
SessionArg = Annotated[
    str, typer.Argument(help="The session id (session_…) or its claude.ai/code address.")
]
BaseUrlOpt = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar="SESSTAIL_BASE_URL",
        help="API base URL (https→wss, http→ws).",
        show_default=True,
    ),
]
OrgOpt = Annotated[
    str | None,
    typer.Option(
        "--org",
        help="Organization UUID. Default: CLAUDE_CODE_ORGANIZATION_UUID, ~/.claude.json, "
        "then the profile endpoint.",
        show_default=False,
    ),
]
ApiOpt = Annotated[
    ApiChoice,
    typer.Option(
        "--api",
        envvar="SESSTAIL_API",
        case_sensitive=False,
        help="API generation: v2 (event stream), v1 (WebSocket), or auto: v2, else v1.",
    ),
]
FormatOpt = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        help="Output format. Default: pretty on a terminal, jsonl otherwise.",
        show_default=False,
        case_sensitive=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Short for --format jsonl.")]
TypeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--type",
        "-t",
        metavar="TYPE",
        help="Keep only messages of this type or type/subtype (repeatable).",
        show_default=False,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-type",
        "-x",
        metavar="TYPE",
        help="Drop messages of this type or type/subtype (repeatable).",
        show_default=False,
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="TYPE",
        help="Exit 0 after the first message of this type or type/subtype (e.g. result).",
        show_default=False,
    ),
]
KeepaliveOpt = Annotated[
    bool, typer.Option("--keepalive", help="Keep keep_alive frames in the output.")
]
TimestampsOpt = Annotated[
    bool, typer.Option("--timestamps", help="Show each message's receive time (pretty output).")
]
ColorOpt = Annotated[
    ColorChoice,
    typer.Option("--color", help="Colour: auto honours NO_COLOR, FORCE_COLOR and the terminal."),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries", min=0, help="Consecutive failed connection attempts before giving up."
    ),
]
RetryDelayOpt = Annotated[
    float,
    typer.Option(
        "--retry-delay",
        min=0.0,
        help="First reconnect delay in seconds; grows exponentially with jitter, capped at 30 s.",
    ),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Connection events and skipped frames on stderr.")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No status lines on stderr; errors only.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Tracebacks on errors (implies -v).")]
NotifyOpt = Annotated[
    bool,
    typer.Option(
        "--notify",
        help="A desktop notification when a session needs you or a turn ends "
        "(notify-send, osascript, the terminal's, else the bell).",
    ),
]
PingIntervalOpt = Annotated[float, typer.Option("--ping-interval", min=0.01, hidden=True)]
PingTimeoutOpt = Annotated[float, typer.Option("--ping-timeout", min=0.01, hidden=True)]
OpenTimeoutOpt = Annotated[float, typer.Option("--open-timeout", min=0.01, hidden=True)]
MaxSizeOpt = Annotated[int, typer.Option("--max-size", min=1024, hidden=True)]


def _choose_format(fmt: OutputFormat | None, json_flag: bool, out: TextIO) -> OutputFormat:
    if json_flag:
        if fmt is OutputFormat.pretty:
            raise UsageError("--json and --format pretty contradict each other")
        return OutputFormat.jsonl
    if fmt is not None:
        return fmt
    try:
        return OutputFormat.pretty if out.isatty() else OutputFormat.jsonl
    except (AttributeError, ValueError):
        return OutputFormat.jsonl


def _build_options(
    types: list[str] | None, excludes: list[str] | None, until: str | None, keepalive: bool
) -> WatchOptions:
    from sesstail.protocol import TypeFilter, validate_type_pattern
    from sesstail.watch import WatchOptions

    include = [validate_type_pattern(t) for t in types or []]
    exclude = [validate_type_pattern(t) for t in excludes or []]
    until_filter = TypeFilter([validate_type_pattern(until)]) if until is not None else None
    return WatchOptions(TypeFilter(include, exclude), until_filter, keepalive)


def _build_renderer(fmt: OutputFormat, color: bool, timestamps: bool) -> Renderer:
    out = sys.stdout
    if fmt is OutputFormat.jsonl:
        from sesstail.output import JsonlWriter

        return JsonlWriter(out)
    from sesstail.render.pretty import PrettyRenderer

    return PrettyRenderer(out, color=color, timestamps=timestamps)


def _follow(
    settings: StreamSettings,
    renderer: Renderer,
    options: WatchOptions,
    reporter: StatusReporter,
) -> int:
    import asyncio

    from sesstail.output import until_stdout_closes
    from sesstail.transport.stream import SessionStream
    from sesstail.watch import watch

    async def go() -> int:
        stream = SessionStream(settings, reporter)
        await until_stdout_closes(watch(stream, renderer, options))
        return ExitCode.OK

    return asyncio.run(go())


# -- commands ----------------------------------------------------------------------------


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
        from sesstail.cli_local import is_local_target
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
            from sesstail.cli_sessions import follow_sessions

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


@dataclass(frozen=True)
class Target:
    """A session to talk to, with everything needed to reach it."""

    session_id: str
    base_url: str
    org_uuid: str
    env: dict[str, str]
    api: str = "auto"

    def token(self) -> Token:
        """The access token, read afresh (PROTOCOL §6)."""
        from sesstail.credentials import load_token

        return load_token(self.env)

    def stream_settings(self, **overrides: Any) -> StreamSettings:
        from sesstail.protocol import subscribe_url
        from sesstail.transport.stream import StreamSettings

        return StreamSettings(
            url=subscribe_url(self.base_url, self.session_id, self.org_uuid),
            get_token=self.token,
            env=self.env,
            api=self.api,
            **overrides,
        )


def resolve_target(session_id: str, base_url: str, org: str | None, api: str = "auto") -> Target:
    """Validate the arguments (exit 2, nothing sent), then find a token (exit 3) and the org.

    Every command that talks to a session starts here.
    """
    from sesstail.protocol import validate_session_id

    session = validate_session_id(session_id)
    account = resolve_account(base_url, org, api)
    return account.target(session)


def resolve_targets(
    session_ids: list[str], base_url: str, org: str | None, api: str = "auto"
) -> list[Target]:
    """Sessions of one account: every id validated before any credential is looked up;
    for one id, the same as ``resolve_target``."""
    from sesstail.protocol import validate_session_id

    sessions = list(dict.fromkeys(validate_session_id(s) for s in session_ids))
    account = resolve_account(base_url, org, api)
    return [account.target(s) for s in sessions]


@dataclass(frozen=True)
class Account:
    """The sessions service and who we are to it: what a command about no one session
    (``ls``), or about several, needs."""

    base_url: str
    org_uuid: str
    env: dict[str, str]
    api: str = "auto"

    def token(self) -> Token:
        """The access token, read afresh (PROTOCOL §6)."""
        from sesstail.credentials import load_token

        return load_token(self.env)

    def target(self, session_id: str) -> Target:
        """A session of this account; ``session_id`` must be validated already."""
        return Target(session_id, self.base_url, self.org_uuid, self.env, self.api)


def resolve_account(base_url: str, org: str | None, api: str = "auto") -> Account:
    """Validate the base URL and org (exit 2), then find a token (exit 3) and the org:
    ``resolve_target`` without a session."""
    from sesstail.credentials import load_token, resolve_org
    from sesstail.protocol import validate_base_url, validate_org

    base = validate_base_url(base_url)
    if org:
        validate_org(org)
    env = dict(os.environ)
    token = load_token(env)
    org_uuid = resolve_org(org, env, lambda: _fetch_profile(base, token, env))
    return Account(base, org_uuid, env, api)


def _fetch_profile(base: str, token: Token, env: dict[str, str]) -> dict[str, Any]:
    import time

    from sesstail.errors import CannotConnect
    from sesstail.protocol import http_url
    from sesstail.transport.http import HttpStatusError, request_json

    url = http_url(base, "/api/oauth/profile")
    for attempt in range(1, 4):  # unreachable or 5xx: retried like every REST call
        try:
            answer = request_json("GET", url, token.value, env=env)
            return answer if isinstance(answer, dict) else {}
        except HttpStatusError as exc:
            if not exc.worth_retrying or attempt == 3:
                raise
        except CannotConnect as exc:
            if "TLS failure" in exc.message or "redirected" in exc.message or attempt == 3:
                raise
        time.sleep(0.5 * attempt)
    return {}


@app.command("demo")
def demo_command(
    speed: Annotated[
        float, typer.Option("--speed", min=0.0, help="Playback speed; 0 plays at once.")
    ] = 1.0,
    fmt: FormatOpt = None,
    json_flag: JsonOpt = False,
    types: TypeOpt = None,
    excludes: ExcludeOpt = None,
    timestamps: TimestampsOpt = False,
    color: ColorOpt = ColorChoice.auto,
    api: ApiOpt = ApiChoice.auto,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Write a local transcript as a Claude Code session would, and follow it.",
        ),
    ] = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Play a sample session from the embedded server and watch it, as `watch` would."""
    if local:
        run(
            lambda: _demo_local(
                speed, fmt, json_flag, types, excludes, timestamps, color, verbose or debug, quiet
            ),
            debug=debug,
        )

    def job() -> int:
        import asyncio
        import secrets as random_secrets

        from sesstail.control import demo_asker, watch_and_answer
        from sesstail.credentials import Token
        from sesstail.output import StatusReporter, want_color
        from sesstail.protocol import subscribe_url
        from sesstail.secrets import Secret
        from sesstail.server import DEMO_SESSION_ID, SessionsServer, demo_session
        from sesstail.transport.stream import SessionStream, StreamSettings

        options = _build_options(types, excludes, "result", False)
        out_format = _choose_format(fmt, json_flag, sys.stdout)
        demo_token = Token(Secret(random_secrets.token_urlsafe(24)), "demo")
        demo_org = "00000000-0000-4000-8000-000000000000"
        reporter = StatusReporter(
            verbose=verbose or debug,
            quiet=quiet,
            color=want_color(color.value, sys.stderr),
        )
        renderer = _build_renderer(out_format, want_color(color.value, sys.stdout), timestamps)

        async def go() -> int:
            server = SessionsServer(
                [demo_session()], token=demo_token.value.reveal(), org=demo_org, speed=speed
            )
            async with server:
                reporter(f"demo server on {server.base_url}, session {DEMO_SESSION_ID}", False)
                settings = StreamSettings(
                    url=subscribe_url(server.base_url, DEMO_SESSION_ID, demo_org),
                    get_token=lambda: demo_token,
                    api=api.value,
                    retries=3,
                    retry_delay=0.2,
                    env={},
                )
                # The demo's permission prompt: asked on a terminal, else allowed (and said so)
                # so that `sesstail demo | …` still ends by itself.
                stream = SessionStream(settings, reporter)
                await watch_and_answer(stream, renderer, options, demo_asker(reporter))
            return ExitCode.OK

        return asyncio.run(go())

    run(job, debug=debug)


def _demo_local(
    speed: float,
    fmt: OutputFormat | None,
    json_flag: bool,
    types: list[str] | None,
    excludes: list[str] | None,
    timestamps: bool,
    color: ColorChoice,
    verbose: bool,
    quiet: bool,
) -> int:
    """``demo --local``: a transcript written into a temporary directory while it is
    followed, as ``watch`` follows any local session."""
    import asyncio
    import tempfile

    from sesstail.local.demo import LocalDemo
    from sesstail.output import StatusReporter, want_color
    from sesstail.watch import watch

    options = _build_options(types, excludes, None, False)
    out_format = _choose_format(fmt, json_flag, sys.stdout)
    reporter = StatusReporter(
        verbose=verbose, quiet=quiet, color=want_color(color.value, sys.stderr)
    )
    renderer = _build_renderer(out_format, want_color(color.value, sys.stdout), timestamps)
    with tempfile.TemporaryDirectory(prefix="sesstail-demo-") as directory:
        pause = 0.0 if speed == 0 else 0.4 / speed
        demo = LocalDemo(Path(directory), pause=pause, options=options, verbose=verbose)
        reporter(f"demo: writing and following {demo.path}", False)
        asyncio.run(watch(demo, renderer, options))
    return ExitCode.OK


@app.command("serve")
def serve_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Session files (JSONL of messages or recordings); the demo session if none.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")] = (
        8765
    ),
    token: Annotated[
        str | None,
        typer.Option("--token", help="Require this bearer token (a test token, not a real one)."),
    ] = None,
    org: Annotated[
        str | None, typer.Option("--org", help="Require this organization UUID.")
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=0.0, help="Playback speed; 0 plays at once.")
    ] = 1.0,
    end: Annotated[
        bool, typer.Option("--end", help="Close each stream with 1000 once it is played.")
    ] = False,
    played: Annotated[
        str,
        typer.Option(
            "--played",
            metavar="N|all",
            help="Count the first N messages of each session (or all) as said before anyone "
            "watched: history at once, and only the rest played live.",
        ),
    ] = "0",
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run a local sessions server for trying things out; Ctrl-C stops it."""

    def job() -> int:
        import asyncio

        from sesstail.protocol import validate_org
        from sesstail.server import Faults, SessionsServer, demo_session, load_session_file

        org_uuid = validate_org(org) if org else None
        ahead = _played_count(played)
        if files:
            sessions = [session for path in files for session in load_session_file(path)]
        else:
            sessions = [demo_session()]
        ids = [s.session_id for s in sessions]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise UsageError(f"two files hold the same session: {', '.join(sorted(duplicates))}")

        async def go() -> int:
            server = SessionsServer(
                sessions,
                host=host,
                port=port,
                token=token,
                org=org_uuid,
                speed=speed,
                faults=Faults(end_with_close=end),
                on_log=(lambda text: _say(f"sesstail serve: {text}")) if verbose else None,
            )
            if ahead != 0:
                for session in sessions:
                    server.play_ahead(session.session_id, ahead)
            try:
                await server.start()
            except OSError as exc:
                raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            print(f"serving on {server.base_url}", flush=True)
            for session in sessions:
                count = len(session.messages)
                print(
                    f"  {session.session_id}  ({count} message{'' if count == 1 else 's'})",
                    flush=True,
                )
            # Works as printed on a fresh machine: without --token any token is accepted.
            token_part = "CLAUDE_CODE_OAUTH_TOKEN=x " if token is None else ""
            print(
                f"watch with: SESSTAIL_BASE_URL={server.base_url} {token_part}"
                f"sesstail watch {sessions[0].session_id}",
                flush=True,
            )
            try:
                await asyncio.Event().wait()
            finally:
                await server.stop()
            return ExitCode.OK

        return asyncio.run(go())

    run(job, debug=debug)


def _played_count(value: str) -> int | None:
    """``--played``: a count of messages, or ``all`` (None)."""
    if value.strip().lower() == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise UsageError(f"--played takes a number of messages or 'all', not {value!r}")
    return count


# Commands of other areas register themselves on `app` (they import only typer at load).
from sesstail import cli_control, cli_sessions, cli_top  # noqa: E402

__all__ = ["app", "cli_control", "cli_sessions", "cli_top", "main", "run"]


def _app_for(args: list[str]) -> typer.Typer:
    """The app to run ``args`` with: just the command named, when there is one.

    typer turns every registered command into a click command on each run, about 20 ms for
    all of them, which `sesstail interrupt` and every other short command would pay.
    Completion and top-level help need them all.
    """
    if os.environ.get("_SESSTAIL_COMPLETE"):
        return app
    name = next((arg for arg in args if not arg.startswith("-")), None)
    for info in app.registered_commands:
        command_name = info.name or (info.callback.__name__ if info.callback else None)
        if name is not None and command_name == name:
            single = typer.Typer(**_APP_SETTINGS)
            single.registered_callback = app.registered_callback
            single.registered_commands = [info]
            return single
    return app


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    _app_for(args)(args=args, prog_name="sesstail")
