"""Local sessions in the commands: the transcripts Claude Code writes on this machine.

A session argument that ``local.sessions.is_local_target`` recognises (a bare UUID, a
``.jsonl`` path, an existing file) is followed from its transcript, by the same renderers,
filters, ``--until``, ``--record`` and JSONL output as a remote session; such an argument needs
no credentials. It has no control channel: control commands refuse it (exit 2). Only the
light ``is_local_target`` is imported at load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sesstail.errors import UsageError
from sesstail.local.sessions import is_local_target

if TYPE_CHECKING:
    from collections.abc import Callable

    from sesstail.watch import MessageSource, WatchOptions

__all__ = ["is_local_target", "local_source", "refuse_local"]


def refuse_local(session_id: str, what: str, why: str = "it has no control channel") -> None:
    """A command for remote sessions given a local one (control requests, ``send``,
    ``open``): a usage error, nothing sent anywhere."""
    if is_local_target(session_id):
        raise UsageError(
            f"{session_id[:80]} is a local session: {why} ({what} needs a remote session)",
            hint="`sesstail ls` lists the remote sessions; `sesstail watch` follows a local one",
        )


def local_source(
    arg: str,
    *,
    options: WatchOptions | None,
    history: int = 0,
    since: str | None = None,
    follow: bool = True,
    verbose: bool = False,
    warn: Callable[[str], None] | None = None,
    start: str = "beginning",
) -> tuple[str, MessageSource]:
    """The session id and message source for a local argument: the transcript from its start
    (or the last ``history`` messages, or those ``since`` a time), then live as it grows."""
    from sesstail.local.follow import LocalSession
    from sesstail.local.sessions import parse_since, resolve_local

    target = resolve_local(arg)
    kwargs: dict[str, Any] = {
        "subagents": target.subagents,
        "last": history or None,
        "since": parse_since(since) if since else None,
        "follow": follow,
        "options": options,
        "verbose": verbose,
        "warn": warn if verbose else None,
    }
    if start == "end":
        kwargs["start"] = "end"
    return target.session_id, LocalSession(target.transcript, **kwargs)
