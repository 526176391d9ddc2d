"""JSONL throughput: ``sesstail watch --json`` against a bare client of the same API, same run.

v1: ``watch --api v1 --json`` against a bare websockets client; v2: ``watch --api v2 --json``
against a bare SSE reader (httpx + httpx-sse, orjson). Both clients read the same session
from ``sesstail serve --speed 0 --end`` (a fresh server process per measurement) and write
to /dev/null. Each measurement is a whole process, spawn to
exit; a run over a one-message session on the same server measures the fixed cost (interpreter,
imports, connect, close), and "streaming" is the difference. Rounds alternate the order of the
clients; the medians are reported. Target: sesstail's process time ≤ 1.25× the baseline's.

    python bench/bench_jsonl.py [--api v1|v2|both] [--quick] [--messages N] [--rounds R]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import (
    Client,
    SessionFile,
    bare_client_argv,
    bare_sse_client_argv,
    child_env,
    clients_table,
    machine,
    measure_rounds,
    megabytes,
    parser,
    run_child,
    say,
    serve,
    target_line,
    timed,
    verdict,
    warm_up,
    watch_argv,
    write_session,
    write_tiny_session,
)

TARGET_RATIO = 1.25


def sesstail_jsonl(api: str) -> Callable[[str, str], list[str]]:
    def argv(base_url: str, session_id: str) -> list[str]:
        return watch_argv(base_url, session_id, "--json", "--api", api)

    return argv


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def check_output(clients: list[Client], big: SessionFile, directory: Path) -> list[str]:
    """One untimed run per client into a file: every message arrives, one line each."""
    problems = []
    for client in clients:
        out = directory / "output.jsonl"
        with serve([big]) as server:
            argv = client.argv(server.base_url, big.session_id)
            run_child(argv, child_env(), stdout_path=str(out))
        lines = count_lines(out)
        if lines != big.messages:
            problems.append(f"{client.name} wrote {lines:,} lines, expected {big.messages:,}")
        out.unlink()
    return problems


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--api", choices=("v1", "v2", "both"), default="both")
    p.add_argument(
        "--sink",
        choices=("devnull", "pipe", "both"),
        default="both",
        help="stdout to /dev/null, to a pipe read by another process, or both",
    )
    p.add_argument("--messages", type=int, default=None, help="default 100,000 (quick: 10,000)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-check", action="store_true", help="skip the output line-count check")
    args = p.parse_args()
    count = args.messages or (10_000 if args.quick else 100_000)
    apis = ["v1", "v2"] if args.api == "both" else [args.api]
    with tempfile.TemporaryDirectory(prefix="sesstail-bench-") as tmp:
        directory = Path(tmp)
        say(f"generating {count:,} messages in {directory}")
        big = timed("generate", lambda: write_session(directory / "mixed.jsonl", count))
        tiny = write_tiny_session(directory)
        warm_up()
        sinks = ["devnull", "pipe"] if args.sink == "both" else [args.sink]
        for api in apis:
            for sink in sinks:
                measure_api(
                    api, big, tiny, directory, count, args.rounds, sink, check=not args.no_check
                )


def measure_api(
    api: str,
    big: SessionFile,
    tiny: SessionFile,
    directory: Path,
    count: int,
    rounds: int,
    sink: str,
    *,
    check: bool,
) -> None:
    baseline = (
        Client("bare websockets client", bare_client_argv)
        if api == "v1"
        else Client("bare SSE reader (httpx-sse)", bare_sse_client_argv)
    )
    clients = [Client(f"sesstail watch --api {api} --json", sesstail_jsonl(api)), baseline]
    measure_rounds(clients, big, tiny, rounds, "|pipe" if sink == "pipe" else os.devnull)
    problems = check_output(clients, big, directory) if check and sink == "devnull" else []

    ours, bare = clients
    print(
        f"\nJSONL throughput, API {api}: {count:,} messages ({megabytes(big.size)}, "
        f"{big.size / count:.0f} B/message) to {'a pipe' if sink == 'pipe' else '/dev/null'}, "
        f"median of {rounds} rounds; "
        f"{machine()}"
    )
    clients_table(clients, count)
    server = bare.server()
    if server is not None and bare.process() < 1.2 * server:
        print(
            f"note: the baseline takes about as long as the server needs to send "
            f"({server:.2f} s of server CPU): it shows the server's pace as much as its own"
        )
    process_ratio = ours.process() / bare.process()
    streaming_ratio = ours.streaming() / bare.streaming()
    cpu_ratio = ours.cpu() / bare.cpu()
    print(
        f"\nratios sesstail/bare ({api}): process {process_ratio:.2f}×, "
        f"streaming (process − 1-message run) {streaming_ratio:.2f}×, CPU {cpu_ratio:.2f}×"
    )
    for problem in problems:
        print(f"output check FAILED: {problem}")
    if check and sink == "devnull" and not problems:
        print(f"output check: both clients wrote {count:,} lines")
    ok = process_ratio <= TARGET_RATIO and not problems
    target_line(
        f"jsonl {api} to {sink} ≤{TARGET_RATIO}× baseline: {process_ratio:.2f}× {verdict(ok)}"
    )


if __name__ == "__main__":
    main()
