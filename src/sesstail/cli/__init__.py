"""The command line: parse options, build a configuration, run one ``asyncio.run``.

``app`` holds the typer app and ``run``; ``options`` the options commands share; ``targets``
who and where a command talks to; each other module one area's commands. Importing the
package registers every command.
"""

from __future__ import annotations

from sesstail.cli import control, demo, serve, sessions, top, watch
from sesstail.cli.app import _app_for, app, main, run
from sesstail.cli.options import DEFAULT_BASE_URL

__all__ = [
    "DEFAULT_BASE_URL",
    "_app_for",
    "app",
    "control",
    "demo",
    "main",
    "run",
    "serve",
    "sessions",
    "top",
    "watch",
]
