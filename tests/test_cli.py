"""The command line end to end: exit codes, output formats, pipes, Ctrl-C and secrets.

The server runs in a thread (``server_thread``) because each command runs its own
``asyncio.run``; commands run through typer's CliRunner, or as real processes where the
behaviour belongs to the process (signals, closed pipes, tracebacks).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from conftest import ORG, SESSION, TOKEN, messages, refusing_port, session, tcp_server
from sesstail.cli import app, run
from sesstail.errors import ExitCode
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread

FAST = ["--retry-delay", "0.01", "--retries", "2", "--open-timeout", "2"]


@contextmanager
def serving(*sessions: ServedSession, **kwargs: Any) -> Iterator[SessionsServer]:
    kwargs.setdefault("speed", 0)
    with server_thread(SessionsServer(sessions or [session()], **kwargs)) as server:
        yield server


def invoke(server: SessionsServer | None, *args: str, token: str | None = TOKEN) -> Any:
    env = {"CLAUDE_CODE_OAUTH_TOKEN": token} if token else {}
    base = ["--base-url", server.base_url, "--org", ORG] if server else []
    return CliRunner().invoke(app, ["watch", *args, *base, *FAST], env=env)


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def ended(**kwargs: Any) -> Faults:
    return Faults(end_with_close=True, **kwargs)


# -- exit 0 ------------------------------------------------------------------------------


def test_piped_output_is_one_json_line_per_message_and_exit_0() -> None:
    """Not a terminal: JSONL by default, every message once, exit 0 when the server ends."""
    with serving(faults=ended()) as server:
        result = invoke(server, SESSION)
    assert result.exit_code == 0, result.stderr
    assert [m["uuid"] for m in lines(result.stdout)] == [f"m{i}" for i in range(6)]
    assert "connected" in result.stderr


def test_until_exits_0_on_the_first_match_while_the_stream_goes_on() -> None:
    """--until result ends the watch though the server keeps the socket open."""
    with serving() as server:
        result = invoke(server, SESSION, "--until", "result")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout)[-1]["type"] == "result"


def test_jsonl_lines_are_the_frames_as_received() -> None:
    """Key order, spacing inside the object, unicode and huge integers survive unchanged."""
    raw = [
        '{"type": "system", "subtype": "init",  "uuid": "r0", "z": 1, "a": 2}',
        '{"uuid":"r1","type":"assistant","text":"caf\\u00e9 ☕ \\ud83d\\ude00",'
        '"n":123456789012345678901234567890}',
        '{"type":"result","uuid":"r2","nested":{"deep":[1,2,{"x":null}]},"f":1.50}',
    ]
    served = ServedSession(SESSION, raw, [0.0] * len(raw))
    with serving(served, faults=ended()) as server:
        result = invoke(server, SESSION, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == raw


def test_type_exclude_and_until_filters() -> None:
    """--type keeps type or type/subtype, --exclude-type drops; --until may match hidden ones."""
    # The v1 socket is live-only: each watch gets a server of its own, played from the start.
    with serving(faults=ended()) as server:
        only_init = invoke(server, SESSION, "--type", "system/init")
    with serving(faults=ended()) as server:
        no_assistant = invoke(server, SESSION, "--exclude-type", "assistant")
    with serving(faults=ended()) as server:
        hidden_until = invoke(server, SESSION, "--type", "system", "--until", "assistant")
    assert [m["uuid"] for m in lines(only_init.stdout)] == ["m0"]
    assert [m["type"] for m in lines(no_assistant.stdout)] == ["system", "result"]
    assert hidden_until.exit_code == 0
    assert [m["uuid"] for m in lines(hidden_until.stdout)] == ["m0"]


def test_keep_alive_frames_are_dropped_unless_asked_for() -> None:
    """keep_alive frames leave the output unless --keepalive keeps them."""
    faults = ended(junk_frames=['{"type":"keep_alive"}'], connections=None)
    with serving(faults=faults) as server:
        dropped = invoke(server, SESSION, "--api", "v1")
        kept = invoke(server, SESSION, "--keepalive", "--api", "v1")
    assert "keep_alive" not in [m["type"] for m in lines(dropped.stdout)]
    assert lines(kept.stdout)[0]["type"] == "keep_alive"


def test_pretty_output_with_timestamps() -> None:
    """--format pretty draws a conversation, not JSON; --timestamps adds HH:MM:SS."""
    with serving(faults=ended()) as server:
        before = time.strftime("%H:%M")
        result = invoke(server, SESSION, "--format", "pretty", "--timestamps", "--color", "never")
        after = time.strftime("%H:%M")
    assert result.exit_code == 0, result.stderr
    assert "line 3" in result.stdout
    assert '{"type"' not in result.stdout
    stamps = re.findall(r"\b(\d\d:\d\d):\d\d\b", result.stdout)
    assert stamps
    assert set(stamps) <= {before, after}
    assert "\x1b" not in result.stdout


def test_remote_escape_sequences_never_reach_the_terminal() -> None:
    """ESC, OSC, BEL and C1 controls in remote text are neutralised, in colour or not."""
    objs = messages(3)
    objs[1]["message"]["content"][0]["text"] = "a\x1b[2J\x1b]0;pwned\x07b\x9bc [bold]x[/bold]"
    served = ServedSession.from_objects(SESSION, objs)
    for color in ("never", "always"):
        with serving(served, faults=ended()) as server:
            result = invoke(server, SESSION, "--format", "pretty", "--color", color)
        assert result.exit_code == 0, result.stderr
        assert "\x1b[2J" not in result.stdout
        assert "\x1b]0;pwned" not in result.stdout
        assert "\x07" not in result.stdout
        assert "\x9b" not in result.stdout
        assert "[bold]x[/bold]" in result.stdout
        if color == "never":
            assert "\x1b" not in result.stdout


@pytest.mark.parametrize(("api", "spoken"), [("auto", "v2"), ("v1", "v1"), ("v2", "v2")])
def test_demo_plays_the_sample_session_and_exits_0(api: str, spoken: str) -> None:
    """The demo serves its own session in-process and ends after the result; it speaks
    auto like any user (the embedded server answers v2), and v1 when asked."""
    result = CliRunner().invoke(app, ["demo", "--speed", "0", "--json", "-v", "--api", api])
    assert result.exit_code == 0, result.stderr
    assert f"speaking the {spoken} API" in result.stderr
    out = lines(result.stdout)
    assert out[0]["type"] == "system"
    assert out[-1]["type"] == "result"
    assert out[-1]["total_cost_usd"] > 0


def test_version_flag() -> None:
    """--version prints the version and exits 0."""
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("sesstail 0.")


# -- exit 1 ------------------------------------------------------------------------------


def test_unexpected_error_is_one_line_and_a_traceback_only_with_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An exception we did not foresee exits 1 with one line; --debug adds the traceback."""

    def broken() -> int:
        raise RuntimeError("boom")

    for debug in (False, True):
        with pytest.raises(typer.Exit) as caught:
            run(broken, debug=debug)
        assert caught.value.exit_code == 1
        err = capsys.readouterr().err
        assert "sesstail: unexpected error: RuntimeError: boom" in err
        assert ("Traceback" in err) is debug


