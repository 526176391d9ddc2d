"""Start-up: ``sesstail --version`` and ``--help`` next to ``python -c pass``, and what they import.

TAB completion is a start-up too (the shell runs the CLI for each TAB): a session id from a
cache of 200 (the cache ``ls`` writes) and a ``-t`` type are timed beside them, against the
150 ms target.

Wall time is the median of N runs (spawn to exit, interleaved). The import check runs
``sesstail.cli.main([...])`` in a fresh interpreter and looks at ``sys.modules`` afterwards:
neither command may load ``websockets``, ``sesstail.render`` or ``rich``. ``python -c "import
typer"`` and ``sesstail watch --help`` are shown for reference, as is the slowest imports.

    python bench/bench_startup.py [--quick] [--runs N]
"""

from __future__ import annotations

import json
import subprocess
import tempfile

from common import (
    PYTHON,
    Run,
    child_env,
    machine,
    median,
    megabytes,
    parser,
    run_child,
    say,
    sesstail_argv,
    table,
    target_line,
    verdict,
    warm_up,
)

FORBIDDEN = ("websockets", "httpx", "sesstail.render", "rich", "textual")
# Shown, not judged: typer 0.29 builds its parameters with pydantic.
NOTED = ("pydantic",)
CHECKED_COMMANDS = (["--version"], ["--help"])
MARK = "@@modules@@"

_PROBE = """
import json, sys
from sesstail.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
sys.stdout.flush()
wanted = {wanted!r}
loaded = sorted(
    name for name in sys.modules if any(name == w or name.startswith(w + ".") for w in wanted)
)
print({mark!r} + json.dumps(loaded))
"""


def loaded_modules(argv: list[str]) -> list[str]:
    """The watched modules that ``sesstail <argv>`` leaves in ``sys.modules``."""
    code = _PROBE.format(argv=argv, wanted=FORBIDDEN + NOTED, mark=MARK)
    done = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, env=child_env(), check=True
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith(MARK))
    modules: list[str] = json.loads(line.removeprefix(MARK))
    return modules


def slowest_imports(argv: list[str], top: int = 6) -> list[tuple[str, float]]:
    """The top-level imports of ``sesstail <argv>`` by cumulative time (``-X importtime``)."""
    code = f"from sesstail.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
    )
    found: list[tuple[str, float]] = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # top level only
            found.append((name.strip(), int(parts[1]) / 1000))
    return sorted(found, key=lambda item: -item[1])[:top]


COMPLETION_TARGET_MS = 150


def completion_env(cache: str, words: str) -> dict[str, str]:
    """What bash sets for TAB after ``words``, with the completion cache in ``cache``."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return child_env(
        XDG_CACHE_HOME=cache,
        _SESSTAIL_COMPLETE="complete_bash",
        COMP_WORDS=words,
        COMP_CWORD=str(cword),
    )


def fill_cache(cache: str, base_url: str) -> None:
    """200 cached sessions, fresh, as `sesstail ls` would leave them."""
    code = (
        "import sys; from sesstail.completion import remember; "
        "remember(sys.argv[1], [{'id': f'session_01Bench{n:04d}', 'title': f'task {n}'} "
        "for n in range(200)])"
    )
    subprocess.run([PYTHON, "-c", code, base_url], env=child_env(XDG_CACHE_HOME=cache), check=True)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=None, help="runs per command (default 10)")
    args = p.parse_args()
    runs = args.runs or (3 if args.quick else 10)

    cache = tempfile.mkdtemp(prefix="sesstail-completion-")
    base_url = "http://127.0.0.1:9"
    fill_cache(cache, base_url)
    tab_session = "TAB: watch SESSION (200 cached)"
    tab_type = "TAB: watch -t TYPE"
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -c pass": ([PYTHON, "-c", "pass"], child_env()),
        'python -c "import typer"': ([PYTHON, "-c", "import typer"], child_env()),
        "sesstail --version": ([*sesstail_argv(), "--version"], child_env()),
        "sesstail --help": ([*sesstail_argv(), "--help"], child_env()),
        "sesstail watch --help": ([*sesstail_argv(), "watch", "--help"], child_env()),
        tab_session: (
            sesstail_argv(),
            completion_env(cache, f"sesstail watch --base-url {base_url} session_01Bench01"),
        ),
        tab_type: (sesstail_argv(), completion_env(cache, "sesstail watch X -t res")),
    }
    warm_up()
    results: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (argv, env) in commands.items():
            results[name].append(run_child(argv, env))
    say(f"  {runs} runs of each command done")

    floor = median([r.wall for r in results["python -c pass"]])
    print(f"\nStart-up: wall time spawn to exit, median of {runs} runs; {machine()}")
    rows = []
    for name, measured in results.items():
        wall = median([r.wall for r in measured])
        rows.append(
            [
                name,
                f"{wall * 1000:.0f}",
                f"{min(r.wall for r in measured) * 1000:.0f}",
                f"+{(wall - floor) * 1000:.0f}",
                megabytes(median([r.max_rss for r in measured])),
            ]
        )
    table(["command", "median ms", "min ms", "over python -c pass, ms", "peak RSS"], rows)

    print("\nslowest top-level imports of `sesstail --version` (-X importtime, one run):")
    for name, ms in slowest_imports(["--version"]):
        print(f"  {ms:7.1f} ms  {name}")

    print("\nmodules loaded by `sesstail.cli.main([...])`:")
    checks: list[tuple[str, bool]] = []
    for argv in [*CHECKED_COMMANDS, ["watch", "--help"]]:
        modules = loaded_modules(argv)
        tops = sorted({m for m in modules if m in FORBIDDEN + NOTED})
        tops += sorted({m for m in modules if m.startswith("sesstail.render")} - set(tops))
        shown = ", ".join(tops) or "none of " + ", ".join(FORBIDDEN + NOTED)
        print(f"  sesstail {' '.join(argv)}: {shown}")
        if argv in CHECKED_COMMANDS:
            for forbidden in FORBIDDEN:
                hit = any(m == forbidden or m.startswith(forbidden + ".") for m in modules)
                checks.append((f"`sesstail {' '.join(argv)}` does not import {forbidden}", not hit))
    for name in (tab_session, tab_type):
        wall = median([r.wall for r in results[name]]) * 1000
        checks.append((f"{name} in {wall:.0f} ms, under {COMPLETION_TARGET_MS} ms", wall < 150))
    print()
    for text, ok in checks:
        target_line(f"{text}: {verdict(ok)}")


if __name__ == "__main__":
    main()
