"""Shell completion: the committed scripts are current, and completion answers for real."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "completions" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_completion_scripts_are_current(shell: str) -> None:
    """completions/ holds exactly what the app generates (regenerate: completions/generate.py)."""
    generator = _generator()
    committed = (ROOT / "completions" / generator.SHELLS[shell]).read_text()
    assert committed == generator.generate(shell), "run: python completions/generate.py"


def test_committed_completion_table_is_current() -> None:
    """The table the quick TAB path reads is what the command line says (regenerate:
    completions/generate.py)."""
    generator = _generator()
    assert generator.TABLE.read_text() == generator.table(), "run: python completions/generate.py"


def test_bash_completion_offers_commands_and_options() -> None:
    """TAB after `sesstail wa` offers watch; after `watch ID --for` offers --format."""

    def complete(words: str, cword: int) -> list[str]:
        env = {
            **os.environ,
            "_SESSTAIL_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        }
        done = subprocess.run(
            [sys.executable, "-m", "sesstail"], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.split()

    assert "watch" in complete("sesstail wa", 1)
    assert "--format" in complete("sesstail watch session_01X --for", 3)
    assert complete("sesstail watch session_01X --format ", 4) == ["pretty", "jsonl", "json"]
