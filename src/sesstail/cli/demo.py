"""``sesstail demo``: a sample session from the embedded server, watched as ``watch`` would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sesstail.cli.app import app, run
from sesstail.cli.common import build_options, build_renderer, choose_format
from sesstail.cli.options import ApiChoice, ApiOpt, Display, Filters, Logging, grouped
from sesstail.errors import ExitCode


@app.command("demo")
@grouped
def demo_command(
    speed: Annotated[
        float,
        typer.Option("--speed", min=0.0, metavar="FACTOR", help="Playback speed; 0 plays at once."),
    ] = 1.0,
    display: Display = Display(),
    filters: Filters = Filters(),
    api: ApiOpt = ApiChoice.auto,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Write a local transcript as a Claude Code session would, and follow it.",
        ),
    ] = False,
    log: Logging = Logging(),
) -> None:
    """Play a sample session from the embedded server and watch it, as `watch` would."""
    if local:
        run(lambda: _demo_local(speed, display, filters, log), debug=log.debug)

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

        options = build_options(filters, "result")
        out_format = choose_format(display)
        demo_token = Token(Secret(random_secrets.token_urlsafe(24)), "demo")
        demo_org = "00000000-0000-4000-8000-000000000000"
        reporter = StatusReporter(
            verbose=log.loud, quiet=log.quiet, color=want_color(display.color.value, sys.stderr)
        )
        renderer = build_renderer(display, out_format)

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
                asker = demo_asker(reporter, color=want_color(display.color.value, sys.stdout))
                await watch_and_answer(stream, renderer, options, asker)
            return ExitCode.OK

        return asyncio.run(go())

    run(job, debug=log.debug)


def _demo_local(speed: float, display: Display, filters: Filters, log: Logging) -> int:
    """``demo --local``: a transcript written into a temporary directory while it is
    followed, as ``watch`` follows any local session."""
    import asyncio
    import tempfile

    from sesstail.local.demo import LocalDemo
    from sesstail.output import StatusReporter, want_color
    from sesstail.watch import watch

    options = build_options(filters)
    out_format = choose_format(display)
    verbose = log.loud
    reporter = StatusReporter(
        verbose=verbose, quiet=log.quiet, color=want_color(display.color.value, sys.stderr)
    )
    renderer = build_renderer(display, out_format)
    with tempfile.TemporaryDirectory(prefix="sesstail-demo-") as directory:
        pause = 0.0 if speed == 0 else 0.4 / speed
        demo = LocalDemo(Path(directory), pause=pause, options=options, verbose=verbose)
        reporter(f"demo: writing and following {demo.path}", False)
        asyncio.run(watch(demo, renderer, options))
    return ExitCode.OK
