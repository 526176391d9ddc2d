"""Fifty sessions in one `sesstail watch`: does one process keep up?

    python bench/bench_multi.py [--sessions 50] [--quick]

Two measurements, each a fresh `sesstail serve --end` process and a fresh `sesstail watch ID…`
child (stdout to /dev/null), with the CPU time of the watch read from ``os.wait4``:

1. throughput: every session played at once (``--speed 0``): messages per second over the
   whole process, JSONL and pretty (``--color always``);
2. pacing: every session says 20 messages a second (1,000 messages/s over 50 sessions) for
   ``--seconds``; a watch that keeps up ends when the last session ends, so the time past the
   playback is how far it fell behind. Targets: behind ≤ 1 s, watch CPU ≤ 50 % of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOKEN = "sesstail-bench-multi-token"
ORG = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
API = "auto"  # --api: which API generation the watch speaks


def sesstail() -> list[str]:
    script = Path(sys.executable).with_name("sesstail")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sesstail"]


def write_sessions(folder: Path, sessions: int, per_session: int, gap: float) -> list[Path]:
    """Recordings (so the server keeps their pacing): an init, assistant texts, a result."""
    paths = []
    start = 1_700_000_000.0
    for s in range(sessions):
        sid = f"session_01Bench{s:03d}Multi"
        path = folder / f"{sid}.jsonl"
        with path.open("w") as out:
            for i in range(per_session):
                msg: dict[str, Any]
                if i == 0:
                    msg = {"type": "system", "subtype": "init", "model": "claude-sonnet-4-5"}
                elif i == per_session - 1:
                    msg = {"type": "result", "subtype": "success", "num_turns": 1}
                else:
                    text = f"step {i}: checked the parser against the local and UTC dates " * 2
                    msg = {
                        "type": "assistant",
                        "message": {
                            "id": f"msg_{s}_{i}",
                            "content": [{"type": "text", "text": text}],
                        },
                    }
                msg |= {"uuid": f"{sid}-{i}", "session_id": sid}
                out.write(json.dumps({"recorded_at": start + i * gap, "message": msg}) + "\n")
        paths.append(path)
    return paths


def start_server(files: list[Path], speed: float) -> tuple[subprocess.Popen[str], str]:
    argv = [*sesstail(), "serve", *map(str, files), "--port", "0", "--end"]
    argv += ["--speed", str(speed), "--token", TOKEN, "--org", ORG]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=clean_env())
    assert server.stdout is not None
    first = server.stdout.readline()
    if not first.startswith("serving on "):
        server.kill()
        raise SystemExit(f"the server did not start: {first!r}")
    return server, first.split()[-1]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("NO_COLOR", None)
    env["CLAUDE_CODE_OAUTH_TOKEN"] = TOKEN
    return env


def run_watch(base: str, ids: list[str], *options: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and exit code of one watch of every session."""
    argv = [*sesstail(), "watch", *ids, "--base-url", base, "--org", ORG, "-q", *options]
    argv += ["--api", API]
    with open(os.devnull, "w") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=sink, env=clean_env())
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, child.returncode


def measure(files: list[Path], speed: float, *options: str) -> tuple[float, float]:
    ids = [p.stem for p in files]
    server, base = start_server(files, speed)
    try:
        wall, cpu, code = run_watch(base, ids, *options)
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    if code != 0:
        raise SystemExit(f"watch exited {code}")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=1000, help="per session, throughput")
    parser.add_argument("--seconds", type=float, default=10.0, help="pacing run length")
    parser.add_argument("--quick", action="store_true", help="a smaller run, indicative only")
    parser.add_argument("--api", choices=("auto", "v1", "v2"), default="auto")
    args = parser.parse_args()
    global API
    API = args.api
    if args.quick:
        args.messages, args.seconds = 200, 4.0
    ok = True
    with tempfile.TemporaryDirectory(prefix="sesstail-bench-multi-") as tmp:
        folder = Path(tmp)
        (folder / "fast").mkdir()
        fast = write_sessions(folder / "fast", args.sessions, args.messages, 0.0)
        total = args.sessions * args.messages
        print(f"throughput: {args.sessions} sessions × {args.messages} messages, speed 0")
        for name, options in (
            ("jsonl", ["--json"]),
            ("pretty", ["--format", "pretty", "--color", "always"]),
        ):
            wall, cpu = measure(fast, 0, *options)
            print(f"  {name:6s}  {wall:6.2f} s wall  {cpu:6.2f} s CPU  {total / wall:9,.0f} msg/s")
        gap = 0.05
        per_session = int(args.seconds / gap) + 1
        (folder / "paced").mkdir()
        paced = write_sessions(folder / "paced", args.sessions, per_session, gap)
        playback = (per_session - 1) * gap
        rate = args.sessions / gap
        print(
            f"pacing: {args.sessions} sessions × {1 / gap:.0f} msg/s = {rate:,.0f} msg/s "
            f"for {playback:.1f} s"
        )
        for name, options in (
            ("jsonl", ["--json"]),
            ("pretty", ["--format", "pretty", "--color", "always"]),
        ):
            wall, cpu = measure(paced, 1, *options)
            behind = wall - playback
            share = cpu / wall
            print(f"  {name:6s}  {wall:6.2f} s wall  behind {behind:5.2f} s  CPU {share:5.1%}")
            passed = behind <= 1.0 and share <= 0.5
            ok &= passed
            print(
                f"target {name} keeps up (behind ≤ 1 s, CPU ≤ 50 %): {'PASS' if passed else 'FAIL'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
