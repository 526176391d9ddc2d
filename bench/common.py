"""What the benchmarks share: session files, the server process, timed child processes, tables.

Every measurement runs in a fresh child process (``sesstail …`` or a bare client), timed from
spawn to exit, with its CPU time and peak RSS read from ``os.wait4`` in a small launcher process
(``launch.py``, which says why). The embedded server runs
in another process (``sesstail serve --speed 0 --end``) that is started afresh for every
measurement, because it remembers how far each session has been played.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
TOKEN = "sesstail-bench-test-token"
ORG = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
TINY_SESSION_ID = "session_01BenchOneMessage"
# The variables that would change what a child does or prints, whatever the caller has set.
_DROPPED_ENV = frozenset(
    {
        "NO_COLOR",
        "FORCE_COLOR",
        "PY_COLORS",
        "COLUMNS",
        "LINES",
        "TERM",
        "PYTHONPROFILEIMPORTTIME",
        "PYTHONDEVMODE",
        "PYTHONASYNCIODEBUG",
        "PYTHONTRACEMALLOC",
        "PYTHONWARNINGS",
        # Set in some CI and sandbox shells, not in a user's: unbuffered stdout makes every
        # write a system call, and no bytecode cache means compiling sesstail at every start.
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "CLAUDE_CODE_ORGANIZATION_UUID",
    }
)
# Bytecode caches of the children go here, not into the source tree (warm_up fills it).
PYCACHE = Path(tempfile.gettempdir()) / "sesstail-bench-pycache"


class BenchError(Exception):
    """A child process failed; the message says which and shows its stderr."""


# -- command lines ------------------------------------------------------------------------------


def sesstail_argv() -> list[str]:
    """The installed ``sesstail`` script beside this interpreter: what a user runs."""
    script = Path(sys.executable).with_name("sesstail")
    if script.exists():
        return [str(script)]
    found = shutil.which("sesstail")
    if found:
        return [found]
    return [PYTHON, "-m", "sesstail"]


def child_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV
        and not key.startswith("SESSTAIL_")
        and not key.lower().endswith("_proxy")
    }
    env["CLAUDE_CODE_OAUTH_TOKEN"] = TOKEN
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(extra)
    return env


def watch_argv(base_url: str, session_id: str, *options: str) -> list[str]:
    return [
        *sesstail_argv(),
        "watch",
        session_id,
        "--org",
        ORG,
        "--base-url",
        base_url,
        "-q",
        *options,
    ]


def bare_sse_client_argv(base_url: str, session_id: str) -> list[str]:
    url = f"{base_url}/v1/code/sessions/{session_id}/events/stream?from_sequence_num=0"
    return [PYTHON, str(BENCH_DIR / "bare_sse_client.py"), url, TOKEN, ORG]


def bare_client_argv(base_url: str, session_id: str) -> list[str]:
    from sesstail.protocol import subscribe_url

    url = subscribe_url(base_url, session_id, ORG)
    return [PYTHON, str(BENCH_DIR / "bare_client.py"), url, TOKEN]


# -- session files ------------------------------------------------------------------------------

_WORD_TEXT = (
    "the a of to and in is it that for on with as this be by from at or not are we can"
    " function test value date time zone local utc offset parser token stream message"
    " session server client retry backoff reconnect buffer frame socket handshake close"
    " code error result output input file path line column config option flag default"
    " import module package class method return raise async await event loop task queue"
    " render terminal width colour style panel table markdown json schema field type"
)
_WORDS = _WORD_TEXT.split()
_IDENT_TEXT = (
    "days_until due_date parse_frame SeenIds watch render_tool_use backoff_delay"
    " StreamSettings test_due_tomorrow load_session_file TypeFilter JsonlWriter"
)
_IDENTS = _IDENT_TEXT.split()
_PATHS = (
    "src/tidyday/dates.py",
    "src/tidyday/cli.py",
    "tests/test_dates.py",
    "tests/conftest.py",
    "README.md",
    "src/tidyday/storage/sqlite.py",
    "pyproject.toml",
)
_COMMANDS = (
    "pytest -q tests/test_dates.py",
    "git status --short",
    "ruff check src tests",
    "python -m mypy --strict src",
    "grep -rn 'date.today()' src",
    "uv run pytest -x -k due",
)


@dataclass(frozen=True)
class SessionFile:
    path: Path
    session_id: str
    messages: int
    size: int


class _Generator:
    """Realistic Claude Code messages: prose, thinking, tool calls and their results."""

    def __init__(self, session_id: str, seed: int, *, small: bool) -> None:
        self.session_id = session_id
        self.rng = random.Random(seed)
        self.small = small
        self.reply = 0
        self.calls: list[str] = []

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(_WORDS, k=self.rng.randint(low, high)))

    def _sentences(self, count: int) -> str:
        return " ".join(self._words(6, 16).capitalize() + "." for _ in range(count))

    def _lines(self, count: int, low: int, high: int) -> str:
        return "\n".join(self._words(low, high) for _ in range(count))

    def _envelope(self, kind: str, message: dict[str, Any], sub_agent: bool) -> dict[str, Any]:
        parent = self.calls[0] if sub_agent and self.calls else None
        return {
            "type": kind,
            "message": message,
            "parent_tool_use_id": parent,
            "session_id": self.session_id,
            "uuid": self._uuid(),
        }

    def _assistant(self, block: dict[str, Any], sub_agent: bool) -> dict[str, Any]:
        if self.small:
            return self._envelope("assistant", {"role": "assistant", "content": [block]}, False)
        if self.rng.random() < 0.3:
            self.reply += 1
        message = {
            "id": f"msg_01Bench{self.reply:014d}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [block],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.rng.randint(1, 20),
                "cache_creation_input_tokens": self.rng.randint(0, 4000),
                "cache_read_input_tokens": self.rng.randint(10_000, 90_000),
                "output_tokens": self.rng.randint(10, 900),
            },
        }
        return self._envelope("assistant", message, sub_agent)

    def _text(self) -> dict[str, Any]:
        if self.small:
            return {"type": "text", "text": self._sentences(1)}
        text = self._sentences(self.rng.randint(1, 8))
        style = self.rng.random()
        if style < 0.3:  # inline code: worth a Markdown parse
            text += f" The culprit is `{self.rng.choice(_IDENTS)}()` in {self.rng.choice(_PATHS)}."
        elif style < 0.45:  # a list
            items = "\n".join(f"- {self._words(4, 12)}" for _ in range(self.rng.randint(2, 5)))
            text += "\n\n" + items
        return {"type": "text", "text": text}

    def _thinking(self) -> dict[str, Any]:
        lines = 1 if self.small else self.rng.randint(2, 14)
        body = self._lines(lines, 4, 12) if self.small else self._lines(lines, 8, 24)
        signature = "EqQBCkYIBench" if self.small else "EqQBCkYIBxgCKkBench" * 3
        return {"type": "thinking", "thinking": body, "signature": signature}

    def _tool_use(self) -> dict[str, Any]:
        call_id = f"toolu_01Bench{self.rng.getrandbits(60):015x}"
        self.calls = [call_id, *self.calls[:3]]
        name = self.rng.choice(("Bash", "Read", "Edit", "Grep", "Bash", "Read"))
        path = self.rng.choice(_PATHS)
        tool_input: dict[str, Any]
        if name == "Bash":
            tool_input = {"command": self.rng.choice(_COMMANDS), "description": self._words(3, 6)}
        elif name == "Read":
            tool_input = {"file_path": path}
        elif name == "Grep":
            tool_input = {
                "pattern": self.rng.choice(_IDENTS),
                "path": "src",
                "output_mode": "content",
            }
        else:
            old = self._lines(1 if self.small else self.rng.randint(1, 4), 3, 9)
            new = self._lines(1 if self.small else self.rng.randint(1, 5), 3, 9)
            tool_input = {"file_path": path, "old_string": old, "new_string": new}
        return {"type": "tool_use", "id": call_id, "name": name, "input": tool_input}

    def _tool_result(self, sub_agent: bool) -> dict[str, Any]:
        call_id = self.calls[0] if self.calls else "toolu_01BenchOrphan"
        error = self.rng.random() < 0.05
        if self.small:
            content = self._lines(2, 2, 5)
        else:
            content = self._lines(self.rng.randint(1, 45), 3, 14)
        block = {
            "tool_use_id": call_id,
            "type": "tool_result",
            "content": content,
            "is_error": error,
        }
        return self._envelope("user", {"role": "user", "content": [block]}, sub_agent)

    def _result(self) -> dict[str, Any]:
        return {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "duration_ms": self.rng.randint(1000, 900_000),
            "num_turns": self.rng.randint(1, 60),
            "result": self._sentences(1),
            "total_cost_usd": round(self.rng.random() * 3, 4),
            "usage": {"input_tokens": 120, "output_tokens": 4000},
            "session_id": self.session_id,
            "uuid": self._uuid(),
        }

    def message(self, index: int) -> dict[str, Any]:
        if index and index % 2000 == 0:
            return self._result()
        sub_agent = not self.small and self.rng.random() < 0.15
        roll = self.rng.random()
        if roll < 0.27:
            return self._assistant(self._text(), sub_agent)
        if roll < 0.42:
            return self._assistant(self._thinking(), sub_agent)
        if roll < 0.70:
            return self._assistant(self._tool_use(), sub_agent)
        return self._tool_result(sub_agent)


def write_session(
    path: Path, count: int, *, small: bool = False, seed: int = 1, session_id: str | None = None
) -> SessionFile:
    """A JSONL session of ``count`` messages, each with a unique uuid and the session id."""
    session_id = session_id or f"session_01Bench{'Small' if small else 'Mixed'}{count}"
    generator = _Generator(session_id, seed, small=small)
    with path.open("wb") as out:
        batch: list[bytes] = []
        for index in range(count):
            batch.append(orjson.dumps(generator.message(index)))
            if len(batch) == 4096:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return SessionFile(path, session_id, count, path.stat().st_size)


def write_tiny_session(directory: Path) -> SessionFile:
    """One short message: a run over it costs start-up, connect and close, nothing else."""
    return write_session(directory / "tiny.jsonl", 1, small=True, session_id=TINY_SESSION_ID)


# -- processes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One child process: wall time from spawn to exit, CPU seconds, peak RSS in bytes."""

    wall: float
    user: float
    system: float
    max_rss: int

    @property
    def cpu(self) -> float:
        return self.user + self.system


