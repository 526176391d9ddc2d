"""Finding local sessions: the transcripts under ``$CLAUDE_CONFIG_DIR/projects/``.

Claude Code keeps one directory per project (the working directory with ``/`` and ``.``
spelled ``-``), holding ``<session-id>.jsonl`` per session and ``<session-id>/subagents/``
for its sub-agents. ``list_local_sessions`` lists them, most recently written first, as plain
dicts (``ls --local --json`` prints them as they are); ``resolve_local`` turns what a user
typed (a session id, or a path to a ``.jsonl``) into the files to follow; ``is_local_target``
tells such an argument from a remote session id without touching the disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sesstail.errors import SessionNotFound, UsageError

# Light on purpose: the CLI asks ``is_local_target`` of every session argument, so this
# module imports neither asyncio nor the protocol layer (they come with the functions that
# read files).

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# How far into a transcript the first prompt is looked for: it is near the top, after a
# snapshot or a caveat, and a listing must not read whole files.
_HEAD_BYTES = 256 * 1024
_TITLE_CHARS = 200


def projects_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$CLAUDE_CONFIG_DIR/projects``, default ``~/.claude/projects``."""
    env = os.environ if env is None else env
    config = env.get("CLAUDE_CONFIG_DIR")
    base = Path(config).expanduser() if config else Path.home() / ".claude"
    return base / "projects"


def is_session_uuid(name: str) -> bool:
    """Whether ``name`` (a transcript's file name without ``.jsonl``) is a session id."""
    return _UUID.fullmatch(name) is not None


def subagents_dir(transcript: Path) -> Path:
    """Where a session's sub-agents write: ``<dir>/<session-id>/subagents/``."""
    return transcript.parent / transcript.stem / "subagents"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class LocalTarget:
    """A local session to follow: its id, its transcript and its sub-agents' directory."""

    session_id: str
    transcript: Path
    subagents: Path


def is_local_target(arg: str) -> bool:
    """Whether a watch argument names a local session: a bare UUID (remote ids look like
    ``session_01…``), a path ending in ``.jsonl``, or a file that exists. No disk access
    beyond one ``stat`` for the last case."""
    arg = arg.strip()
    if _UUID.fullmatch(arg) or arg.endswith(".jsonl"):
        return True
    if arg.startswith("session_") or "://" in arg:
        return False
    try:
        return Path(arg).expanduser().is_file()
    except (OSError, ValueError):
        return False


def resolve_local(arg: str, *, root: Path | None = None) -> LocalTarget:
    """The transcript a watch argument names: a path to a ``.jsonl`` (any name), or a
    session id found under ``root`` (``projects_dir()``). Raises ``UsageError`` for a path
    that is not a readable file, ``SessionNotFound`` for an id with no transcript."""
    arg = arg.strip()
    if not _UUID.fullmatch(arg):
        path = Path(arg).expanduser()
        if not path.is_file():
            raise UsageError(f"no such transcript: {_shorten(arg, 120)!r}")
        if not os.access(path, os.R_OK):
            raise UsageError(f"cannot read {_shorten(arg, 120)!r}")
        return LocalTarget(path.stem, path, subagents_dir(path))
    session_id = arg.lower()
    root = projects_dir() if root is None else root
    matches = sorted(root.glob(f"*/{session_id}.jsonl"))
    if not matches:
        raise SessionNotFound(
            f"no local session {session_id} under {root}",
            hint="`sesstail ls --local` lists them; CLAUDE_CONFIG_DIR moves the directory",
        )
    # A session resumed in another project directory: the one written last.
    path = max(matches, key=_mtime)
    return LocalTarget(session_id, path, subagents_dir(path))


