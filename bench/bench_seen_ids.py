"""The memory of seen uuids (``SeenIds``): memory and time of ``first_time`` against a plain
``set`` of hashes with a ``deque`` (the design it replaced), at the default 262,144 window.

In-process, no server: each structure takes the window full of new ids, the same ids again
(a whole replay), then twice the window more (eviction). Memory is tracemalloc's, current and
peak; time is per call. Targets: a full window ≤ 8 MB at its peak, and ``first_time`` on a new
id ≤ 1 µs (a message costs ~13 µs in ``watch --json``, so that is under 10% of it).

    python bench/bench_seen_ids.py [--quick] [--rounds R]
"""

from __future__ import annotations

import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Sequence

from common import machine, median, megabytes, parser, say, table, target_line, verdict
from sesstail.protocol import SeenIds

CAPACITY = 262_144
TARGET_PEAK_MB = 8.0
TARGET_NEW_NS = 1_000.0


class SetWindow:
    """The former ``SeenIds``: a set of 64-bit hashes and a deque of them, oldest first."""

    __slots__ = ("_order", "_seen", "capacity")

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._seen: set[int] = set()
        self._order: deque[int] = deque()

    def first_time(self, message_uuid: str) -> bool:
        key = hash(message_uuid)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())
        return True


def ids(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:07x}-31f4-4c1e-9d7a-5e2f1c3b4a01" for i in range(count)]


def per_call_ns(first_time: Callable[[str], bool], batch: Sequence[str]) -> float:
    start = time.perf_counter()
    for message_uuid in batch:
        first_time(message_uuid)
    return (time.perf_counter() - start) / len(batch) * 1e9


def measure(make: Callable[[int], SeenIds | SetWindow], capacity: int) -> dict[str, float]:
    window = ids(capacity, "a")
    later = ids(2 * capacity, "b")
    tracemalloc.start()
    try:
        seen = make(capacity)
        for message_uuid in window:
            seen.first_time(message_uuid)
        full, peak = tracemalloc.get_traced_memory()
        for message_uuid in later:
            seen.first_time(message_uuid)
        churned, churn_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seen = make(capacity)  # timings without tracemalloc, which slows every allocation
    return {
        "full": full,
        "peak": max(peak, churn_peak),
        "churned": churned,
        "fill_ns": per_call_ns(seen.first_time, window),
        "replay_ns": per_call_ns(seen.first_time, window),
        "evict_ns": per_call_ns(seen.first_time, later),
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    capacity = CAPACITY // 8 if args.quick else CAPACITY
    makers: dict[str, Callable[[int], SeenIds | SetWindow]] = {
        "SeenIds (arrays)": SeenIds,
        "set + deque": SetWindow,
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in makers}
    for round_number in range(args.rounds):
        for name, make in makers.items():
            results[name].append(measure(make, capacity))
        say(f"  round {round_number + 1} of {args.rounds} done")

    print(f"\nSeenIds, a window of {capacity:,} ids, median of {args.rounds} rounds; {machine()}")
    summary = {
        name: {key: median([r[key] for r in runs]) for key in runs[0]}
        for name, runs in results.items()
    }
    table(
        [
            "structure",
            "full",
            "peak",
            "after 3× window",
            "new id ns",
            "replayed id ns",
            "evicting ns",
        ],
        [
            [
                name,
                megabytes(s["full"]),
                megabytes(s["peak"]),
                megabytes(s["churned"]),
                f"{s['fill_ns']:.0f}",
                f"{s['replay_ns']:.0f}",
                f"{s['evict_ns']:.0f}",
            ]
            for name, s in summary.items()
        ],
    )
    ours, baseline = summary["SeenIds (arrays)"], summary["set + deque"]
    print(
        f"ratio SeenIds / set+deque: memory {ours['peak'] / baseline['peak']:.2f}×, "
        f"new id {ours['fill_ns'] / baseline['fill_ns']:.2f}×, "
        f"replayed id {ours['replay_ns'] / baseline['replay_ns']:.2f}×, "
        f"evicting {ours['evict_ns'] / baseline['evict_ns']:.2f}×"
    )
    peak_mb = ours["peak"] / 2**20
    target_line(
        f"SeenIds full window peak ≤{TARGET_PEAK_MB:g} MB: {peak_mb:.1f} MB "
        f"{verdict(peak_mb <= TARGET_PEAK_MB)}"
    )
    slowest = max(ours["fill_ns"], ours["evict_ns"])
    target_line(
        f"SeenIds first_time on a new id ≤{TARGET_NEW_NS:g} ns: {slowest:.0f} ns "
        f"{verdict(slowest <= TARGET_NEW_NS)}"
    )


if __name__ == "__main__":
    main()
