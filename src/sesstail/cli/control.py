"""Commands that send control requests into a session (interrupt, setters, permissions).

Each one connects, sends one request, waits for the answer with its ``request_id`` and says
what happened: exit 6 when the session answers with an error, 7 when it does not answer in
time. Only typer is imported at load; the rest inside the commands.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sesstail.cli.app import (
    _say,
    app,
    run,
)
from sesstail.cli.options import (
    Connection,
    ExitStatusOpt,
    Logging,
    NotifyOpt,
    SessionArg,
    grouped,
)
from sesstail.cli.targets import (
    resolve_target,
)
from sesstail.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from sesstail.transport.stream import SessionStream


class PermissionMode(enum.StrEnum):
    default = "default"
    acceptEdits = "acceptEdits"
    bypassPermissions = "bypassPermissions"
    plan = "plan"
    dontAsk = "dontAsk"


class WaitState(enum.StrEnum):
    result = "result"
    idle = "idle"
    blocked = "blocked"


TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.01,
        metavar="SECONDS",
        help="Seconds to wait for the answer (exit 7 after).",
    ),
]
JsonAnswerOpt = Annotated[
    bool, typer.Option("--json", help="Print the whole control_response object on stdout.")
]
RequestIdArg = Annotated[
    str,
    typer.Argument(
        metavar="REQUEST_ID", help="The request_id of the permission prompt (shown by watch)."
    ),
]

DEFAULT_TIMEOUT = 10.0
# Messages of history `wait --until idle|blocked` reads first (as for a local session).
HISTORY_LOOKBACK = 20


def _reporter(log: Logging) -> Callable[[str, bool], None]:
    from sesstail.output import StatusReporter

    # A one-shot command says nothing about connecting unless asked: its answer is the news.
    return StatusReporter(verbose=log.loud, quiet=log.quiet or not log.loud)


def _open_stream(
    session_id: str, conn: Connection, reporter: Callable[[str, bool], None]
) -> tuple[str, SessionStream]:
    from sesstail.cli.local import refuse_local
    from sesstail.transport.stream import SessionStream

    refuse_local(session_id, "a control request")
    target = resolve_target(session_id, conn.base_url, conn.org, conn.api.value)
    settings = target.stream_settings(retries=3, retry_delay=0.5, open_timeout=conn.open_timeout)
    return target.session_id, SessionStream(settings, reporter)


def _print_json(obj: dict[str, Any]) -> None:
    from sesstail.protocol import encode

    sys.stdout.write(encode(obj) + "\n")
    sys.stdout.flush()


def _control(
    session_id: str,
    conn: Connection,
    subtype: str,
    fields: dict[str, Any] | None,
    *,
    timeout: float,
    json_out: bool,
    describe: Callable[[str, dict[str, Any]], str | None],
    log: Logging,
) -> None:
    """The body of every request/answer command: send, wait, say what happened.

    ``describe(session, response)`` gives the human line (or prints a picture and gives None).
    """

    def job() -> int:
        import asyncio

        from sesstail.control import request, success_body

        session, stream = _open_stream(session_id, conn, _reporter(log))
        answer = asyncio.run(request(stream, subtype, fields, timeout))
        if json_out:
            _print_json(answer)
        body = success_body(answer, f"the session refused {subtype}")
        if not json_out:
            line = describe(session, body)
            if line is not None:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        return ExitCode.OK

    run(job, debug=log.debug)


def _clean(value: Any) -> str:
    from sesstail.render.sanitize import clean

    return clean(str(value).replace("\n", " "))[:200]


@app.command("interrupt")
@grouped
def interrupt_command(
    session_id: SessionArg,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: JsonAnswerOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Stop what the session is doing (like Esc in Claude Code); waits for the acknowledgement."""

    def describe(session: str, body: dict[str, Any]) -> str:
        line = f"interrupted {session}"
        extra = [
            f"{key.replace('_', ' ')} {_clean(body[key])}"
            for key in ("cancelled", "still_queued")
            if key in body
        ]
        return line + (f" ({', '.join(extra)})" if extra else "")

    _control(
        session_id,
        conn,
        "interrupt",
        None,
        timeout=timeout,
        json_out=json_out,
        describe=describe,
        log=log,
    )


