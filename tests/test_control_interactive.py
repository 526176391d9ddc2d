"""`watch --interactive` driven through a pseudo-terminal, as a person would use it."""

from __future__ import annotations

import codecs
import json
import os
import pty
import select
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import ORG, SESSION, TOKEN, messages, sent
from sesstail.cli import app
from sesstail.server import ServedSession, SessionsServer
from test_control import PROMPT_ID, prompt_session, serve, sesstail

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

ALLOW = {
    "type": "control_response",
    "response": {
        "subtype": "success",
        "request_id": PROMPT_ID,
        "response": {"behavior": "allow", "updatedInput": {}},
    },
}


class Terminal:
    """A sesstail process with a pseudo-terminal on stdin and stdout."""

    def __init__(self, proc: subprocess.Popen[bytes], master: int) -> None:
        self.proc = proc
        self.master = master
        self.seen = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._closed = False

    def _read(self, timeout: float) -> bool:
        """Read what the terminal has within ``timeout``; False once the child closed it."""
        if self._closed:
            return False
        ready, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every writer of the terminal is gone
            chunk = b""
        if not chunk:
            self._closed = True
            self.seen += self._decoder.decode(b"", final=True)
            return False
        # A character split across two reads ("⎿" is three bytes) is decoded whole.
        self.seen += self._decoder.decode(chunk).replace("\r\n", "\n")
        return True

    def expect(self, text: str, timeout: float = 10.0, times: int = 1) -> str:
        """Read until ``text`` has appeared (``times`` times); return everything read."""
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < times:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"{text!r} never appeared in:\n{self.seen}")
        return self.seen

    def read_for(self, seconds: float) -> str:
        """Everything drawn in the next ``seconds``."""
        before = len(self.seen)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        return self.seen[before:]

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit, reading all it wrote (to the terminal's close);
        its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        code = self.proc.wait(max(0.1, deadline - time.monotonic()))
        self.seen = self.seen.replace("\r\n", "\n")
        return code


@contextmanager
def on_a_terminal(
    argv: list[str], *, raw: bool = False, columns: int = 100, term: str = "dumb"
) -> Iterator[Terminal]:
    """``sesstail argv…`` with a pseudo-terminal on stdin and stdout. ``raw``: the terminal
    passes input on as it comes, not line by line (a paste arrives in one read)."""
    master, slave = pty.openpty()
    if raw:
        tty.setraw(slave)
    env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN, "COLUMNS": str(columns), "TERM": term}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sesstail", *argv],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    terminal = Terminal(proc, master)
    try:
        yield terminal
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        os.close(master)


@contextmanager
def interactive(
    srv: SessionsServer, *extra: str, raw: bool = False, columns: int = 100, term: str = "dumb"
) -> Iterator[Terminal]:
    argv = [
        *("watch", SESSION, "--interactive", "--color", "never", "--until", "result"),
        *("--base-url", srv.base_url, "--org", ORG, *extra),
    ]
    with on_a_terminal(argv, raw=raw, columns=columns, term=term) as terminal:
        yield terminal


QUESTION = "Allow Bash (perm_r1)? [a]llow / [d]eny / [l]eave it: "


@pytest.mark.parametrize("hidden_by", [["--json"], ["-x", "control_request"]])
def test_a_prompt_the_output_does_not_draw_is_shown_whole_before_the_question(
    hidden_by: list[str],
) -> None:
    """JSONL output, or a filter that hides control requests: the banner is drawn anyway
    before the question, so nobody is asked about what they were not shown."""
    with serve(prompt_session()) as srv, interactive(srv, *hidden_by) as term:
        screen = term.expect(QUESTION)
        before = screen.split(QUESTION, 1)[0]
        assert "PERMISSION REQUESTED" in before
        assert "rm -rf build" in before
        term.type("a")
        assert term.finish() == 0


LONG_COMMAND = (
    "cd /srv/app && npm ci && npm run build && npm test -- --runInBand "
    "&& git add -A && git commit -m 'release' && git push --force origin main"
)


@pytest.mark.parametrize("columns", [120, 60])
def test_the_banner_before_the_question_is_whole_and_honours_color_never(columns: int) -> None:
    """Over JSONL, the banner drawn before the question wraps a long command whole at 120
    and 60 columns, and --color never keeps it free of colour codes."""
    session = prompt_session()
    session.messages[:] = [
        line.replace('"rm -rf build"', json.dumps(LONG_COMMAND)) for line in session.messages
    ]
    # A terminal that can draw colour (not dumb), whose width rich takes from COLUMNS.
    with (
        serve(session) as srv,
        interactive(srv, "--json", columns=columns, term="xterm") as term,
    ):
        before = term.expect(QUESTION).split(QUESTION, 1)[0]
        banner = [line for line in before.splitlines() if line.startswith("┃")]
        inside = "".join(line[2:-2] for line in banner).replace(" ", "")
        assert LONG_COMMAND.replace(" ", "") in inside
        assert max(len(line) for line in banner) == columns
        assert "\x1b[" not in before
        term.type("a")
        assert term.finish() == 0


