"""Run every benchmark in turn and sum up their targets.

    python bench/run_all.py [--quick]

Each benchmark runs as its own process with this interpreter; its output passes through, and
the ``target …`` lines are repeated at the end. Exits 1 if any target failed.
"""

from __future__ import annotations

import subprocess
import sys
import time

from common import BENCH_DIR, PYTHON, machine, parser

BENCHMARKS = ("bench_startup.py", "bench_jsonl.py", "bench_pretty.py", "bench_memory.py")


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    extra = ["--quick"] if args.quick else []
    targets: list[str] = []
    failed = False
    print(f"sesstail benchmarks on {machine()}{' (quick)' if args.quick else ''}", flush=True)
    for name in BENCHMARKS:
        print(f"\n## {name}", flush=True)
        start = time.perf_counter()
        with subprocess.Popen(
            [PYTHON, str(BENCH_DIR / name), *extra], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                if line.startswith("target "):
                    targets.append(line.rstrip("\n"))
        took = time.perf_counter() - start
        print(f"({name} took {took:.0f} s, exit {proc.returncode})", flush=True)
        if proc.returncode != 0:
            failed = True
            targets.append(f"target {name} completed: exit {proc.returncode} FAIL")
    print("\n## summary")
    for line in targets:
        print(line)
    failed = failed or any(line.endswith(" FAIL") for line in targets)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
