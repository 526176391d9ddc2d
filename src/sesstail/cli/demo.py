"""``sesstail demo``: a sample session from the embedded server, watched as ``watch`` would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sesstail.cli.app import app, run
from sesstail.cli.common import _build_options, _build_renderer, _choose_format
from sesstail.cli.options import (
    ApiChoice,
    ApiOpt,
    ColorChoice,
    ColorOpt,
    DebugOpt,
    ExcludeOpt,
    FormatOpt,
    JsonOpt,
    OutputFormat,
    QuietOpt,
    TimestampsOpt,
    TypeOpt,
    VerboseOpt,
)
from sesstail.errors import ExitCode


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
