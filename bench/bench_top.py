"""`sesstail top` at 50 sessions × 10 messages/s: does the view keep up, and at what CPU?

    python bench/bench_top.py [--sessions 50] [--rate 10] [--seconds 10] [--quick]

A `sesstail serve` process plays every session live (``--played 1``: each has said its
``init``, so the list shows it running and top subscribes to it), one assistant line every
``1/rate`` s, then a result. In this process, the Textual app runs headless under its test
pilot (``App.run_test``: the screen is composed and rendered, only the terminal write is
skipped), against the real list endpoint and one WebSocket per session. Then the same
sessions again through ``top --json`` (no TUI) writing to /dev/null.

Figures, each with its target:

* CPU of this process (top alone: the server is another process) over the playback, as a
  share of one core — ≤ 50 %;
* behind: when the last result of all sessions was taken, past the end of the slowest
  session's playback (measured from its first live message) — ≤ 1 s;
* view staleness: at each redraw, how long the oldest message it draws for each session
  has waited since it was taken from the stream (p95 and max) — p95 ≤ 0.5 s;
* event-loop stalls: how late a 20 ms timer fires (p99 and max) — what a key press would
  wait — p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sesstail.credentials import Token
from sesstail.protocol import Message
from sesstail.secrets import Secret
from sesstail.top.follow import Transport
from sesstail.top.wiring import v1_transport

TOKEN = "sesstail-bench-top-token"
ORG = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
TARGET_CPU = 0.50
TARGET_BEHIND_S = 1.0
TARGET_STALE_P95_S = 0.5
TARGET_STALL_P99_S = 0.100


def sesstail() -> list[str]:
    script = Path(sys.executable).with_name("sesstail")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sesstail"]


def write_sessions(folder: Path, sessions: int, per_session: int, gap: float) -> list[str]:
    """Recordings (so the server keeps their pacing): an init, assistant lines, a result."""
    ids = []
    start = 1_700_000_000.0
    for s in range(sessions):
        sid = f"session_01BenchTop{s:03d}"
        with (folder / f"{sid}.jsonl").open("w") as out:
            for i in range(per_session):
                msg: dict[str, Any]
                if i == 0:
                    msg = {"type": "system", "subtype": "init", "model": "claude-sonnet-4-5"}
                elif i == per_session - 1:
                    msg = {"type": "result", "subtype": "success", "total_cost_usd": 0.01 * s}
                else:
                    text = f"step {i}: checked the parser against the local and UTC dates"
                    msg = {
                        "type": "assistant",
                        "message": {
                            "id": f"msg_{s}_{i}",
                            "content": [{"type": "text", "text": text}],
                        },
                    }
                msg |= {"uuid": f"{sid}-{i}", "session_id": sid}
                out.write(json.dumps({"recorded_at": start + i * gap, "message": msg}) + "\n")
        ids.append(sid)
    return ids


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["CLAUDE_CODE_OAUTH_TOKEN"] = TOKEN
    return env


@contextmanager
def server(folder: Path) -> Iterator[tuple[str, int]]:
    """``sesstail serve`` for the files in ``folder``: its base URL and pid."""
    files = sorted(str(p) for p in folder.glob("*.jsonl"))
    argv = [*sesstail(), "serve", *files, "--port", "0", "--played", "1"]
    argv += ["--speed", "1", "--token", TOKEN, "--org", ORG]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=clean_env())
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("serving on "):
            raise SystemExit(f"the server did not start: {first!r}")
        yield first.split()[-1], proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Probe:
    """What one run saw: first live message and last result per session, stalls, staleness."""

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.first_live: dict[str, float] = {}
        self.results: dict[str, float] = {}
        self.stalls: list[float] = []
        self.stale: list[float] = []
        self.undrawn: dict[str, float] = {}  # session → when its oldest undrawn message came
        self.messages = 0

    def on_message(self, session_id: str, msg: Message) -> None:
        self.messages += 1
        self.undrawn.setdefault(session_id, time.time())
        if not msg.backfill and session_id not in self.first_live:
            self.first_live[session_id] = time.time()
        if msg.obj.get("type") == "result":
            self.results[session_id] = time.time()

    @property
    def done(self) -> bool:
        return len(self.results) >= self.sessions

    async def watch_loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.02)
            self.stalls.append(max(0.0, loop.time() - before - 0.02))

    def behind(self, playback: float) -> float:
        return max(self.results[s] - (self.first_live[s] + playback) for s in self.results)


async def run_tui(transport: Transport, probe: Probe, timeout: float) -> tuple[float, float]:
    """Wall and CPU seconds of the TUI from the first live message to the last result."""
    from sesstail.top.app import TopApp
    from sesstail.top.model import Board

    board = Board()
    app = TopApp(transport, refresh=2.0, board=board)
    redraw = app.redraw

    def timed_redraw() -> None:
        now = time.time()
        probe.stale.extend(now - at for at in probe.undrawn.values())
        probe.undrawn.clear()
        redraw()

    app.redraw = timed_redraw  # type: ignore[method-assign]
    stop = asyncio.Event()
    async with app.run_test(size=(200, 60)):
        assert app.follower is not None
        app.follower.message_listeners.append(probe.on_message)
        stalls = asyncio.ensure_future(probe.watch_loop(stop))
        deadline = time.monotonic() + timeout
        while not probe.first_live and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        wall0, cpu0 = time.perf_counter(), cpu_now()
        while not probe.done and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        wall, cpu = time.perf_counter() - wall0, cpu_now() - cpu0
        stop.set()
        await stalls
    return wall, cpu


async def run_json(transport: Transport, probe: Probe, timeout: float) -> tuple[float, float]:
    from sesstail.top.follow import Follower
    from sesstail.top.jsonl import JsonLines
    from sesstail.top.model import Board

    board = Board()
    follower = Follower(transport, board, refresh=2.0)
    follower.message_listeners.append(probe.on_message)
    with open(os.devnull, "w") as sink:
        lines = JsonLines(board, sink, None)
        follower.status_listeners.append(lambda sid, change: lines.write(sid))
        runner = asyncio.ensure_future(follower.run())
        stop = asyncio.Event()
        stalls = asyncio.ensure_future(probe.watch_loop(stop))
        deadline = time.monotonic() + timeout
        while not probe.first_live and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        wall0, cpu0 = time.perf_counter(), cpu_now()
        while not probe.done and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            lines.flush_dirty()
        wall, cpu = time.perf_counter() - wall0, cpu_now() - cpu0
        stop.set()
        await stalls
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    return wall, cpu


def report(name: str, probe: Probe, wall: float, cpu: float, playback: float) -> bool:
    share = cpu / wall if wall else 0.0
    behind = probe.behind(playback) if probe.done else float("inf")
    stall99, stall_max = percentile(probe.stalls, 0.99), max(probe.stalls, default=0.0)
    print(
        f"  {name:5s} {probe.messages:6,d} messages in {wall:5.2f} s"
        f" ({probe.messages / wall:6,.0f} msg/s) · CPU {cpu:5.2f} s = {share:5.1%} of a core"
        f" · behind {behind:5.2f} s · loop stall p99 {stall99 * 1000:5.1f} ms"
        f" max {stall_max * 1000:6.1f} ms"
    )
    ok = probe.done and share <= TARGET_CPU and behind <= TARGET_BEHIND_S
    ok &= stall99 <= TARGET_STALL_P99_S
    if probe.stale:
        p50, p95 = statistics.median(probe.stale), percentile(probe.stale, 0.95)
        print(
            f"        view staleness p50 {p50 * 1000:5.0f} ms · p95 {p95 * 1000:5.0f} ms"
            f" · max {max(probe.stale) * 1000:5.0f} ms"
        )
        ok &= p95 <= TARGET_STALE_P95_S
    print(
        f"target {name}: CPU ≤ {TARGET_CPU:.0%} ({share / TARGET_CPU:.2f}× the budget),"
        f" behind ≤ {TARGET_BEHIND_S:g} s, stall p99 ≤ {TARGET_STALL_P99_S * 1000:.0f} ms"
        + (f", staleness p95 ≤ {TARGET_STALE_P95_S * 1000:.0f} ms" if probe.stale else "")
        + f": {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="messages/s per session")
    parser.add_argument("--seconds", type=float, default=10.0, help="playback length")
    parser.add_argument("--quick", action="store_true", help="a 4 s run, indicative only")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 4.0
    gap = 1 / args.rate
    per_session = int(args.seconds * args.rate) + 1
    playback = (per_session - 2) * gap  # from the first live message to the result
    print(
        f"{args.sessions} sessions × {args.rate:g} msg/s = {args.sessions * args.rate:,.0f} msg/s"
        f" for {playback:.1f} s (Python {sys.version.split()[0]}, {os.cpu_count()} cores)"
    )
    ok = True
    for name, runner in (("tui", run_tui), ("json", run_json)):
        with tempfile.TemporaryDirectory(prefix="sesstail-bench-top-") as tmp:
            write_sessions(Path(tmp), args.sessions, per_session, gap)
            with server(Path(tmp)) as (base, _pid):
                transport = v1_transport(base, ORG, lambda: Token(Secret(TOKEN), "bench"), {})
                probe = Probe(args.sessions)
                run: Callable[..., Any] = runner
                wall, cpu = asyncio.run(run(transport, probe, playback + 60))
                ok &= report(name, probe, wall, cpu, playback)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