def project_dir_name(project: str | Path) -> str:
    """The directory Claude Code keeps a project's sessions in: its absolute path with every
    character but letters and digits spelled ``-`` (``/home/dev/my_app`` → ``-home-dev-my-app``)."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(Path(project).expanduser().absolute()))


def list_local_sessions(
    *, root: Path | None = None, limit: int | None = None, project: str | Path | None = None
) -> list[dict[str, Any]]:
    """The local sessions, most recently written first, ``limit`` at most::

        {"id", "title", "project", "updated_at", "size", "subagents", "path"}

    ``title`` is the first prompt (one line, or "" when none is near the top), ``project``
    the session's working directory, ``updated_at`` the last write to its files (ISO 8601,
    UTC), ``size`` the transcript's bytes, ``subagents`` the number of sub-agent files.
    ``project``: only that working directory's sessions (``.`` for the current one). Only
    the sessions listed are opened."""
    root = projects_dir() if root is None else root
    only = project_dir_name(project) if project is not None else None
    found: list[tuple[float, str, Path, int, int]] = []
    for path in _transcripts(root, only):
        try:
            st = path.stat()
        except OSError:
            continue
        # The last write to any of its files: what is shown, and what the order is by.
        latest, agents = _sub_agents(path, st.st_mtime)
        found.append((latest, path.stem, path, st.st_size, agents))
    found.sort(key=lambda item: (-item[0], item[1]))
    if limit is not None:
        found = found[: max(limit, 0)]
    return [_describe(path, latest, size, agents) for latest, _, path, size, agents in found]


def _transcripts(root: Path, only: str | None) -> Iterable[Path]:
    try:
        projects = [e for e in os.scandir(root) if e.is_dir() and only in (None, e.name)]
    except OSError:
        return
    for project in projects:
        try:
            entries = list(os.scandir(project.path))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.endswith(".jsonl") and _UUID.fullmatch(name[:-6]) and entry.is_file():
                yield Path(entry.path)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _sub_agents(path: Path, mtime: float) -> tuple[float, int]:
    """The latest write among a transcript (``mtime``) and its sub-agents' files, and how
    many of those there are (``<session-id>/subagents/agent-*.jsonl``)."""
    count = 0
    try:
        for entry in os.scandir(subagents_dir(path)):
            if entry.name.startswith("agent-") and entry.name.endswith(".jsonl"):
                count += 1
                mtime = max(mtime, entry.stat().st_mtime)
    except OSError:
        pass
    return mtime, count


def _describe(path: Path, mtime: float, size: int, count: int) -> dict[str, Any]:
    title, cwd = _head(path)
    return {
        "id": path.stem,
        "title": title,
        "project": cwd or _project_from_dir(path.parent.name),
        "updated_at": datetime.fromtimestamp(mtime, UTC).isoformat().replace("+00:00", "Z"),
        "size": size,
        "subagents": count,
        "path": str(path),
    }


def _project_from_dir(name: str) -> str:
    # Lossy ("-" was "/" or "."), so only when no line says the cwd.
    return name.replace("-", "/") if name.startswith("-") else name


def _head(path: Path) -> tuple[str, str]:
    """The first prompt (as a title) and the working directory, from the top of the file."""
    from sesstail.protocol import loads

    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return "", ""
    cwd = ""
    lines = head.split(b"\n")
    if len(head) == _HEAD_BYTES:
        lines = lines[:-1]  # cut short: not a whole line
    for raw in lines:
        if not raw.strip():
            continue
        try:
            obj = loads(raw.decode("utf-8", "replace"), exact=False)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        if not cwd and isinstance(obj.get("cwd"), str):
            cwd = obj["cwd"]
        title = _prompt_title(obj)
        if title:
            return title, cwd
    return "", cwd


def _prompt_title(obj: dict[str, Any]) -> str:
    """A typed prompt's first line; a slash command as itself; "" for anything else."""
    if obj.get("type") != "user" or obj.get("isSidechain") is True:
        return ""
    if obj.get("isMeta") is True or obj.get("isCompactSummary") is True:
        return ""
    message = obj.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        content = next((t for t in texts if isinstance(t, str)), None)
    if not isinstance(content, str):
        return ""
    text = content.strip()
    if text.startswith("<command-name>"):
        end = text.find("</command-name>")
        name = text[len("<command-name>") : end if end >= 0 else None].strip()
        args_start = text.find("<command-args>")
        args_end = text.find("</command-args>")
        args = text[args_start + 14 : args_end].strip() if 0 <= args_start < args_end else ""
        text = f"{name} {args}".strip()
    elif text.startswith(("<", "[Request interrupted", "Caveat:")):
        return ""
    first = text.splitlines()[0].strip() if text else ""
    return _shorten(first, _TITLE_CHARS)


def write_jsonl(sessions: Iterable[dict[str, Any]], out: TextIO) -> None:
    """``ls --local --json``: one JSON object per session per line, flushed."""
    import orjson

    for item in sessions:
        out.write(orjson.dumps(item).decode() + "\n")
    out.flush()


_AGO = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)\s*(s|m|min|h|d)")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: a duration ago (``90s``, ``10m``, ``2h``, ``1d``) or an ISO 8601 time
    (``2026-12-01T10:00``, local time unless it says its zone), as epoch seconds."""
    import time

    value = text.strip()
    match = _AGO.fullmatch(value)
    if match:
        ago = float(match.group(1)) * _UNIT_S[match.group(2)]
        return (time.time() if now is None else now) - ago
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"invalid time {_shorten(value, 40)!r}",
            hint="--since takes a duration ago (10m, 2h, 1d) or a time (2026-12-01T10:00)",
        ) from None
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        raise UsageError(f"invalid time {_shorten(value, 40)!r}: out of range") from None
