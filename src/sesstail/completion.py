"""TAB completion of session ids and message types, without waiting on the network.

Session ids come from a small cache that every ``sesstail ls`` writes (one file per base URL
under ``$XDG_CACHE_HOME/sesstail/``, else ``~/.cache/sesstail/``). A completion only reads it;
when it is older than ``FRESH_FOR`` seconds, the completion starts ``sesstail ls`` in the
background to refresh it for the next TAB, and answers with what the cache holds now. So TAB
never waits for the service, and offline it answers at once with the last list it knew (at most
one background attempt per ``RETRY_AFTER`` seconds, so an offline shell does not pile them up).

Local sessions (Claude Code's transcripts) are offered to ``watch`` from a directory listing,
without reading the files.

Remote titles reach the shell as completion descriptions, which zsh evaluates: only letters,
digits, spaces and a few harmless punctuation marks are kept of them.

Light on purpose: the shell runs the whole CLI for each TAB, so this module imports only the
standard library and ``sesstail.select`` (itself light).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FRESH_FOR = 60.0  # seconds a cached list is offered without a refresh
RETRY_AFTER = 30.0  # seconds between two background refreshes of one list
CACHED_SESSIONS = 200  # ids kept per base URL
LOCAL_SESSIONS = 50  # local transcripts offered, most recently written first
TITLE_CHARS = 50
_SAFE_PUNCTUATION = frozenset(" .,-_/#+@")
# Session ids are offered only in this shape: what validate_session_id accepts unchanged.
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
# Set in the environment of a background refresh, so that it never starts another one.
_REFRESHING = "_SESSTAIL_COMPLETION_REFRESH"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "sesstail"


def cache_file(base_url: str, env: Mapping[str, str] | None = None) -> Path:
    digest = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]
    return cache_dir(env) / f"sessions-{digest}.tsv"


def safe_title(text: Any) -> str:
    """``text`` with nothing a shell could act on: letters, digits, spaces, ``.,-_/#+@``."""
    if not isinstance(text, str):
        return ""
    kept = "".join(c if c.isalnum() or c in _SAFE_PUNCTUATION else " " for c in text[:200])
    words = " ".join(kept.split())
    return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1] + "…"