@app.command("set-model")
@grouped
def set_model_command(
    session_id: SessionArg,
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="A model name or alias; `default` resets it.")
    ],
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: JsonAnswerOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Switch the session's model."""
    name = model.strip()

    def check() -> None:
        if not name or any(ch.isspace() or not ch.isprintable() for ch in name):
            _usage(f"invalid model name {model!r}")

    run_usage_check(check, log.debug)

    def describe(session: str, body: dict[str, Any]) -> str:
        if name == "default":
            return f"model of {session} reset to the default"
        return f"model of {session} set to {_clean(name)}"

    _control(
        session_id,
        conn,
        "set_model",
        {"model": name},
        timeout=timeout,
        json_out=json_out,
        describe=describe,
        log=log,
    )


def _usage(message: str) -> int:
    from sesstail.errors import UsageError

    raise UsageError(message)


@app.command("set-permission-mode")
@grouped
def set_permission_mode_command(
    session_id: SessionArg,
    mode: Annotated[
        PermissionMode,
        typer.Argument(
            metavar="MODE",
            case_sensitive=False,
            help="How the session asks for permission (any case: acceptedits works).",
        ),
    ],
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: JsonAnswerOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Change the permission mode: default, acceptEdits, bypassPermissions, plan or dontAsk."""

    def describe(session: str, body: dict[str, Any]) -> str:
        return f"permission mode of {session} set to {_clean(body.get('mode', mode.value))}"

    _control(
        session_id,
        conn,
        "set_permission_mode",
        {"mode": mode.value},
        timeout=timeout,
        json_out=json_out,
        describe=describe,
        log=log,
    )


@app.command("set-thinking")
@grouped
def set_thinking_command(
    session_id: SessionArg,
    budget: Annotated[
        str, typer.Argument(metavar="TOKENS|off|default", help="Thinking token budget.")
    ],
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: JsonAnswerOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Set the extended-thinking budget: a number of tokens, off (0) or default (null)."""
    from sesstail.control import thinking_tokens

    tokens: list[int | None] = []
    run_usage_check(lambda: tokens.append(thinking_tokens(budget)), log.debug)

    def describe(session: str, body: dict[str, Any]) -> str:
        value = tokens[0]
        if value is None:
            return f"thinking budget of {session} reset to the default"
        if value == 0:
            return f"thinking turned off for {session}"
        return f"thinking budget of {session} set to {value:,} tokens"

    _control(
        session_id,
        conn,
        "set_max_thinking_tokens",
        {"max_thinking_tokens": tokens[0]},
        timeout=timeout,
        json_out=json_out,
        describe=describe,
        log=log,
    )


def run_usage_check(check: Callable[[], object], debug: bool) -> None:
    """Run an argument check; a failure exits through ``run`` (exit 2) before connecting."""
    from sesstail.errors import SesstailError

    try:
        check()
    except SesstailError:

        def fail() -> int:
            check()
            return ExitCode.OK

        run(fail, debug=debug)


@app.command("mcp-status")
@grouped
def mcp_status_command(
    session_id: SessionArg,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: JsonAnswerOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """The session's MCP servers and their state, as a table."""

    def describe(session: str, body: dict[str, Any]) -> None:
        _picture("mcp", body)

    _control(
        session_id,
        conn,
        "mcp_status",
        None,
        timeout=timeout,
        json_out=json_out,
        describe=describe,
        log=log,
    )


@app.command("context")
@grouped
def context_command(
    session_id: SessionArg,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: JsonAnswerOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """How full the session's context window is, by category, as a bar chart."""

    def describe(session: str, body: dict[str, Any]) -> None:
        _picture("context", body)

    _control(
        session_id,
        conn,
        "get_context_usage",
        None,
        timeout=timeout,
        json_out=json_out,
        describe=describe,
        log=log,
    )


def _picture(kind: str, body: dict[str, Any]) -> None:
    from sesstail.output import want_color
    from sesstail.render.control_view import context_chart, mcp_table, print_picture

    picture = mcp_table(body) if kind == "mcp" else context_chart(body)
    print_picture(picture, sys.stdout, color=want_color("auto", sys.stdout))


@app.command("control")
@grouped
def control_command(
    session_id: SessionArg,
    subtype: Annotated[
        str, typer.Argument(metavar="SUBTYPE", help="The request subtype, e.g. get_settings.")
    ],
    fields: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[KEY=VALUE]...",
            help="Request fields; values are JSON when they parse (max_thinking_tokens=0), "
            "else strings.",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", metavar="JSON", help="Request fields as one JSON object."),
    ] = None,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: JsonAnswerOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Send any control request, for what has no command of its own yet."""
    from sesstail.control import parse_fields, validate_subtype

    parsed: list[dict[str, Any]] = []

    def check() -> None:
        validate_subtype(subtype)
        parsed.append(parse_fields(fields or [], data))

    run_usage_check(check, log.debug)

    def describe(session: str, body: dict[str, Any]) -> str:
        from sesstail.protocol import encode

        line = f"{_clean(subtype)}: ok"
        return line + (f" {_clean(encode(body))[:2000]}" if body else "")

    _control(
        session_id,
        conn,
        subtype,
        parsed[0],
        timeout=timeout,
        json_out=json_out,
        describe=describe,
        log=log,
    )


# -- answering permission prompts from another terminal ------------------------------------------


def _answer(
    session_id: str,
    conn: Connection,
    answer: dict[str, Any],
    line: str,
    *,
    timeout: float,
    json_out: bool,
    log: Logging,
) -> None:
    def job() -> int:
        import asyncio

        from sesstail.control import prompt_not_pending, send_once

        reporter = _reporter(log)
        _, stream = _open_stream(session_id, conn, reporter)
        request_id = str(answer["response"]["request_id"])

        async def go() -> None:
            doubt = await prompt_not_pending(stream, request_id)
            if doubt is not None and not log.quiet:
                _say(f"sesstail: warning: {doubt}; sending the answer anyway")
            pending = await send_once(stream, answer, timeout, prompt=request_id)
            if pending and request_id not in pending and not log.quiet:
                _say(
                    f"sesstail: warning: {request_id} is not among the prompts the session "
                    f"has pending ({', '.join(dict.fromkeys(pending))}); the answer was sent "
                    "all the same"
                )

        asyncio.run(go())
        if json_out:
            _print_json(answer)
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        return ExitCode.OK

    run(job, debug=log.debug)


def _check_request_id(request_id: str, debug: bool) -> str:
    def check() -> None:
        if not request_id.strip() or not request_id.isprintable() or len(request_id) > 200:
            _usage(f"invalid request id {request_id[:60]!r}")

    run_usage_check(check, debug)
    return request_id.strip()


@app.command("allow")
@grouped
def allow_command(
    session_id: SessionArg,
    request_id: RequestIdArg,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the control_response sent on stdout.")
    ] = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Allow a pending permission prompt, with the tool input as asked."""
    from sesstail.control import allow_response

    rid = _check_request_id(request_id, log.debug)
    _answer(
        session_id,
        conn,
        allow_response(rid),
        f"allowed {_clean(rid)}",
        timeout=timeout,
        json_out=json_out,
        log=log,
    )


@app.command("deny")
@grouped
def deny_command(
    session_id: SessionArg,
    request_id: RequestIdArg,
    message: Annotated[
        str | None, typer.Option("--message", "-m", metavar="MESSAGE", help="Why; Claude reads it.")
    ] = None,
    interrupt: Annotated[
        bool, typer.Option("--interrupt", help="Also stop the session's turn.")
    ] = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the control_response sent on stdout.")
    ] = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Deny a pending permission prompt, optionally with a message and an interrupt."""
    from sesstail.control import DEFAULT_DENY_MESSAGE, deny_response

    rid = _check_request_id(request_id, log.debug)
    answer = deny_response(rid, message or DEFAULT_DENY_MESSAGE, interrupt=interrupt)
    line = f"denied {_clean(rid)}" + (" and interrupted the turn" if interrupt else "")
    _answer(
        session_id,
        conn,
        answer,
        line,
        timeout=timeout,
        json_out=json_out,
        log=log,
    )


# -- waiting for a state -------------------------------------------------------------------------


@app.command("wait")
@grouped
def wait_command(
    session_id: SessionArg,
    until: Annotated[
        WaitState,
        typer.Option(
            "--until",
            metavar="result|idle|blocked",
            case_sensitive=False,
            help="result: a result arrives; idle: the turn is over; "
            "blocked: a permission prompt is pending.",
        ),
    ],
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.01,
            metavar="SECONDS",
            help="Give up after this many seconds (exit 7).",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the message that ended the wait as a JSON line.")
    ] = False,
    settle: Annotated[float, typer.Option("--settle", min=0.0, hidden=True)] = 1.0,
    notify: NotifyOpt = False,
    exit_status: ExitStatusOpt = False,
    conn: Connection = Connection(),
    log: Logging = Logging(),
) -> None:
    """Watch silently; exit 0 as soon as the session reaches a state (for scripts).

    With --exit-status, a turn that ended with an error result exits 9.
    """

    def job() -> int:
        import asyncio

        from sesstail.cli.local import is_local_target
        from sesstail.control import State, wait_for_state
        from sesstail.transport.stream import SessionStream
        from sesstail.watch import MessageSource

        source: MessageSource
        label = session_id
        if is_local_target(session_id):
            from sesstail.cli.local import local_source

            if until is WaitState.blocked:
                raise UsageError("a local session has no permission prompts to wait for")
            # What the transcript holds already comes as history: an old result does not
            # count, and an idle session is seen at once.
            label, source = local_source(session_id, options=None, history=20)
        else:
            import time

            target = resolve_target(session_id, conn.base_url, conn.org, conn.api.value)
            # --timeout covers the REST calls too (the API probe, a gap fill).
            deadline = time.monotonic() + timeout if timeout is not None else None
            settings = target.stream_settings(
                open_timeout=conn.open_timeout, rest_deadline=deadline
            )
            # v1 is live-only and v2 starts at the live end: everything that arrives is
            # new, so an old result never ends the wait, and no history needs reading.
            stream = SessionStream(settings, _reporter(log))
            source = stream
            if until is not WaitState.result:
                from sesstail.attach import Backfilled

                # A session whose turn ended (or that asked for permission) before the wait
                # began says nothing more on a live stream: its recent history tells (the
                # last result and whether a turn started after it; a prompt still open —
                # v2's history keeps prompts). Best-effort: without a history, live only.
                source = Backfilled(stream, HISTORY_LOOKBACK, optional=True)
        notifier = None
        if notify:
            from sesstail.notify import Notifier, NotifyingSource

            notifier = Notifier.for_this_machine()
            source = NotifyingSource(source, notifier, label)
        try:
            msg = asyncio.run(wait_for_state(source, State(until.value), timeout, settle))
        finally:
            if notifier is not None:
                notifier.close()
        if json_out and msg is not None:
            from sesstail.protocol import encode

            # A local turn's end is a transcript line mapped onto a result: the mapped
            # message is what a script reading .result expects.
            line = encode(msg.obj) if is_local_target(session_id) else msg.line
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        if exit_status and msg is not None:
            from sesstail.watch import is_error_result

            if is_error_result(msg.obj):
                return ExitCode.RESULT_ERROR
        return ExitCode.OK

    run(job, debug=log.debug)
