"""Plain output: colour choice, JSON lines on stdout, status lines on stderr."""

from __future__ import annotations

import io
import os
import re

import pytest

from sesstail.output import JsonlWriter, StatusReporter, want_color
from sesstail.protocol import Message, parse_frame


class TtyStream(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class FlushCounter(io.StringIO):
    """A text stream that counts flushes and records what was written at each one."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[str] = []

    def flush(self) -> None:
        self.flushed_at.append(self.getvalue())
        super().flush()


# --- want_color --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env", [{}, {"NO_COLOR": "1"}, {"TERM": "dumb"}, {"NO_COLOR": "1", "TERM": "dumb"}]
)
def test_color_always_is_on_whatever_the_env(env: dict[str, str]) -> None:
    """--color always colours even a non-tty with NO_COLOR or TERM=dumb."""
    assert want_color("always", io.StringIO(), env)


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}, {"TERM": "xterm-256color"}])
def test_color_never_is_off_whatever_the_env(env: dict[str, str]) -> None:
    """--color never is off even on a tty with FORCE_COLOR."""
    assert not want_color("never", TtyStream(), env)


def test_auto_non_tty_is_off() -> None:
    """auto on a stream that is not a terminal is off."""
    assert not want_color("auto", io.StringIO(), {"TERM": "xterm-256color"})


def test_auto_tty_is_on() -> None:
    """auto on a terminal with nothing set is on."""
    assert want_color("auto", TtyStream(), {"TERM": "xterm-256color"})


def test_auto_no_color_wins_over_tty_and_force_color() -> None:
    """NO_COLOR turns auto off, even on a tty and with FORCE_COLOR."""
    assert not want_color("auto", TtyStream(), {"NO_COLOR": "1"})
    assert not want_color("auto", TtyStream(), {"NO_COLOR": "1", "FORCE_COLOR": "1"})


def test_auto_empty_no_color_is_ignored() -> None:
    """An empty NO_COLOR does not count as set."""
    assert want_color("auto", TtyStream(), {"NO_COLOR": ""})


def test_auto_force_color_on_non_tty() -> None:
    """FORCE_COLOR turns auto on for a non-tty stream, even with TERM=dumb."""
    assert want_color("auto", io.StringIO(), {"FORCE_COLOR": "1"})
    assert want_color("auto", io.StringIO(), {"FORCE_COLOR": "1", "TERM": "dumb"})


def test_auto_term_dumb_is_off_on_a_tty() -> None:
    """TERM=dumb turns auto off on a terminal."""
    assert not want_color("auto", TtyStream(), {"TERM": "dumb"})


def test_auto_closed_stream_is_off() -> None:
    """A closed stream (isatty raises ValueError) is not coloured."""
    stream = io.StringIO()
    stream.close()
    assert not want_color("auto", stream, {})


def test_auto_reads_os_environ_when_env_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit env, NO_COLOR is read from the process environment."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert not want_color("auto", TtyStream())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert want_color("auto", io.StringIO())


# --- JsonlWriter -------------------------------------------------------------------------------


def test_jsonl_writer_writes_each_line_exactly() -> None:
    """Each message is written as its line plus one newline, nothing else."""
    out = io.StringIO()
    writer = JsonlWriter(out)
    lines = ['{"type":"user", "uuid" : "a"}', '{"type":"assistant","text":"é \\u001b"}']
    for line in lines:
        writer.message(Message(line, {}, 0.0))
    writer.close()
    assert out.getvalue() == lines[0] + "\n" + lines[1] + "\n"


def test_jsonl_writer_keeps_the_received_line_byte_for_byte() -> None:
    """A parsed one-line frame goes out unchanged (spacing and key order kept)."""
    frame = '{ "uuid":"u1",  "type":"result", "n":1.50, "big":123456789012345678901234567890 }'
    (msg,) = list(parse_frame(frame, 0.0))
    assert isinstance(msg, Message)
    out = io.StringIO()
    JsonlWriter(out).message(msg)
    assert out.getvalue() == frame.strip() + "\n"


def test_jsonl_writer_flushes_every_line() -> None:
    """The stream is flushed after each line, so a pipe sees messages as they come."""
    out = FlushCounter()
    writer = JsonlWriter(out)
    writer.message(Message('{"type":"a"}', {}, 0.0))
    writer.message(Message('{"type":"b"}', {}, 0.0))
    assert out.flushed_at[-2:] == ['{"type":"a"}\n', '{"type":"a"}\n{"type":"b"}\n']


def test_jsonl_writer_on_a_pipe_delivers_each_line_at_once() -> None:
    """On a real file descriptor each line reaches the reader before the next is written."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as out, os.fdopen(read_fd, "rb", buffering=0) as reader:
        writer = JsonlWriter(out)
        writer.message(Message('{"type":"a","t":"caf\u00e9 \ud800"}', {}, 0.0))
        assert reader.read(4096) == '{"type":"a","t":"caf\u00e9 \ud800"}\n'.encode(
            "utf-8", "surrogatepass"
        )
        writer.message(Message('{"type":"b"}', {}, 0.0))
        assert reader.read(4096) == b'{"type":"b"}\n'


# --- StatusReporter ----------------------------------------------------------------------------


def report(text: str, verbose_only: bool, **options: bool) -> str:
    err = io.StringIO()
    StatusReporter(err, **options)(text, verbose_only)
    return err.getvalue()


def test_normal_line_is_shown_with_prefix() -> None:
    """A normal status line is written as "sesstail: text\\n"."""
    assert report("connected", False) == "sesstail: connected\n"


def test_verbose_only_line_hidden_unless_verbose() -> None:
    """verbose-only lines appear with verbose and not without."""
    assert report("ping", True) == ""
    assert report("ping", True, verbose=True) == "sesstail: ping\n"


def test_quiet_hides_normal_lines() -> None:
    """quiet hides normal status lines."""
    assert report("reconnecting", False, quiet=True) == ""


def test_quiet_hides_verbose_lines_too() -> None:
    """quiet with verbose shows no status line at all (never fewer normal than verbose lines)."""
    assert report("reconnecting", False, quiet=True, verbose=True) == ""
    assert report("ping", True, quiet=True, verbose=True) == ""


def test_line_is_written_even_when_quiet() -> None:
    """line() (used for errors) is written whatever quiet says."""
    err = io.StringIO()
    StatusReporter(err, quiet=True).line("cannot connect")
    assert err.getvalue() == "sesstail: cannot connect\n"


@pytest.mark.parametrize(
    "text",
    [
        "\x1b[31mred\x1b[0m",
        "close reason: \x1b]0;owned\x07",
        "two\nlines",
        "carriage\rreturn",
        "bell\x07 back\x08 del\x7f",
        "c1 \x9b31m csi",
        "nul\x00byte",
    ],
)
def test_control_characters_never_reach_the_stream(text: str) -> None:
    """C0/C1 controls and DEL in status text are replaced; one line, prefixed."""
    out = report(text, False)
    assert out.startswith("sesstail: ")
    assert out.endswith("\n")
    body = out[:-1]
    assert "\n" not in body
    assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", body)


def test_printable_text_and_tabs_are_unchanged() -> None:
    """Printable text (including non-ASCII) and tabs pass through as is."""
    assert report("naïve ✓\tok [bold]x[/]", False) == "sesstail: naïve ✓\tok [bold]x[/]\n"


def test_every_line_starts_with_the_program_name() -> None:
    """Every status line, timestamped or not, starts with "sesstail: "."""
    err = io.StringIO()
    reporter = StatusReporter(err, verbose=True, timestamps=True)
    reporter("one", False)
    reporter("two", True)
    reporter.line("three")
    lines = err.getvalue().splitlines()
    assert len(lines) == 3
    for line, word in zip(lines, ["one", "two", "three"], strict=True):
        assert re.fullmatch(rf"sesstail: \d\d:\d\d:\d\d {word}", line)


def test_color_dims_the_line_but_remote_escapes_still_removed() -> None:
    """With colour, only our own dim/reset codes appear; remote ESC is still replaced."""
    err = io.StringIO()
    StatusReporter(err, color=True)("\x1b[31mred", False)
    assert err.getvalue() == "\x1b[2msesstail: \\x1b[31mred\x1b[0m\n"


def test_closed_stream_does_not_raise() -> None:
    """Writing status to a closed stderr is silently dropped."""
    err = io.StringIO()
    err.close()
    StatusReporter(err).line("late message")


def test_status_lines_escape_bidi_overrides_and_stay_on_one_line() -> None:
    """A close reason with a bidi override or a newline can neither reorder nor split a line."""
    err = io.StringIO()
    StatusReporter(err)("closed: \u202eevil\nsecond", False)
    assert err.getvalue() == "sesstail: closed: \\u202eevil\\nsecond\n"