def run_child(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    timeout: float = 600.0,
    stdout_path: str = os.devnull,
) -> Run:
    """Run ``argv`` with stdout to ``stdout_path``, through ``launch.py``; raise if it fails."""
    with tempfile.TemporaryDirectory(prefix="sesstail-run-") as tmp:
        result_path = Path(tmp) / "result.json"
        err_path = Path(tmp) / "stderr"
        launcher = [PYTHON, str(BENCH_DIR / "launch.py"), str(result_path), stdout_path]
        launcher += [str(timeout), "--", *argv]
        with err_path.open("wb") as err:
            code = subprocess.call(launcher, stdin=subprocess.DEVNULL, stderr=err, env=env)
        detail = err_path.read_text(errors="replace").strip()[-2000:]
        if code != 0 or not result_path.exists():
            raise BenchError(f"the launcher for {' '.join(argv)} exited {code}:\n{detail}")
        result = orjson.loads(result_path.read_bytes())
    if result["code"] != 0:
        raise BenchError(f"{' '.join(argv)} exited {result['code']}:\n{detail}")
    # Linux counts ru_maxrss in KiB, macOS in bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return Run(result["wall"], result["user"], result["system"], result["maxrss"] * scale)


@dataclass
class Client:
    """A client under test: how to run it, and its measurements so far."""

    name: str
    argv: Callable[[str, str], list[str]]
    env: dict[str, str] = field(default_factory=child_env)
    runs: list[Run] = field(default_factory=list)
    fixed: list[Run] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)

    def process(self) -> float:
        return median([r.wall for r in self.runs])

    def fastest(self) -> float:
        return min(r.wall for r in self.runs)

    def server(self) -> float | None:
        """The server's CPU seconds while it played the big session (None: not on Linux)."""
        return median(self.server_cpu) if self.server_cpu else None

    def startup(self) -> float:
        return median([r.wall for r in self.fixed])

    def streaming(self) -> float:
        # The median of per-round differences: each pairs a run with its own server's tiny run.
        return median([r.wall - f.wall for r, f in zip(self.runs, self.fixed, strict=True)])

    def cpu(self) -> float:
        return median([r.cpu for r in self.runs])


