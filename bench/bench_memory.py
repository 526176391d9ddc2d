"""Memory: peak RSS of ``sesstail watch --json`` over 1,000,000 messages against 10,000.

Each measurement is a fresh ``sesstail watch`` process (its ``ru_maxrss`` from ``os.wait4``,
the watcher alone) reading a fresh ``sesstail serve --speed 0 --end`` process; the server holds
the whole session in memory, which is not counted. Messages are small (~300 bytes) so that a
million of them fit in a reasonable file. Target: the difference ≤ 20 MB.

    python bench/bench_memory.py [--quick] [--long N] [--short N] [--rounds R]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import (
    Run,
    SessionFile,
    bare_client_argv,
    child_env,
    machine,
    median,
    megabytes,
    parser,
    run_child,
    say,
    serve,
    table,
    target_line,
    timed,
    verdict,
    warm_up,
    watch_argv,
    write_session,
)

TARGET_MB = 20.0


def measure(session: SessionFile, bare: bool = False) -> Run:
    with serve([session]) as server:
        if bare:
            argv = bare_client_argv(server.base_url, session.session_id)
        else:
            argv = watch_argv(server.base_url, session.session_id, "--json")
        return run_child(argv, child_env())


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--long", type=int, default=None, help="default 1,000,000 (quick: 100,000)")
    p.add_argument("--short", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    long_count = args.long or (100_000 if args.quick else 1_000_000)
    short_count = args.short

    with tempfile.TemporaryDirectory(prefix="sesstail-bench-") as tmp:
        directory = Path(tmp)
        say(f"generating {long_count:,} and {short_count:,} small messages in {directory}")
        long_file = timed(
            "generate", lambda: write_session(directory / "long.jsonl", long_count, small=True)
        )
        short_file = write_session(directory / "short.jsonl", short_count, small=True, seed=2)
        warm_up()
        runs: dict[int, list[Run]] = {short_count: [], long_count: []}
        for round_number in range(args.rounds):
            order = [short_file, long_file] if round_number % 2 == 0 else [long_file, short_file]
            for session in order:
                run = measure(session)
                runs[session.messages].append(run)
                say(
                    f"  round {round_number + 1}: {session.messages:,} messages: "
                    f"{megabytes(run.max_rss)} peak, {run.wall:.1f} s"
                )
        bare_short = measure(short_file, bare=True)
        bare_long = measure(long_file, bare=True)

    print(
        f"\nMemory: peak RSS of the watcher, `sesstail watch --json` to /dev/null, "
        f"median of {args.rounds} runs; {machine()}"
    )
    rows = []
    peaks: dict[int, float] = {}
    for session, bare_run in ((short_file, bare_short), (long_file, bare_long)):
        session_runs = runs[session.messages]
        peaks[session.messages] = median([r.max_rss for r in session_runs])
        wall = median([r.wall for r in session_runs])
        rows.append(
            [
                f"{session.messages:,}",
                megabytes(session.size),
                megabytes(peaks[session.messages]),
                ", ".join(megabytes(r.max_rss) for r in session_runs),
                f"{session.messages / wall:,.0f}",
                megabytes(bare_run.max_rss),
            ]
        )
    table(
        ["messages", "session size", "peak RSS", "runs", "msg/s", "bare client peak RSS"],
        rows,
    )
    growth = (peaks[long_count] - peaks[short_count]) / 2**20
    ok = growth <= TARGET_MB
    target_line(
        f"memory {long_count:,} − {short_count:,} messages ≤{TARGET_MB:g} MB: "
        f"{growth:.1f} MB {verdict(ok)}"
    )


if __name__ == "__main__":
    main()