@pytest.mark.parametrize("api", ["v1", "v2", "auto"])
def test_allow_at_the_prompt_sends_the_protocol_answer(api: str) -> None:
    """Typing a at the question sends allow with updatedInput; the tool's result follows:
    whichever API carries the session (v1: on the socket; v2: POSTed as an event)."""
    with serve(prompt_session()) as srv, interactive(srv, "--api", api) as term:
        screen = term.expect(QUESTION)
        assert "PERMISSION REQUESTED" in screen
        assert "\a┏" in screen  # the bell rings as the prompt is drawn
        assert "Bash  rm -rf build" in screen
        term.type("a")
        assert term.finish() == 0
        assert sent(srv, expect=1) == [ALLOW]
    assert any(p.startswith("/v1/code/") for p in srv.request_paths) == (api != "v1")
    after = term.seen.split(QUESTION, 1)[1]
    assert "allowed Bash (perm_r1)" in after
    assert "✓ permission prompt perm_r1 answered: allowed" in after
    assert "⎿ Bash  rm -rf build\n      done" in after
    assert "■ success" in after
    assert term.seen.count("\a") == 1  # the bell, once


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_deny_at_the_prompt_sends_the_message(api: str) -> None:
    """Typing d and a reason sends deny with that message; the denial shows in the stream."""
    with serve(prompt_session()) as srv, interactive(srv, "--api", api) as term:
        term.expect(QUESTION)
        term.type("d")
        term.expect("Message for Claude (optional, Enter to skip): ")
        term.type("too risky")
        assert term.finish() == 0
        assert sent(srv, expect=1) == [
            {
                "type": "control_response",
                "response": {
                    "subtype": "success",
                    "request_id": PROMPT_ID,
                    "response": {"behavior": "deny", "message": "too risky"},
                },
            }
        ]
    assert "denied Bash (perm_r1)" in term.seen
    assert "Permission to use Bash was denied: too risky" in term.seen
    assert "permission prompt perm_r1 denied" in term.seen


def test_a_pasted_answer_and_message_are_both_taken() -> None:
    """ "d⏎not now⏎" arriving in one read: the deny and its message, nothing lost or stuck."""
    with serve(prompt_session()) as srv, interactive(srv, raw=True) as term:
        term.expect(QUESTION)
        term.type("d\nnot now")
        assert term.finish() == 0
        assert sent(srv, expect=1)[0]["response"]["response"] == {
            "behavior": "deny",
            "message": "not now",
        }


def test_the_demo_cannot_be_left_and_allows_at_the_end_of_input() -> None:
    """The demo's prompt has nobody else to answer it: leaving is refused with a word, and
    Ctrl-D (end of input) allows, so the demo always ends."""
    demo_question = "? [a]llow / [d]eny: "
    with on_a_terminal(["demo", "--speed", "0", "--color", "never"]) as term:
        term.expect(demo_question)
        term.type("l")
        term.expect("the demo session waits for an answer: allow or deny (Ctrl-C stops)")
        term.expect(demo_question, times=2)  # asked again
        os.write(term.master, b"\x04")  # Ctrl-D at the start of a line: end of input
        assert term.finish(timeout=30) == 0
    assert "no more input: allowing Edit (perm_01DemoEditDatesPy)" in term.seen
    assert term.seen.count(demo_question) == 2
    assert "■ success" in term.seen


def test_the_demos_banner_before_its_question_honours_color_never() -> None:
    """`demo --json --color never` on a colour terminal: the banner drawn before the
    question (JSONL does not draw it) has no colour codes either."""
    demo_question = "? [a]llow / [d]eny: "
    argv = ["demo", "--speed", "0", "--json", "--color", "never"]
    with on_a_terminal(argv, term="xterm") as term:
        before = term.expect(demo_question).split(demo_question, 1)[0]
        assert "PERMISSION REQUESTED" in before
        assert "\x1b[" not in before
        term.type("a")
        assert term.finish(timeout=30) == 0


def test_messages_arriving_while_asking_are_shown_after_the_answer() -> None:
    """The stream keeps being received during the question and is drawn after the answer."""
    with serve(prompt_session()) as srv, interactive(srv) as term:
        term.expect(QUESTION)
        # Another client changes the model: the session reports it to every watcher.
        assert sesstail(srv, "set-model", SESSION, "claude-opus-4-1").exit_code == 0
        assert "Model set to" not in term.read_for(0.5)  # not drawn over the question
        term.type("a")
        assert term.finish() == 0
    after = term.seen.split("allowed Bash (perm_r1)", 1)[1]
    assert "Model set to claude-opus-4-1" in after


