"""The memory of seen uuids: exact for a replay of any history up to its capacity, bounded
in memory however long the watch runs (README, Limits)."""

from __future__ import annotations

import itertools
import random
import time
import tracemalloc
from collections import OrderedDict

from conftest import SESSION, messages
from sesstail.protocol import SeenIds
from sesstail.server import Faults, ServedSession
from test_sessions import FAST, invoke, serving, uuids

CAPACITY = 262_144  # the default, as README's Limits states it
# The documented bounds (README, Limits) for a full default window: measured 6.1 MiB once
# full, 7.1 MiB at the peak of its last growth (old and new table side by side).
FULL_WINDOW_BYTES = int(6.5 * 2**20)
PEAK_BYTES = 8 * 2**20


def distinct_ids(count: int, prefix: str = "") -> list[str]:
    return [f"{prefix}{i:08x}-4c1e-4d7a-9e2f-1c3b4a01" for i in range(count)]


def test_a_replay_of_100000_ids_is_each_new_exactly_once() -> None:
    """100,000 ids, then the same 100,000 again (a whole replay): each is new once."""
    seen = SeenIds()
    ids = distinct_ids(100_000)
    assert all(seen.first_time(u) for u in ids)
    assert not any(seen.first_time(u) for u in ids)
    assert len(seen) == 100_000


def test_a_replay_as_long_as_the_window_is_exact_and_one_more_is_not() -> None:
    """The bound is the capacity: a history of exactly that many replays silently; past it,
    the oldest id is forgotten (so the documented bound is the real one)."""
    seen = SeenIds(1_000)
    ids = distinct_ids(1_001)
    assert all(seen.first_time(u) for u in ids[:1_000])
    assert not any(seen.first_time(u) for u in ids[:1_000])
    assert seen.first_time(ids[1_000])
    assert seen.first_time(ids[0])  # evicted by the one past the window


def test_a_full_default_window_stays_under_its_documented_memory() -> None:
    """262,144 ids fit in 6.5 MiB, and never took more than 8 MiB on the way there."""
    ids = distinct_ids(CAPACITY)
    tracemalloc.start()
    try:
        seen = SeenIds()
        for u in ids:
            seen.first_time(u)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen) == CAPACITY
    assert current <= FULL_WINDOW_BYTES
    assert peak <= PEAK_BYTES
    assert current >= 24 * CAPACITY  # the measurement did see the table and the ring


def test_memory_stays_bounded_after_three_times_the_capacity() -> None:
    """Past its capacity the window evicts: three times as many ids leave the same memory
    and the same length, and the first ids are new again."""
    capacity = 20_000
    ids = distinct_ids(3 * capacity)
    tracemalloc.start()
    try:
        seen = SeenIds(capacity)
        for u in itertools.islice(ids, capacity):
            seen.first_time(u)
        full, _ = tracemalloc.get_traced_memory()
        for u in itertools.islice(ids, capacity, None):
            assert seen.first_time(u)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen) == capacity
    assert after <= full + 4096
    assert peak <= 2 * full
    assert seen.first_time(ids[0])
    assert not seen.first_time(ids[-1])


def test_the_default_window_evicts_past_its_capacity() -> None:
    """The default window holds its 262,144 newest ids after three times as many, no more."""
    seen = SeenIds()
    ids = distinct_ids(3 * CAPACITY)
    for u in ids:
        seen.first_time(u)
    assert len(seen) == CAPACITY
    assert seen.first_time(ids[2 * CAPACITY - 1])  # one older than the window: forgotten
    assert not seen.first_time(ids[-1])


def test_first_time_matches_an_exact_fifo_window() -> None:
    """Against an ordered dict of the last N ids, for small and wrapping tables, with ids
    coming back often: same answers, same length (the table's removals lose nothing)."""
    rng = random.Random(5)
    for capacity in (1, 2, 3, 7, 31, 32, 33, 100, 1_000):
        seen = SeenIds(capacity)
        model: OrderedDict[str, None] = OrderedDict()
        pool = distinct_ids(3 * capacity + 5, prefix=f"{capacity}-")
        for _ in range(20_000):
            u = rng.choice(pool)
            expected = u not in model
            if expected:
                model[u] = None
                if len(model) > capacity:
                    model.popitem(last=False)
            assert seen.first_time(u) is expected
            assert len(seen) == len(model)


def test_v1_replay_of_100000_messages_after_a_drop_shows_each_once() -> None:
    """A v1 service that replays its whole history on reconnect, a history of 100,000 (the
    issue's figure; the old window held 65,536), dropped near the end: every uuid is shown
    exactly once."""
    count = 100_000
    served = ServedSession.from_objects(SESSION, messages(count))
    faults = Faults(drop_after=count - 10, replay_history=True, end_with_close=True)
    started = time.monotonic()
    with serving(served, faults=faults) as server:
        result = invoke(server, "watch", SESSION, "--json", "--api", "v1", *FAST)
        connections = server.connection_count
    assert result.exit_code == 0, result.stderr
    assert connections == 2  # dropped once, replayed once
    assert uuids(result.stdout) == [f"m{i}" for i in range(count)]
    assert time.monotonic() - started < 60
