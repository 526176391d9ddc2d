"""`sesstail interrupt` round trip against the embedded server, process start to exit.

Compared with `python -c pass` (the interpreter alone) and a bare `websockets` client that
connects with the same headers, sends the same request and waits for its answer. The target
is sesstail within 1.5x of the bare client.

    python bench/bench_interrupt.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import child_env
from sesstail.server import ServedSession, SessionsServer
from sesstail.server.thread import server_thread

SESSION = "session_01BenchInterrupt"
ORG = "11111111-2222-4333-8444-555555555555"
TOKEN = "bench-token-not-a-secret"

BARE_CLIENT = """
import asyncio, json, sys, uuid
from websockets.asyncio.client import connect

async def main(url):
    request_id = str(uuid.uuid4())
    async with connect(
        url,
        additional_headers={"Authorization": "Bearer " + sys.argv[2],
                            "anthropic-version": "2023-06-01"},
        compression=None,
        proxy=None,
        max_size=None,
    ) as ws:
        await ws.send(json.dumps({"type": "control_request", "request_id": request_id,
                                  "request": {"subtype": "interrupt"}}))
        async for frame in ws:
            obj = json.loads(frame)
            if obj.get("type") == "control_response" and \\
                    obj["response"].get("request_id") == request_id:
                print("interrupted")
                return

asyncio.run(main(sys.argv[1]))
"""


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    # As a user's shell has it: bytecode cached (some sandboxes set PYTHONDONTWRITEBYTECODE,
    # which would make sesstail compile its modules at every start), no proxies.
    env = child_env(CLAUDE_CODE_OAUTH_TOKEN=TOKEN)
    sesstail = shutil.which("sesstail", path=os.path.dirname(sys.executable)) or "sesstail"
    served = ServedSession.from_objects(
        SESSION, [{"type": "system", "subtype": "init", "uuid": "i0", "session_id": SESSION}]
    )
    with server_thread(SessionsServer([served], speed=0, token=TOKEN, org=ORG)) as srv:
        url = (
            f"ws://127.0.0.1:{srv.port}/v1/sessions/ws/{SESSION}/subscribe?organization_uuid={ORG}"
        )
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "bare websockets client": [sys.executable, "-c", BARE_CLIENT, url, TOKEN],
            "sesstail interrupt --api v1": [
                sesstail, "interrupt", SESSION, "--base-url", srv.base_url, "--org", ORG,
                "--api", "v1",
            ],
            "sesstail interrupt (auto: v2)": [
                sesstail, "interrupt", SESSION, "--base-url", srv.base_url, "--org", ORG,
            ],
        }  # fmt: skip
        for argv in cases.values():  # warm the page cache and .pyc files
            timed(argv, env)
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):  # interleaved, so drifts hit every case alike
            for name, argv in cases.items():
                results[name].append(timed(argv, env))
    print(f"{'':32} {'median':>9} {'min':>9}   ({args.runs} runs each)")
    for name, times in results.items():
        print(f"{name:32} {statistics.median(times) * 1000:7.0f} ms {min(times) * 1000:6.0f} ms")
    bare = statistics.median(results["bare websockets client"])
    ratio = statistics.median(results["sesstail interrupt --api v1"]) / bare
    print(f"sesstail --api v1 / bare client: {ratio:.2f}x (target <= 1.5x)")
    auto = statistics.median(results["sesstail interrupt (auto: v2)"]) / bare
    print(f"sesstail auto (v2: probe, stream, POST, answer) / bare v1 client: {auto:.2f}x")


if __name__ == "__main__":
    main()
