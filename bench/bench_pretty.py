"""Pretty throughput: ``sesstail watch --format pretty --color always`` to /dev/null.

The same session and server as the JSONL benchmark (a fresh ``sesstail serve --speed 0 --end``
process per round), rendered for a 100-column terminal with colour. Reported: messages per
second over the whole process (spawn to exit) and over streaming alone (minus a one-message
run on the same server). Target: ≥ 3,000 msg/s over the whole process.

    python bench/bench_pretty.py [--quick] [--messages N] [--rounds R]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import (
    Client,
    child_env,
    clients_table,
    machine,
    measure_rounds,
    megabytes,
    parser,
    say,
    target_line,
    timed,
    verdict,
    warm_up,
    watch_argv,
    write_session,
    write_tiny_session,
)

TARGET_RATE = 3_000
PRETTY = ("--format", "pretty", "--color", "always")


def sesstail_pretty(base_url: str, session_id: str) -> list[str]:
    return watch_argv(base_url, session_id, *PRETTY)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--messages", type=int, default=None, help="default 100,000 (quick: 10,000)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    count = args.messages or (10_000 if args.quick else 100_000)

    # A fixed terminal size: rich would otherwise fall back to 80 columns, or read COLUMNS.
    terminal = child_env(COLUMNS="100", LINES="40")
    pretty = Client("sesstail watch --format pretty --color always", sesstail_pretty, terminal)
    with tempfile.TemporaryDirectory(prefix="sesstail-bench-") as tmp:
        directory = Path(tmp)
        say(f"generating {count:,} messages in {directory}")
        big = timed("generate", lambda: write_session(directory / "mixed.jsonl", count))
        tiny = write_tiny_session(directory)
        warm_up()
        measure_rounds([pretty], big, tiny, args.rounds)

    print(
        f"\nPretty throughput: {count:,} messages ({megabytes(big.size)}, "
        f"{big.size / count:.0f} B/message), 100 columns, colour, to /dev/null, "
        f"median of {args.rounds} rounds; {machine()}"
    )
    rate = count / pretty.process()
    clients_table([pretty], count)
    per_message = pretty.streaming() / count * 1e6
    print(f"\nabout {per_message:.0f} µs per message while streaming")
    target_line(f"pretty ≥{TARGET_RATE:,} msg/s: {rate:,.0f} msg/s {verdict(rate >= TARGET_RATE)}")


if __name__ == "__main__":
    main()
