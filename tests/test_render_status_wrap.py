"""Status lines on stderr: wrapped on words at a terminal's width, one line anywhere else."""

from __future__ import annotations

import io
import sys
import time
from typing import Any

import pytest
import typer

from sesstail.cli.app import run
from sesstail.errors import SesstailError
from sesstail.output import StatusReporter, wrap_words
from sesstail.secrets import Secret

LONG = (
    "connection lost (1006, no close frame); reconnecting in 2.0 s to "
    "wss://sessions.example.com/v1/sessions/session_01DemoSesstailWalkthrough/subscribe"
    " after 3 attempts"
)


class Terminal(io.StringIO):
    """stderr as a terminal."""

    def isatty(self) -> bool:
        return True


def lines_for(text: str, width: int, **options: bool) -> list[str]:
    err = Terminal()
    StatusReporter(err, width=width, **options).line(text)
    return err.getvalue().splitlines()


@pytest.mark.parametrize("width", [60, 120])
def test_a_long_status_line_wraps_on_words_under_the_text(width: int) -> None:
    """At 60 and 120 columns no line is wider than the terminal, none breaks a word, and the
    continuation lines start under the text, after "sesstail: "."""
    lines = lines_for(LONG, width)
    assert lines[0].startswith("sesstail: connection lost")
    assert all(len(line) <= width for line in lines)
    assert all(line.startswith(" " * 10) and line[10] != " " for line in lines[1:])
    words = [line.strip() for line in lines]
    words[0] = words[0].removeprefix("sesstail: ")
    # Every word that fits a line is whole on one line.
    for word in LONG.split():
        if len(word) <= width - 10:
            assert any(word in line.split() for line in words), word


def test_at_120_columns_the_line_and_the_url_fit_in_two_rows() -> None:
    """A word that fits is never cut: at 120 columns the URL stays whole."""
    lines = lines_for(LONG, 120)
    url = next(word for word in LONG.split() if word.startswith("wss://"))
    assert len(lines) == 2
    assert any(url in line for line in lines)


def test_at_60_columns_a_word_wider_than_the_line_is_cut_hard() -> None:
    """The URL (wider than 50 columns) is cut at the width; its pieces put back give it whole."""
    lines = lines_for(LONG, 60)
    url = next(word for word in LONG.split() if word.startswith("wss://"))
    at = next(number for number, line in enumerate(lines) if "wss://" in line)
    assert len(lines[at]) == 60
    head = lines[at].strip()
    tail = lines[at + 1].strip().split(" ")[0]
    assert head + tail == url


def test_not_a_terminal_keeps_one_line_whatever_the_width() -> None:
    """Piped stderr gets one line per event, so that scripts can grep it."""
    err = io.StringIO()
    StatusReporter(err, width=60).line(LONG)
    assert err.getvalue() == f"sesstail: {LONG}\n"


def test_wrapped_lines_stay_escaped_and_redacted() -> None:
    """Wrapping comes after the escaping: control characters stay visible, tokens redacted."""
    secret = "sk-ant-sid01-" + "Q" * 40
    Secret(secret)
    lines = lines_for(f"closed: {secret} \x1b[31mred\x1b[0m and a\nforged line " * 3, 60)
    text = "\n".join(lines)
    assert "\x1b" not in text
    assert "\\x1b[31mred" in text
    assert secret not in text
    assert not any(line.startswith("sesstail: ") for line in lines[1:])


def test_short_lines_and_timestamps_stay_on_one_row() -> None:
    """A line that fits is written as before, the time in front of the text."""
    assert lines_for("connected", 60) == ["sesstail: connected"]
    stamp = time.strftime("%H:%M")
    (line,) = lines_for("connected", 60, timestamps=True)
    assert line.startswith("sesstail: " + stamp)


def test_wrap_is_linear_on_hostile_text() -> None:
    """Long runs of blanks or one huge word wrap in one pass (no super-linear pattern)."""
    started = time.perf_counter()
    for text in (" " * 200_000 + "x", "y" * 200_000, "a " * 100_000):
        lines = wrap_words(text, 50)
        assert all(len(line) <= 50 for line in lines)
    assert time.perf_counter() - started < 2


def test_wide_characters_count_two_columns() -> None:
    """CJK text is measured in cells, so a wrapped line does not spill over the terminal."""
    lines = wrap_words("漢字 " * 40, 20)
    assert all(len(line) * 2 - line.count(" ") <= 20 for line in lines)
    assert len(lines) > 1


@pytest.mark.parametrize("width", [120, 60])
def test_the_final_error_and_hint_wrap_like_status_lines(width: int, monkeypatch: Any) -> None:
    """The error a command ends with (and its hint) wraps between words on a terminal, under
    the text after "sesstail: ", at 120 and 60 columns; into a pipe it stays one line."""
    message = (
        "session session_01NopeNopeNope not found (code 4001, session not found; the history "
        "endpoint does not know it either)"
    )

    def fail() -> int:
        raise SesstailError(message, hint="check the id with `sesstail ls`, or the org with --org")

    monkeypatch.setenv("COLUMNS", str(width))
    for err, wrapped in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", err)
        with pytest.raises(typer.Exit):
            run(fail)
        lines = err.getvalue().splitlines()
        if not wrapped or width == 120:
            assert lines[0].startswith("sesstail: error: session session_01Nope")
        if not wrapped:
            assert len(lines) == 2
            continue
        assert all(len(line) <= width for line in lines), lines
        continued = [line for line in lines if not line.startswith("sesstail: ")]
        assert all(line.startswith(" " * 10) and line[10] != " " for line in continued)
        flat = " ".join(line.strip() for line in lines)
        assert f"sesstail: error: {message} sesstail: hint: check the id" in flat
        assert len(lines) == (3 if width == 120 else 5)