def measure_rounds(
    clients: Sequence[Client],
    big: SessionFile,
    tiny: SessionFile,
    rounds: int,
    stdout_path: str = os.devnull,
) -> None:
    """``rounds`` rounds, clients in alternating order, each run on a fresh server holding
    ``big`` and ``tiny``: first the one-message session (fixed cost), then the big one."""
    for round_number in range(rounds):
        order = list(clients) if round_number % 2 == 0 else list(clients)[::-1]
        for client in order:
            with serve([big, tiny]) as server:
                url = server.base_url
                client.fixed.append(
                    run_child(
                        client.argv(url, tiny.session_id), client.env, stdout_path=stdout_path
                    )
                )
                before = server.cpu_seconds()
                run = run_child(
                    client.argv(url, big.session_id), client.env, stdout_path=stdout_path
                )
                after = server.cpu_seconds()
                client.runs.append(run)
                if before is not None and after is not None:
                    client.server_cpu.append(after - before)
            say(f"  round {round_number + 1}: {client.name}: {run.wall:.2f} s")


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far; None where /proc is missing."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(files: Sequence[SessionFile], timeout: float = 300.0) -> Iterator[Server]:
    """``sesstail serve`` in its own process for ``files``, until the block ends."""
    argv = [*sesstail_argv(), "serve", *(str(f.path) for f in files)]
    argv += ["--speed", "0", "--end", "--port", "0"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=child_env(),
            text=True,
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            assert proc.stdout is not None
            base_url = ""
            for line in proc.stdout:
                if line.startswith("serving on "):
                    base_url = line.split()[-1]
                    break
            killer.cancel()
            if not base_url:
                proc.wait()
                err.seek(0)
                detail = err.read().decode(errors="replace").strip()[-2000:]
                raise BenchError(f"sesstail serve exited {proc.returncode}:\n{detail}")
            yield Server(base_url, proc.pid)
        finally:
            killer.cancel()
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def warm_up() -> None:
    """Compile every module the children use into PYCACHE and bring it all into the page cache."""
    code = "import sesstail.cli, sesstail.connection, sesstail.watch, sesstail.output"
    code += ", sesstail.render.pretty, websockets.asyncio.client"
    run_child([PYTHON, "-c", code], child_env())
    run_child([*sesstail_argv(), "--version"], child_env())


# -- reporting ----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cores = os.cpu_count() or 0
    return (
        f"{platform.system()} {platform.machine()}, {cores} cores, "
        f"Python {platform.python_version()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO = sys.stdout) -> None:
    """A markdown table, columns padded so it also reads well in a terminal."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out.write(line(headers) + "\n")
    out.write("|" + "|".join("-" * (w + 2) for w in widths) + "|\n")
    for row in rows:
        out.write(line(row) + "\n")
    out.flush()


def clients_table(clients: Sequence[Client], count: int) -> None:
    """The throughput table of the JSONL and pretty benchmarks."""
    headers = ["client", "process s", "best s", "msg/s", "1-msg run s", "streaming s"]
    headers += ["msg/s streaming", "client CPU s", "server CPU s"]
    rows = []
    for client in clients:
        server = client.server()
        rows.append(
            [
                client.name,
                f"{client.process():.2f}",
                f"{client.fastest():.2f}",
                f"{count / client.process():,.0f}",
                f"{client.startup():.2f}",
                f"{client.streaming():.2f}",
                f"{count / client.streaming():,.0f}",
                f"{client.cpu():.2f}",
                "n/a" if server is None else f"{server:.2f}",
            ]
        )
    table(headers, rows)
    for client in clients:
        times = ", ".join(f"{r.wall:.2f}" for r in client.runs)
        print(f"{client.name}: process times by round {times}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def target_line(text: str) -> None:
    print(f"target {text}", flush=True)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smaller run, for a quick look")
    return p


def say(text: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def timed(label: str, action: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = action()
    say(f"  {label}: {time.perf_counter() - start:.1f} s")
    return result


def megabytes(size: float) -> str:
    return f"{size / 2**20:.1f} MB"