def test_a_prompt_withdrawn_while_asking_closes_the_question() -> None:
    """When the session withdraws the prompt, the question closes and nothing is sent."""
    with serve(prompt_session(), withdraw_prompts_after=3.0) as srv, interactive(srv) as term:
        term.expect(QUESTION)
        term.expect("the session withdrew prompt perm_r1: question closed")
        assert term.finish() == 0
        assert sent(srv, expect=1, within=0.3) == []  # none should come
    assert "permission prompt perm_r1 (Bash) withdrawn" in term.seen
    assert "■ success" in term.seen


def test_leaving_the_prompt_lets_another_terminal_answer() -> None:
    """Leaving it sends nothing; an allow from elsewhere then withdraws it and the tool runs."""
    with serve(prompt_session()) as srv, interactive(srv) as term:
        term.expect(QUESTION)
        term.type("l")
        term.expect("left prompt perm_r1 open")
        assert sesstail(srv, "allow", SESSION, PROMPT_ID).exit_code == 0
        assert term.finish() == 0
        assert sent(srv, expect=1) == [ALLOW]
    assert "permission prompt perm_r1 (Bash) withdrawn" in term.seen
    assert "⎿ Bash  rm -rf build\n      done" in term.seen


def test_other_control_requests_get_an_error_answer() -> None:
    """A control request the watcher cannot serve is answered with an error at once."""
    objs: list[dict[str, Any]] = messages(3)
    objs.insert(1, {"type": "control_request", "request_id": "q1", "request": {"subtype": "x_y"}})
    with serve(ServedSession.from_objects(SESSION, objs)) as srv, interactive(srv) as term:
        assert term.finish() == 0
        assert sent(srv, expect=1) == [
            {
                "type": "control_response",
                "response": {
                    "subtype": "error",
                    "request_id": "q1",
                    "error": "sesstail cannot answer control requests of x_y",
                },
            }
        ]


def test_interactive_needs_a_terminal() -> None:
    """Without a terminal --interactive exits 2 before connecting."""
    with serve(prompt_session()) as srv:
        result = CliRunner().invoke(
            app,
            ["watch", SESSION, "--interactive", "--base-url", srv.base_url, "--org", ORG],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        assert result.exit_code == 2
        assert "--interactive needs a terminal" in result.stderr
        assert srv.connection_count == 0


def test_a_passive_watcher_sees_the_prompt_answered_elsewhere() -> None:
    """A plain watch draws the prompt, then says it was withdrawn once answered elsewhere."""
    with serve(prompt_session()) as srv:
        watcher = subprocess.Popen(
            [
                *(sys.executable, "-m", "sesstail", "watch", SESSION, "--format", "pretty"),
                *("--until", "result", "--base-url", srv.base_url, "--org", ORG),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        deadline = time.monotonic() + 10
        while srv.connection_count < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # let the playback reach the prompt
        assert sesstail(srv, "allow", SESSION, PROMPT_ID).exit_code == 0
        out, _ = watcher.communicate(timeout=10)
        assert sent(srv, expect=1) == [ALLOW]
    text = out.decode()
    assert watcher.returncode == 0
    assert "PERMISSION REQUESTED" in text
    assert "\a" not in text  # no bell when not drawing on a terminal
    assert text.index("PERMISSION REQUESTED") < text.index("perm_r1 (Bash) withdrawn")


@pytest.mark.parametrize("api", ["v1", "v2", "auto"])
def test_a_prompt_asked_before_the_watch_began_is_shown_and_answered(api: str) -> None:
    """A session already waiting for permission when `watch -i` starts: the prompt is drawn
    and asked at once (v2 never asks it again on the stream: its history tells), and the
    answer lets the turn go on."""
    with serve(prompt_session()) as srv:
        waiting = sesstail(srv, "wait", SESSION, "--until", "blocked", "--timeout", "5")
        assert waiting.exit_code == 0, waiting.stderr
        with interactive(srv, "--api", api) as term:
            screen = term.expect(QUESTION)
            assert "PERMISSION REQUESTED" in screen
            assert "rm -rf build" in screen
            term.type("a")
            assert term.finish() == 0
            assert sent(srv, expect=1) == [ALLOW]
    assert "■ success" in term.seen
    assert term.seen.count(QUESTION) == 1


def test_sigterm_ends_top_with_its_terminal_restored_and_143() -> None:
    """top on a terminal (Textual draws on stderr: the terminal too), then SIGTERM (`kill`,
    `timeout`): the view closes as on Ctrl-C — the alternate screen left — then
    "terminated", exit 143."""
    import signal

    master, slave = pty.openpty()
    env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN, "TERM": "xterm-256color"}
    with serve(prompt_session()) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sesstail", "top", "--base-url", srv.base_url, "--org", ORG],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        term = Terminal(proc, master)
        try:
            term.expect("1 sessions", timeout=20)
            proc.send_signal(signal.SIGTERM)
            code = term.finish(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
    assert code == 143
    after = term.seen.rsplit("\x1b[?1049l", 1)  # the alternate screen left, then our line
    assert len(after) == 2
    assert "sesstail: terminated" in after[1]