# -- exit 2 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["session_bad/../x"], "invalid session id"),
        (["not-a-session"], "invalid session id"),
        ([SESSION, "--org", "nope"], "invalid organization id"),
        ([SESSION, "--base-url", "ftp://example.com"], "invalid base URL"),
        ([SESSION, "--type", "bad type!"], "invalid message type"),
        ([SESSION, "--until", ""], "invalid message type ''"),
        ([SESSION, "--base-url", "http://[::1"], "invalid base URL"),
        ([SESSION, "--json", "--format", "pretty"], "contradict"),
        ([SESSION, "--retries", "-1"], "Invalid value"),
        ([SESSION, "--color", "purple"], "Invalid value"),
    ],
)
def test_bad_arguments_exit_2_without_connecting(args: list[str], needle: str) -> None:
    """Bad ids, orgs, URLs and options exit 2 and nothing is sent."""
    with serving() as server:
        argv = ["watch", *args]
        if "--base-url" not in args:
            argv += ["--base-url", server.base_url]
        if "--org" not in args:
            argv += ["--org", ORG]
        result = CliRunner().invoke(app, argv, env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert needle in result.stderr
    assert server.connection_count == 0
    assert result.stdout == ""


# -- exit 3 ------------------------------------------------------------------------------


def test_no_credentials_exit_3(isolated_env: Path) -> None:
    """With no token anywhere: exit 3 and how to log in, before any connection."""
    with serving() as server:
        result = invoke(server, SESSION, token=None)
    assert result.exit_code == 3
    assert "no Claude Code credentials found" in result.stderr
    assert "claude" in result.stderr
    assert server.connection_count == 0


def test_expired_token_in_the_credentials_file_exit_3(isolated_env: Path) -> None:
    """An expired token is reported as such, with how to refresh it."""
    store = isolated_env / ".claude"
    store.mkdir()
    expired_ms = int((time.time() - 3600) * 1000)
    (store / ".credentials.json").write_text(
        json.dumps({"claudeAiOauth": {"accessToken": TOKEN, "expiresAt": expired_ms}})
    )
    with serving() as server:
        result = invoke(server, SESSION, token=None)
    assert result.exit_code == 3
    assert "expired" in result.stderr
    assert "run `claude`" in result.stderr
    assert TOKEN not in result.stderr


def test_credentials_file_token_is_used(isolated_env: Path) -> None:
    """A valid token in ~/.claude/.credentials.json is what the handshake carries."""
    store = isolated_env / ".claude"
    store.mkdir()
    later_ms = int((time.time() + 3600) * 1000)
    (store / ".credentials.json").write_text(
        json.dumps({"claudeAiOauth": {"accessToken": TOKEN, "expiresAt": later_ms}})
    )
    with serving(token=TOKEN, faults=ended()) as server:
        result = invoke(server, SESSION, token=None)
    assert result.exit_code == 0, result.stderr


def test_rejected_twice_exit_3_after_one_reread() -> None:
    """v1: 4003 with a token that does not change: one re-read, no second connection, exit 3."""
    with serving(token="the-right-token-1234") as server:
        result = invoke(server, SESSION, "-v", "--api", "v1")
    assert result.exit_code == 3
    assert "rejected the credentials" in result.stderr
    assert server.connection_count == 1


def test_org_from_the_profile_endpoint_missing_is_exit_1() -> None:
    """When nothing names the org, the profile endpoint is asked; no org there is exit 1."""
    with serving() as server:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        def profile(_connection: Any, request: Any) -> Any:
            assert request.path == "/api/oauth/profile"
            body = b'{"account": {}}'
            return Response(200, "OK", Headers([("Content-Type", "application/json")]), body)

        server.http_handler = profile
        result = CliRunner().invoke(
            app,
            ["watch", SESSION, "--base-url", server.base_url],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == 1
    assert "did not name an organization" in result.stderr
    assert "--org" in result.stderr


def test_org_from_the_profile_endpoint_is_used() -> None:
    """The profile endpoint's organization.uuid goes into the subscribe URL (v1: this
    server answers nothing but the profile, so it has no v2 routes either)."""
    with serving(faults=ended()) as server:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        def profile(_connection: Any, _request: Any) -> Any:
            body = json.dumps({"organization": {"uuid": ORG}}).encode()
            return Response(200, "OK", Headers([("Content-Type", "application/json")]), body)

        server.http_handler = profile
        result = CliRunner().invoke(
            app,
            ["watch", SESSION, "--base-url", server.base_url, "--api", "v1"],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == 0, result.stderr
    assert f"organization_uuid={ORG}" in server.request_paths[-1]


# -- exit 4 and 5 --------------------------------------------------------------------------


def test_unknown_session_exit_4() -> None:
    """A session the server does not know: exit 4 at once, since the history endpoint says
    404 too (the 4001 retries are for a session compacting, not for a mistyped id)."""
    with serving() as server:
        result = invoke(server, "session_01DoesNotExist")
    assert result.exit_code == 4
    assert "not found" in result.stderr
    assert server.connection_count <= 1


def test_unreachable_host_exit_5() -> None:
    """Nothing listening: retried, then exit 5 with the reason."""
    with refusing_port() as port:
        result = CliRunner().invoke(
            app,
            ["watch", SESSION, "--base-url", f"http://127.0.0.1:{port}", "--org", ORG, *FAST],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == 5
    assert "cannot connect (connection refused); gave up after 2 retries" in result.stderr


@contextmanager
def tls_listener(tmp_path: Path) -> Iterator[int]:
    """A TLS server whose certificate nobody trusts; yields its port."""
    from test_netconfig import PASSPHRASE, TEST_CERT, TEST_ENCRYPTED_KEY

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(TEST_CERT)
    key.write_text(TEST_ENCRYPTED_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key, PASSPHRASE)

    def handshake(conn: socket.socket) -> None:
        context.wrap_socket(conn, server_side=True).close()

    with tcp_server(handshake) as (port, accepted):
        yield port
    assert len(accepted) == 1, "a TLS failure must not be retried"


def test_tls_failure_exit_5_without_retrying(tmp_path: Path) -> None:
    """An untrusted certificate fails at once with exit 5 and a hint about CA bundles."""
    with tls_listener(tmp_path) as port:
        result = CliRunner().invoke(
            app,
            ["watch", SESSION, "--base-url", f"https://127.0.0.1:{port}", "--org", ORG, *FAST],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == 5
    assert "TLS failure" in result.stderr
    assert "certificate verification failed (self-signed certificate)" in result.stderr
    assert "NODE_EXTRA_CA_CERTS" in result.stderr


# -- processes: pipes, Ctrl-C, secrets ------------------------------------------------------


def sesstail_process(server: SessionsServer, *args: str, **popen: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
    argv = [sys.executable, "-m", "sesstail", "watch", SESSION, "--base-url", server.base_url]
    return subprocess.Popen([*argv, "--org", ORG, *FAST, *args], env=env, text=True, **popen)


@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-"])
def test_closed_stdout_or_stderr_is_no_crash(tmp_path: Path, closed: str) -> None:
    """Started with stdout or stderr closed: the command does its job, what it would print
    goes nowhere, and the exit code is the usual one."""
    capture = tmp_path / "capture.jsonl"
    capture.write_text("".join(json.dumps(m) + "\n" for m in messages(4)), encoding="utf-8")
    script = f'exec "$@" {closed}'
    base = ["sh", "-c", script, "sh", sys.executable, "-m", "sesstail"]
    ok = subprocess.run([*base, "replay", str(capture)], capture_output=True, text=True)
    bad = subprocess.run([*base, "watch", "not-a-session"], capture_output=True, text=True)
    assert (ok.returncode, bad.returncode) == (0, ExitCode.USAGE)
    assert "Traceback" not in ok.stderr + bad.stderr
    if "2>&-" not in closed:
        assert ok.stderr == ""
        assert "invalid session id" in bad.stderr


def test_closed_pipe_ends_quietly() -> None:
    """`sesstail watch … | head -1`: exit 0, no traceback, once the reader goes away."""
    big = ServedSession.from_objects(SESSION, messages(20_000))
    with serving(big, faults=ended()) as server:
        proc = sesstail_process(server, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
        code = proc.wait(30)
    assert json.loads(first)["uuid"] == "m0"
    assert code == 0
    assert "Traceback" not in err
    assert "Error" not in err


@pytest.fixture
def ctrl_c_reaches_children() -> Iterator[None]:
    """Children start with SIGINT at its default, as from a shell's foreground.

    A job started in the background of a non-interactive shell inherits SIGINT ignored, and so
    would sesstail; a Python-level handler here is reset to the default across ``exec``.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_reaches_children")
def test_ctrl_c_exits_130_without_a_traceback() -> None:
    """SIGINT while watching: exit 130, one line on stderr."""
    with serving() as server:
        proc = sesstail_process(server, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()  # connected and streaming
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    assert "interrupted" in err
    assert "Traceback" not in err


# Ctrl-C landing while Python imports the command line, at the point a slow start-up would be.
INTERRUPTED_IMPORT = """
import sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "sesstail.cli":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
from sesstail.__main__ import main
main()
"""


def test_ctrl_c_while_starting_up_has_no_traceback() -> None:
    """A KeyboardInterrupt during the import of the command line: one line, exit 130."""
    proc = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT, "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == ExitCode.INTERRUPTED
    assert proc.stderr == "sesstail: interrupted\n"
    assert proc.stdout == ""


def test_the_entry_point_exit_code_is_the_documented_one() -> None:
    """__main__ names 130 without importing errors; the two must agree."""
    from sesstail.__main__ import INTERRUPTED

    assert INTERRUPTED == ExitCode.INTERRUPTED


@pytest.mark.parametrize("scenario", ["ok", "rejected", "not-found", "crash"])
def test_token_never_appears_even_with_verbose_and_debug(scenario: str) -> None:
    """Whatever happens, with -v --debug the token is in no output."""
    token = "the-right-token-1234" if scenario == "rejected" else None
    with serving(token=token, faults=ended()) as server:
        args = ["-v", "--debug", "--until", "result"]
        if scenario == "not-found":
            args += ["--exclude-type", "x"]
            server.sessions.clear()
        if scenario == "crash":
            args += ["--format", "pretty", "--color", "always", "--timestamps"]
        proc = sesstail_process(server, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=60)
    assert TOKEN not in out
    assert TOKEN not in err
    assert TOKEN[8:20] not in out + err
    if scenario == "rejected":
        assert proc.returncode == 3
    if scenario == "not-found":
        assert proc.returncode == 4


def test_main_builds_only_the_command_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """`main` runs a named command alone (cheaper start-up); help and typos see them all."""
    from sesstail.cli import _app_for, main

    assert [c.name for c in _app_for(["interrupt", "x"]).registered_commands] == ["interrupt"]
    assert _app_for(["--help"]) is app
    assert _app_for(["nosuch"]) is app
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    listing = capsys.readouterr().out
    for name in ("watch", "demo", "serve", "interrupt", "wait", "ls", "replay"):
        assert name in listing
    with pytest.raises(SystemExit) as caught:
        main(["watch", "not-a-session"])
    assert caught.value.code == 2
    assert "invalid session id" in capsys.readouterr().err


def test_a_remote_close_reason_in_an_error_is_escaped() -> None:
    """The error line quoting a close reason carries no escape sequence from the server."""
    faults = Faults(connections=None, close_after=0, close_code=1011, close_reason="\x1b]0;x\x07")
    with serving(faults=faults) as server:
        result = invoke(server, SESSION, "--api", "v1")
    assert result.exit_code == 5
    assert "\x1b" not in result.stderr
    assert "\x07" not in result.stderr
    assert "\\x1b]0;x\\x07" in result.stderr


def test_the_cli_default_base_url_is_the_protocols() -> None:
    """cli keeps its own copy of the default base URL (no protocol import at start-up)."""
    from sesstail.cli import DEFAULT_BASE_URL
    from sesstail.protocol import DEFAULT_BASE_URL as PROTOCOL_DEFAULT

    assert DEFAULT_BASE_URL == PROTOCOL_DEFAULT


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_start_up_imports_no_network_or_drawing_library(flag: str) -> None:
    """`sesstail --version` / `--help` import neither websockets, httpx nor rich (every
    TAB completion and every short command pays for what start-up imports)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sesstail", flag],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    for heavy in ("websockets", "httpx", "httpx_sse", "rich", "textual", "truststore"):
        assert heavy not in imported, f"{flag} imports {heavy}"
