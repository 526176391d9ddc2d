"""Run one command and record its wall time, CPU time and peak RSS (used by common.run_child).

    python bench/launch.py RESULT_JSON STDOUT_PATH TIMEOUT_S -- ARGV...

STDOUT_PATH ``|pipe`` gives the command a pipe for stdout, which this process reads (and
throws away) as fast as it can, as a reader such as ``jq`` or ``head`` would.

Why a separate, small process: on Linux a child's ``ru_maxrss`` is at least the RSS high-water
mark of the process that spawned it (``vfork``/``posix_spawn`` share its memory until ``exec``,
and ``exec`` folds that mark into the child's). Spawned from the benchmark itself, a 10,000-message
run would report the benchmark's own peak. From this fresh interpreter the floor is ~10 MB, below
anything measured. The timing starts at the spawn, so this interpreter's start-up is not counted.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

PIPE = "|pipe"


def _drain(fd: int) -> None:
    while os.read(fd, 1 << 16):
        pass
    os.close(fd)


def main() -> None:
    result_path, stdout_path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    argv = sys.argv[sys.argv.index("--") + 1 :]
    reader: threading.Thread | None = None
    if stdout_path == PIPE:
        read_end, write_end = os.pipe()
        actions: list[tuple[object, ...]] = [
            (os.POSIX_SPAWN_DUP2, write_end, 1),
            (os.POSIX_SPAWN_CLOSE, read_end),
            (os.POSIX_SPAWN_CLOSE, write_end),
        ]
    else:
        actions = [
            (os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        ]
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    if stdout_path == PIPE:
        os.close(write_end)
        reader = threading.Thread(target=_drain, args=(read_end,), daemon=True)
        reader.start()

    def kill(signum: int, frame: object) -> None:
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, kill)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    _, status, usage = os.wait4(pid, 0)
    if reader is not None:
        reader.join(10)
    wall = time.perf_counter() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    result = {
        "wall": wall,
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "maxrss": usage.ru_maxrss,
        "code": os.waitstatus_to_exitcode(status),
    }
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
