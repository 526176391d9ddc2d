"""``sesstail serve``: the embedded sessions server, for trying things out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sesstail.cli.app import _say, app, run
from sesstail.cli.options import DebugOpt, VerboseOpt
from sesstail.errors import ExitCode, UsageError


@app.command("serve")
def serve_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[FILE]...",
            help="Session files (JSONL of messages or recordings); the demo session if none.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, metavar="PORT", help="0 picks a free port.")
    ] = (8765),
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            help="Require this bearer token (a test token, not a real one).",
        ),
    ] = None,
    org: Annotated[
        str | None, typer.Option("--org", metavar="UUID", help="Require this organization UUID.")
    ] = None,
    speed: Annotated[
        float,
        typer.Option("--speed", min=0.0, metavar="FACTOR", help="Playback speed; 0 plays at once."),
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