def _safe_id(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 128 and set(value) <= _ID_CHARS:
        return value
    return None


def remember(base_url: str, sessions: Iterable[Mapping[str, Any]]) -> None:
    """Write the ids and titles of ``sessions`` (a listing, newest first) to the cache.

    Never fails the command it serves: a cache that cannot be written is simply not written.
    """
    lines = []
    for item in sessions:
        session_id = _safe_id(item.get("id"))
        if session_id is not None:
            lines.append(f"{session_id}\t{safe_title(item.get('title'))}\n")
        if len(lines) >= CACHED_SESSIONS:
            break
    path = cache_file(base_url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(lines)
        os.replace(temp, path)
    except OSError:
        return


def cached(base_url: str) -> tuple[list[tuple[str, str]], float]:
    """The cached ``(id, title)`` pairs for ``base_url`` and their age in seconds (inf: none)."""
    path = cache_file(base_url)
    try:
        age = time.time() - path.stat().st_mtime
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], float("inf")
    pairs = []
    for line in text.splitlines()[:CACHED_SESSIONS]:
        session_id, _, title = line.partition("\t")
        if _safe_id(session_id) is not None:
            pairs.append((session_id, safe_title(title)))
    return pairs, age


def _refresh_in_background(base_url: str, params: Mapping[str, Any]) -> None:
    """Start ``sesstail ls`` detached, to rewrite the cache; at most once per RETRY_AFTER."""
    if os.environ.get(_REFRESHING):
        return
    stamp = cache_file(base_url).with_suffix(".refresh")
    try:
        if time.time() - stamp.stat().st_mtime < RETRY_AFTER:
            return
    except OSError:
        pass
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp.touch()
    except OSError:
        return
    command = [sys.executable, "-m", "sesstail", "ls", "--json", "--limit", "100"]
    command += ["--base-url", base_url]
    org, api = params.get("org"), params.get("api")
    if isinstance(org, str) and org:
        command += ["--org", org]
    if api is not None:
        command += ["--api", str(getattr(api, "value", api))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_SESSTAIL_COMPLETE", "COMP_"))}
    env[_REFRESHING] = "1"
    try:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return


def _base_url(params: Mapping[str, Any]) -> str:
    from sesstail.protocol import DEFAULT_BASE_URL

    value = params.get("base_url")
    if isinstance(value, str) and value:
        return value
    return os.environ.get("SESSTAIL_BASE_URL") or DEFAULT_BASE_URL


def remote_sessions(params: Mapping[str, Any], incomplete: str) -> list[tuple[str, str]]:
    base_url = _base_url(params)
    pairs, age = cached(base_url)
    if age > FRESH_FOR:
        _refresh_in_background(base_url, params)
    return [(sid, title) for sid, title in pairs if sid.startswith(incomplete)]


def local_sessions(incomplete: str) -> list[tuple[str, str]]:
    """The newest local transcripts' ids whose names start with ``incomplete``."""
    from sesstail.local.sessions import is_session_uuid, projects_dir

    root = projects_dir()
    found: list[tuple[float, str, str]] = []
    try:
        projects = [e for e in os.scandir(root) if e.is_dir()]
    except OSError:
        return []
    for project in projects:
        try:
            entries = list(os.scandir(project.path))
        except OSError:
            continue
        for entry in entries:
            stem = entry.name[:-6]
            named = entry.name.endswith(".jsonl") and stem.startswith(incomplete)
            if named and is_session_uuid(stem):
                try:
                    found.append((entry.stat().st_mtime, stem, project.name))
                except OSError:
                    continue
    found.sort(reverse=True)
    return [(stem, safe_title(f"local {name}")) for _, stem, name in found[:LOCAL_SESSIONS]]


def types(incomplete: str) -> list[str]:
    from sesstail.select import KNOWN_TYPES

    return sorted(t for t in KNOWN_TYPES if t.startswith(incomplete))


# -- TAB without the command line ----------------------------------------------------------------
#
# The shell runs the whole program for each TAB, and building the command line (typer) costs
# most of a TAB's budget. The values TAB is pressed for most — a session id, a message type,
# an API — are answered here from a table of the commands instead, in the very format typer
# would print; anything else (option names, other values, anything the table does not know)
# is left to typer. tests/test_completion_sessions.py checks the table against the command
# line itself and the answers against typer's, so neither can drift.

# The table (``_completion_table.py``, generated by completions/generate.py) says per command
# what its positional arguments complete to ("target": remote and local sessions, any number
# of them; "session": one remote session first, then arguments of other kinds), its options
# that take a value, and its options that take none.
_TYPE_OPTIONS = frozenset({"-t", "--type", "-x", "--exclude-type"})
_API_CHOICES = ("auto", "v1", "v2")
# The options of a command line whose values a completion passes on (``remote_sessions``).
_PARAMS = {"--base-url": "base_url", "--org": "org", "--api": "api"}
_SPACE = r"\s"


def _command_table() -> dict[str, tuple[str | None, frozenset[str], frozenset[str]]]:
    from sesstail._completion_table import COMMANDS

    return COMMANDS


def _split(line: str) -> list[str]:
    """Words as the shell gave them (shlex rules; an unclosed quote keeps its partial word)."""
    import shlex

    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        words.extend(lexer)
    except ValueError:
        words.append(lexer.token)
    return words


def completed_words(shell: str, env: Mapping[str, str]) -> tuple[list[str], str] | None:
    """The words before the cursor (program name dropped) and the word being completed (bash:
    ``COMP_WORDS`` and ``COMP_CWORD``; zsh and fish: ``_TYPER_COMPLETE_ARGS``)."""
    if shell == "bash":
        words = _split(env.get("COMP_WORDS", ""))
        try:
            cword = int(env.get("COMP_CWORD", ""))
        except ValueError:
            return None
        return words[1:cword], (words[cword] if cword < len(words) else "")
    line = env.get("_TYPER_COMPLETE_ARGS", "")
    words = _split(line)[1:]
    if words and not line.endswith(" "):
        return words[:-1], words[-1]
    return words, ""


def quick_completions(shell: str, env: Mapping[str, str]) -> list[tuple[str, str | None]] | None:
    """What TAB offers, as (value, help) pairs; None when typer must answer."""
    found = completed_words(shell, env)
    if found is None:
        return None
    args, incomplete = found
    entry = _command_table().get(args[0]) if args else None
    if entry is None:
        return None
    kind, takes_value, flags = entry
    params: dict[str, str] = {}
    positionals = 0
    pending: str | None = None  # an option whose value is the next word
    for word in args[1:]:
        if pending is not None:
            params[_PARAMS.get(pending, "")] = word
            pending = None
        elif word.startswith("-") and word != "-":
            name, equals, value = word.partition("=")
            if name in takes_value and equals:
                params[_PARAMS.get(name, "")] = value
            elif name in takes_value:
                pending = name
            elif name not in flags or equals:
                return None  # "--", a cluster of short options, or one the table does not know
        else:
            positionals += 1
    if pending is not None:
        if pending in _TYPE_OPTIONS or (pending == "--until" and kind == "target"):
            return [(value, None) for value in types(incomplete)]
        if pending == "--api":
            return [(value, None) for value in _API_CHOICES if value.startswith(incomplete)]
        return None
    if incomplete.startswith("-"):
        return None
    params.pop("", None)
    if kind == "target":
        return [*remote_sessions(params, incomplete), *local_sessions(incomplete)]
    if kind == "session" and positionals == 0:
        return [(value, help) for value, help in remote_sessions(params, incomplete)]
    return None


def _zsh_escape(text: str) -> str:
    for old, new in (('"', '""'), ("'", "''"), ("$", "\\$"), ("`", "\\`"), (":", "\\\\:")):
        text = text.replace(old, new)
    return text


def complete_quickly(instruction: str, env: Mapping[str, str]) -> bool:
    """Answer a TAB (``_SESSTAIL_COMPLETE=complete_<shell>``) without typer when the table
    knows the answer, printed as typer prints it; False when typer must answer."""
    import re

    shell = instruction.removeprefix("complete_")
    if instruction == shell or shell not in ("bash", "zsh", "fish"):
        return False
    items = quick_completions(shell, env)
    if items is None:
        return False
    if shell == "bash":
        out = "\n".join(value for value, _ in items)
    elif shell == "zsh":
        rows = [
            f'"{_zsh_escape(value)}":"{_zsh_escape(help)}"' if help else f'"{_zsh_escape(value)}"'
            for value, help in items
        ]
        out = "_arguments '*: :((" + "\n".join(rows) + "))'" if rows else "_files"
    else:
        action = env.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":
            sys.exit(0 if items else 1)
        rows = [f"{value}\t{re.sub(_SPACE, ' ', help)}" if help else value for value, help in items]
        out = "\n".join(rows) if action == "get-args" else ""
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
    return True
