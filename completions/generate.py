"""Write the bash, zsh and fish completion scripts from the app: `python completions/generate.py`.

tests/test_completions.py fails when the committed scripts differ from what this produces.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHELLS = {"bash": "sesstail.bash", "zsh": "_sesstail", "fish": "sesstail.fish"}


def generate(shell: str) -> str:
    env = {**os.environ, "_SESSTAIL_COMPLETE": f"source_{shell}"}
    done = subprocess.run(
        [sys.executable, "-m", "sesstail"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main() -> None:
    for shell, name in SHELLS.items():
        (HERE / name).write_text(generate(shell))
        print(f"wrote completions/{name}")


if __name__ == "__main__":
    main()
