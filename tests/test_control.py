"""Control commands against the embedded server: the exact frames sent, and every exit path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conftest import ORG, SESSION, TOKEN, messages, sent
from sesstail.cli import app
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread

PROMPT_ID = "perm_r1"
TOOL_USE_ID = "toolu_01Prompted"


def prompt_session(session_id: str = SESSION) -> ServedSession:
    """init, a tool call, a permission prompt for it, its result, a reply and a result."""
    objs = messages(4, session_id)
    call = {
        "type": "assistant",
        "uuid": "call",
        "session_id": session_id,
        "message": {
            "id": "msg_call",
            "content": [
                {
                    "type": "tool_use",
                    "id": TOOL_USE_ID,
                    "name": "Bash",
                    "input": {"command": "rm -rf build"},
                }
            ],
        },
    }
    prompt = {
        "type": "control_request",
        "request_id": PROMPT_ID,
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "Bash",
            "input": {"command": "rm -rf build"},
            "tool_use_id": TOOL_USE_ID,
            "decision_reason": "Command deletes files",
        },
    }
    result = {
        "type": "user",
        "uuid": "tool-result",
        "session_id": session_id,
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": "done"}],
        },
    }
    return ServedSession.from_objects(session_id, [objs[0], call, prompt, result, *objs[1:]])


@pytest.fixture
def server() -> Iterator[SessionsServer]:
    with server_thread(SessionsServer([prompt_session()], speed=0, token=TOKEN, org=ORG)) as srv:
        yield srv


def serve(*sessions: ServedSession, **faults: Any) -> Any:
    """A server thread with these sessions and test hooks."""
    return server_thread(
        SessionsServer(list(sessions), speed=0, token=TOKEN, org=ORG, faults=Faults(**faults))
    )


def sesstail(srv: SessionsServer, *args: str, token: str = TOKEN) -> Result:
    """Run a command against ``srv`` as a user would, with a token in the environment."""
    return CliRunner().invoke(
        app,
        [*args, "--base-url", srv.base_url, "--org", ORG],
        env={"CLAUDE_CODE_OAUTH_TOKEN": token},
    )


def said(srv: SessionsServer, *args: str, expect: str = "", within: float = 5.0) -> str:
    """``sesstail history`` of the session (the stream is live-only: what was said before a
    command attached is history), once it holds ``expect``."""
    deadline = time.monotonic() + within
    while True:
        result = sesstail(srv, "history", SESSION, "-n", "200", *args)
        assert result.exit_code == 0, result.stderr
        if expect in result.stdout or time.monotonic() > deadline:
            return str(result.stdout)
        time.sleep(0.05)


def request_frame(srv: SessionsServer, request: dict[str, Any]) -> dict[str, Any]:
    """The one frame the server received, checked to be ``request`` with a fresh uuid4 id."""
    frames = sent(srv)
    assert len(frames) == 1
    frame = frames[0]
    assert uuid.UUID(frame["request_id"]).version == 4
    assert frame == {"type": "control_request", "request_id": frame["request_id"], **request}
    return frame


# -- interrupt -----------------------------------------------------------------------------------


def test_interrupt_sends_the_request_and_confirms(server: SessionsServer) -> None:
    """interrupt sends exactly one interrupt request and prints a one-line confirmation."""
    result = sesstail(server, "interrupt", SESSION)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"interrupted {SESSION}\n"
    request_frame(server, {"request": {"subtype": "interrupt"}})


def test_interrupt_json_prints_the_whole_response(server: SessionsServer) -> None:
    """--json prints the control_response object, matched to our request id, on stdout."""
    result = sesstail(server, "interrupt", SESSION, "--json")
    assert result.exit_code == 0
    frame = request_frame(server, {"request": {"subtype": "interrupt"}})
    assert json.loads(result.stdout) == {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": frame["request_id"]},
    }


def test_interrupt_error_answer_exits_6_with_the_error_text() -> None:
    """An error answer prints its text on stderr and exits 6; stdout stays empty."""
    with serve(prompt_session(), control_error="Session is \x1b[31mbusy") as srv:
        result = sesstail(srv, "interrupt", SESSION)
    assert result.exit_code == 6
    assert result.stdout == ""
    assert "the session refused interrupt: Session is \\x1b[31mbusy" in result.stderr
    assert "\x1b" not in result.stderr


def test_interrupt_error_answer_with_json_still_prints_it_and_exits_6() -> None:
    """With --json an error answer is printed whole on stdout, and the exit code is 6."""
    with serve(prompt_session(), control_error="nope") as srv:
        result = sesstail(srv, "interrupt", SESSION, "--json")
    assert result.exit_code == 6
    assert json.loads(result.stdout)["response"]["error"] == "nope"


def test_interrupt_without_an_answer_exits_7() -> None:
    """A session that never answers: exit 7 after --timeout, having sent the request once."""
    with serve(prompt_session(), control_silent=True) as srv:
        result = sesstail(srv, "interrupt", SESSION, "--timeout", "0.3")
        frames = sent(srv, expect=1)
    assert result.exit_code == 7
    assert "no answer to interrupt within 0.3 s" in result.stderr
    assert [f["request"] for f in frames] == [{"subtype": "interrupt"}]


def test_a_late_answer_within_the_timeout_counts() -> None:
    """An answer that comes late but inside --timeout is a success."""
    with serve(prompt_session(), control_delay=0.4) as srv:
        result = sesstail(srv, "interrupt", SESSION, "--timeout", "5")
    assert result.exit_code == 0, result.stderr


def test_an_answer_later_than_the_timeout_exits_7() -> None:
    """An answer that comes after --timeout is too late: exit 7."""
    with serve(prompt_session(), control_delay=1.0) as srv:
        result = sesstail(srv, "interrupt", SESSION, "--timeout", "0.3")
    assert result.exit_code == 7


def test_other_messages_before_the_answer_are_ignored(server: SessionsServer) -> None:
    """The session's own messages (played on connect) do not end the wait or reach stdout."""
    result = sesstail(server, "interrupt", SESSION, "--json")
    assert result.exit_code == 0
    assert [json.loads(line)["type"] for line in result.stdout.splitlines()] == ["control_response"]


@pytest.mark.parametrize(
    "args",
    [
        ["interrupt", "not-a-session"],
        ["interrupt", SESSION, "--timeout", "0"],
        ["set-permission-mode", SESSION, "yolo"],
        ["set-thinking", SESSION, "lots"],
        ["set-thinking", SESSION, "-5"],
        ["set-model", SESSION, "two words"],
        ["control", SESSION, "bad subtype!"],
        ["control", SESSION, "stop_task", "no_equals_sign"],
        ["control", SESSION, "stop_task", "--data", "[1]"],
        ["control", SESSION, "stop_task", "--data", "{nope"],
        ["control", SESSION, "stop_task", "subtype=x"],
        ["allow", SESSION, ""],
        ["wait", SESSION, "--until", "done"],
    ],
)
def test_bad_arguments_exit_2_without_connecting(server: SessionsServer, args: list[str]) -> None:
    """Invalid arguments exit 2 and the server sees no connection at all."""
    result = sesstail(server, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert server.connection_count == 0


def test_rejected_credentials_keep_the_core_exit_code(server: SessionsServer) -> None:
    """A rejected token is the auth error of the core (exit 3), not a control error."""
    result = sesstail(server, "interrupt", SESSION, token="sk-ant-oat01-wrong-token-000000")
    assert result.exit_code == 3
    assert sent(server) == []


def test_no_token_exits_3_without_connecting(server: SessionsServer) -> None:
    """Without credentials nothing is sent: exit 3."""
    result = CliRunner().invoke(
        app, ["interrupt", SESSION, "--base-url", server.base_url, "--org", ORG]
    )
    assert result.exit_code == 3
    assert server.connection_count == 0


# -- setters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "line"),
    [
        ("claude-opus-4-1", f"model of {SESSION} set to claude-opus-4-1"),
        ("default", f"model of {SESSION} reset to the default"),
    ],
)
def test_set_model(server: SessionsServer, model: str, line: str) -> None:
    """set-model sends set_model with the model (default resets) and confirms."""
    result = sesstail(server, "set-model", SESSION, model)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == line + "\n"
    request_frame(server, {"request": {"subtype": "set_model", "model": model}})


@pytest.mark.parametrize("mode", ["default", "acceptEdits", "bypassPermissions", "plan", "dontAsk"])
def test_set_permission_mode(server: SessionsServer, mode: str) -> None:
    """Each of the five modes is sent as is and the answer's mode is reported."""
    result = sesstail(server, "set-permission-mode", SESSION, mode)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"permission mode of {SESSION} set to {mode}\n"
    request_frame(server, {"request": {"subtype": "set_permission_mode", "mode": mode}})


def test_set_permission_mode_refused_by_the_session_exits_6() -> None:
    """A mode the session will not take (its error) exits 6 with the session's words."""
    with serve(prompt_session(), control_error="Cannot set permission mode to plan") as srv:
        result = sesstail(srv, "set-permission-mode", SESSION, "plan")
    assert result.exit_code == 6
    assert "Cannot set permission mode to plan" in result.stderr


def test_permission_modes_are_offered_by_completion() -> None:
    """Shell completion of the MODE argument offers the five protocol modes."""
    result = CliRunner().invoke(
        app,
        [],
        prog_name="sesstail",
        env={
            "_SESSTAIL_COMPLETE": "complete_bash",
            "COMP_WORDS": f"sesstail set-permission-mode {SESSION} ",
            "COMP_CWORD": "3",
        },
    )
    offered = set(result.stdout.split())
    assert {"default", "acceptEdits", "bypassPermissions", "plan", "dontAsk"} <= offered


@pytest.mark.parametrize(
    ("budget", "tokens", "line"),
    [
        ("2048", 2048, f"thinking budget of {SESSION} set to 2,048 tokens"),
        ("off", 0, f"thinking turned off for {SESSION}"),
        ("default", None, f"thinking budget of {SESSION} reset to the default"),
    ],
)
def test_set_thinking(server: SessionsServer, budget: str, tokens: int | None, line: str) -> None:
    """set-thinking maps TOKENS|off|default to an integer, 0 or null."""
    result = sesstail(server, "set-thinking", SESSION, budget)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == line + "\n"
    request_frame(
        server,
        {"request": {"subtype": "set_max_thinking_tokens", "max_thinking_tokens": tokens}},
    )


def test_setter_timeout_exits_7() -> None:
    """A setter that gets no answer exits 7 like interrupt."""
    with serve(prompt_session(), control_silent=True) as srv:
        result = sesstail(srv, "set-model", SESSION, "opus", "--timeout", "0.2")
    assert result.exit_code == 7


# -- any subtype ---------------------------------------------------------------------------------


def test_control_parses_values_as_json_when_it_can(server: SessionsServer) -> None:
    """KEY=VALUE values are JSON when they parse, else strings; --data supplies the rest."""
    result = sesstail(
        server,
        "control",
        SESSION,
        "stop_task",
        "task_id=t1",
        "max_thinking_tokens=0",
        "flag=true",
        "list=[1,2]",
        "--data",
        '{"task_id": "overridden", "extra": {"a": 1}}',
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "stop_task: ok\n"
    request_frame(
        server,
        {
            "request": {
                "subtype": "stop_task",
                "task_id": "t1",
                "extra": {"a": 1},
                "max_thinking_tokens": 0,
                "flag": True,
                "list": [1, 2],
            }
        },
    )


def test_control_prints_the_success_response(server: SessionsServer) -> None:
    """A success with a response body shows the body on the human line."""
    result = sesstail(server, "control", SESSION, "get_settings")
    assert result.exit_code == 0
    assert result.stdout.startswith('get_settings: ok {"effective":')


def test_control_passes_an_unknown_subtype_error_through(server: SessionsServer) -> None:
    """An unsupported subtype gets the session's error text and exit 6."""
    result = sesstail(server, "control", SESSION, "frobnicate", "--json")
    assert result.exit_code == 6
    assert "Unsupported control request subtype: frobnicate" in result.stderr
    answer = json.loads(result.stdout)
    assert answer["response"]["subtype"] == "error"
    request_frame(server, {"request": {"subtype": "frobnicate"}})


# -- pictures ------------------------------------------------------------------------------------


def test_mcp_status_is_a_table(server: SessionsServer) -> None:
    """mcp-status draws one row per server with its status, and a count of connected ones."""
    result = sesstail(server, "mcp-status", SESSION)
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "connected" in rows["github"]
    assert "github-mcp-server 0.9.1" in rows["github"]
    assert "needs-auth" in rows["sentry"]
    assert "failed" in rows["postgres"]
    assert "ECONNREFUSED" in rows["postgres"]
    assert "1 of 3 connected" in result.stdout
    request_frame(server, {"request": {"subtype": "mcp_status"}})


def test_mcp_status_json_is_the_response(server: SessionsServer) -> None:
    """mcp-status --json prints the control_response with mcpServers."""
    result = sesstail(server, "mcp-status", SESSION, "--json")
    servers = json.loads(result.stdout)["response"]["response"]["mcpServers"]
    assert [s["name"] for s in servers] == ["github", "sentry", "postgres"]


def test_context_is_a_bar_chart_with_totals(server: SessionsServer) -> None:
    """context draws a bar per category, proportional to its tokens, with totals and percent."""
    result = sesstail(server, "context", SESSION)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "63,200 / 200,000 tokens  (32%)" in out
    eighths = {ch: n for n, ch in enumerate(" ▏▎▍▌▋▊▉█")}
    bars = {
        line.split("  ")[0].strip(): sum(eighths.get(ch, 0) for ch in line)
        for line in out.splitlines()
        if "%" in line and "tokens" not in line
    }
    assert bars["Messages"] > bars["System tools"] > bars["System prompt"] > 0
    assert bars["Free space"] > bars["Messages"]
    assert "41,280" in out
    request_frame(server, {"request": {"subtype": "get_context_usage"}})


def test_context_error_exits_6() -> None:
    """A session that cannot report its context: exit 6 with the error."""
    with serve(prompt_session(), control_error="Context usage unavailable") as srv:
        result = sesstail(srv, "context", SESSION)
    assert result.exit_code == 6
    assert "Context usage unavailable" in result.stderr


# -- permission prompts from another terminal ----------------------------------------------------


def test_allow_sends_the_protocol_answer_and_the_tool_runs(server: SessionsServer) -> None:
    """allow answers with behavior allow and updatedInput {}; the tool's result follows."""
    blocked = sesstail(server, "wait", SESSION, "--until", "blocked", "--json", "--timeout", "5")
    assert blocked.exit_code == 0, blocked.stderr
    assert json.loads(blocked.stdout)["request_id"] == PROMPT_ID
    result = sesstail(server, "allow", SESSION, PROMPT_ID)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"allowed {PROMPT_ID}\n"
    assert sent(server, expect=1) == [
        {
            "type": "control_response",
            "response": {
                "subtype": "success",
                "request_id": PROMPT_ID,
                "response": {"behavior": "allow", "updatedInput": {}},
            },
        }
    ]
    history = said(server, "--json", expect='"tool-result"')
    uuids = [json.loads(line).get("uuid") for line in history.splitlines()]
    assert "tool-result" in uuids


def test_allow_over_v1_warns_when_the_redelivered_prompts_do_not_hold_the_id(
    server: SessionsServer,
) -> None:
    """v1 redelivers the prompts still open to a new connection: an answer to an id that
    is not among them says so on stderr (it is sent all the same, and exit 0); the right
    id gets no warning."""
    blocked = sesstail(server, "wait", SESSION, "--until", "blocked", "--timeout", "5")
    assert blocked.exit_code == 0, blocked.stderr
    typo = sesstail(server, "allow", SESSION, "perm_typo", "--api", "v1")
    assert typo.exit_code == 0, typo.stderr
    assert typo.stdout == "allowed perm_typo\n"
    assert (
        "sesstail: warning: perm_typo is not among the prompts the session has pending "
        f"({PROMPT_ID}); the answer was sent all the same"
    ) in typo.stderr
    right = sesstail(server, "allow", SESSION, PROMPT_ID, "--api", "v1")
    assert right.exit_code == 0, right.stderr
    assert "warning" not in right.stderr


def test_deny_sends_the_message_and_interrupt(server: SessionsServer) -> None:
    """deny --message --interrupt answers behavior deny with both; the denial shows."""
    result = sesstail(
        server, "deny", SESSION, PROMPT_ID, "--message", "not in prod", "--interrupt", "--json"
    )
    assert result.exit_code == 0, result.stderr
    answer = {
        "type": "control_response",
        "response": {
            "subtype": "success",
            "request_id": PROMPT_ID,
            "response": {"behavior": "deny", "message": "not in prod", "interrupt": True},
        },
    }
    assert json.loads(result.stdout) == answer
    assert sent(server, expect=1) == [answer]
    # The denied turn ended at once: its transcript is the session's history now.
    transcript = sesstail(server, "history", SESSION, "--json")
    objs = [json.loads(line) for line in transcript.stdout.splitlines()]
    assert "tool-result" not in [o.get("uuid") for o in objs]
    denial = next(o for o in objs if o["type"] == "user" and o.get("uuid") != "m0")
    block = denial["message"]["content"][0]
    assert block["tool_use_id"] == TOOL_USE_ID
    assert block["is_error"] is True
    assert "not in prod" in block["content"]
    assert objs[-1]["subtype"] == "error_during_execution"
    assert objs[-1]["permission_denials"][0]["tool_name"] == "Bash"


def test_deny_without_a_message_sends_a_default_one(server: SessionsServer) -> None:
    """deny alone sends behavior deny with a plain message and no interrupt key."""
    result = sesstail(server, "deny", SESSION, PROMPT_ID)
    assert result.exit_code == 0
    assert result.stdout == f"denied {PROMPT_ID}\n"
    assert sent(server, expect=1)[0]["response"]["response"] == {
        "behavior": "deny",
        "message": "The user denied this request.",
    }


def test_the_first_answer_wins(server: SessionsServer) -> None:
    """After an allow, a later deny is ignored by the session: the tool still runs."""
    assert sesstail(server, "allow", SESSION, PROMPT_ID).exit_code == 0
    assert sesstail(server, "deny", SESSION, PROMPT_ID).exit_code == 0
    assert '"uuid":"tool-result"' in said(server, "--json", expect='"result"')


def test_withdrawn_prompt_appears_in_jsonl_and_a_passive_watcher_sends_nothing() -> None:
    """A passive watch shows the prompt and its withdrawal as JSON lines and never answers."""
    with serve(prompt_session(), withdraw_prompts_after=0.3) as srv:
        result = sesstail(srv, "watch", SESSION, "--until", "result", "--json")
        frames = sent(srv, expect=1, within=0.3)  # none should come
    assert result.exit_code == 0, result.stderr
    types = [json.loads(line)["type"] for line in result.stdout.splitlines()]
    prompt_at = types.index("control_request")
    assert types[prompt_at + 1] == "control_cancel_request"
    assert types[-1] == "result"
    assert frames == []


def test_withdrawn_prompt_is_said_in_pretty_output() -> None:
    """The pretty watcher draws the prompt, then says it was withdrawn."""
    with serve(prompt_session(), withdraw_prompts_after=0.3) as srv:
        result = sesstail(srv, "watch", SESSION, "--until", "result", "--format", "pretty")
    out = result.stdout
    assert "PERMISSION REQUESTED" in out
    assert "request id: perm_r1" in out
    assert "permission prompt perm_r1 (Bash) withdrawn" in out
    assert out.index("PERMISSION REQUESTED") < out.index("withdrawn")


def test_an_answered_prompt_is_not_replayed(server: SessionsServer) -> None:
    """A watcher that comes after the answer sees the call and its result, no stale prompt."""
    assert sesstail(server, "allow", SESSION, PROMPT_ID).exit_code == 0
    # The history holds the call and its result; the prompt is not shown as pending.
    shown = said(server, "--format", "pretty", expect="⎿ done")
    assert "PERMISSION REQUESTED" not in shown
    assert "⎿ done" in shown


# -- waiting for a state -------------------------------------------------------------------------


@contextmanager
def waiting(srv: SessionsServer, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``sesstail wait …`` as a process, once it is attached to the session's stream."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "sesstail", "wait", SESSION, *args),
            *("--base-url", srv.base_url, "--org", ORG, "--timeout", "20"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
    )
    try:
        deadline = time.monotonic() + 20
        while srv.connection_count < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_wait_until_result_prints_the_result(server: SessionsServer) -> None:
    """wait --until result exits 0 on the next result and prints it with --json."""
    with waiting(server, "--until", "result", "--json") as proc:
        assert sesstail(server, "allow", SESSION, PROMPT_ID).exit_code == 0
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["uuid"] == "m3"  # the turn's result, after the tool ran


def test_wait_is_silent_without_json(server: SessionsServer) -> None:
    """Without --json, wait prints nothing at all, on stdout or stderr."""
    with waiting(server, "--until", "result") as proc:
        assert sesstail(server, "allow", SESSION, PROMPT_ID).exit_code == 0
        out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out, err) == (0, "", "")


def test_wait_until_result_is_not_fooled_by_a_replayed_result() -> None:
    """A session that replays its history on attach: the result of the turn before is no
    answer to `send` then `wait --until result`; the new turn's result is."""
    with serve(ServedSession.from_objects(SESSION, messages(4))) as srv:
        srv.play_ahead(SESSION)  # a finished turn: its result is in the history
        with waiting(srv, "--until", "result", "--json") as proc:
            assert sesstail(srv, "send", SESSION, "and now?").exit_code == 0
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    answer = json.loads(out)
    assert answer["type"] == "result"
    assert answer["uuid"] != "m3"
    assert answer["result"] == "You said: and now?"


def test_wait_until_blocked_prints_the_prompt(server: SessionsServer) -> None:
    """wait --until blocked exits 0 once a permission prompt is pending and prints it."""
    result = sesstail(server, "wait", SESSION, "--until", "blocked", "--json", "--timeout", "5")
    assert result.exit_code == 0
    prompt = json.loads(result.stdout)
    assert prompt["type"] == "control_request"
    assert prompt["request"]["subtype"] == "can_use_tool"
    assert sent(server, expect=1, within=0.3) == []  # none should come


def test_wait_until_result_times_out_while_blocked(server: SessionsServer) -> None:
    """A session stuck on a prompt never reaches a result: exit 7 at the timeout."""
    result = sesstail(server, "wait", SESSION, "--until", "result", "--timeout", "0.5")
    assert result.exit_code == 7
    assert result.stderr == "sesstail: error: the session did not reach result within 0.5 s\n"


def test_wait_until_idle_after_a_result_and_quiet() -> None:
    """idle holds once a result came and no new turn started for the settle time."""
    with serve(ServedSession.from_objects(SESSION, messages(4))) as srv:
        result = sesstail(srv, "wait", SESSION, "--until", "idle", "--settle", "0.2", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["type"] == "result"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_wait_until_idle_on_a_session_already_idle_ends_at_once(api: str) -> None:
    """A session whose last turn ended before wait started is idle: the last messages are
    read once subscribed, so the wait ends after the settle time with that result, instead
    of waiting out --timeout for a turn that may never come (README's scripting example)."""
    with serve(ServedSession.from_objects(SESSION, messages(4))) as srv:
        srv.play_ahead(SESSION)
        started = time.monotonic()
        result = sesstail(
            srv, "wait", SESSION, "--until", "idle", "--settle", "0.2", "--json",
            "--timeout", "10", "--api", api,
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["uuid"] == "m3"
    assert took < 5


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_wait_until_idle_on_a_session_mid_turn_is_not_idle(api: str) -> None:
    """The last messages read at the start show a turn still going (no result after its
    last prompt): not idle, exit 7 at the timeout."""
    with serve(ServedSession.from_objects(SESSION, messages(4)[:-1])) as srv:
        srv.play_ahead(SESSION)
        result = sesstail(
            srv, "wait", SESSION, "--until", "idle", "--settle", "0.2", "--timeout", "1",
            "--api", api,
        )  # fmt: skip
    assert result.exit_code == 7, result.stderr


def test_wait_until_idle_not_fooled_by_an_old_result() -> None:
    """A result followed by a new turn is not idle; the new turn's end is."""
    turn_two = [
        {"type": "user", "uuid": "p2", "message": {"role": "user", "content": "and again"}},
        *messages(3, prefix="t"),
    ]
    objs = messages(3) + turn_two
    with serve(ServedSession.from_objects(SESSION, objs)) as srv:
        result = sesstail(srv, "wait", SESSION, "--until", "idle", "--settle", "0.3", "--json")
    assert json.loads(result.stdout)["uuid"] == "t2"


def test_wait_until_idle_on_a_state_change() -> None:
    """A session_state_changed idle ends the wait at once."""
    objs = [
        *messages(2)[:1],
        {"type": "system", "subtype": "session_state_changed", "state": "idle", "uuid": "s1"},
    ]
    with serve(ServedSession.from_objects(SESSION, objs)) as srv:
        result = sesstail(srv, "wait", SESSION, "--until", "idle", "--json", "--timeout", "5")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["uuid"] == "s1"


def test_wait_until_idle_times_out_while_working() -> None:
    """A session without a result is not idle: exit 7."""
    objs = messages(4)[:-1]
    with serve(ServedSession.from_objects(SESSION, objs)) as srv:
        result = sesstail(srv, "wait", SESSION, "--until", "idle", "--timeout", "0.4")
    assert result.exit_code == 7


def test_wait_until_blocked_times_out_without_a_prompt() -> None:
    """No permission prompt: wait --until blocked exits 7."""
    with serve(ServedSession.from_objects(SESSION, messages(3))) as srv:
        result = sesstail(srv, "wait", SESSION, "--until", "blocked", "--timeout", "0.5")
    assert result.exit_code == 7


# -- the server shows the change -----------------------------------------------------------------


def test_setters_show_their_change_in_the_stream(server: SessionsServer) -> None:
    """After a setter succeeds the session reports the change in a system message."""
    assert sesstail(server, "set-permission-mode", SESSION, "plan").exit_code == 0
    assert sesstail(server, "set-model", SESSION, "claude-opus-4-1").exit_code == 0
    assert sesstail(server, "allow", SESSION, PROMPT_ID).exit_code == 0
    history = said(server, "--json", expect='"result"')
    systems = [
        obj
        for obj in map(json.loads, history.splitlines())
        if obj["type"] == "system" and obj.get("subtype") != "init"
    ]
    assert systems[0]["subtype"] == "status"
    assert systems[0]["permissionMode"] == "plan"
    assert systems[1]["content"] == "Model set to claude-opus-4-1"


# -- the demo ------------------------------------------------------------------------------------


def test_demo_piped_allows_the_prompt_and_ends() -> None:
    """With no terminal, the demo allows its permission prompt (saying so) and still ends."""
    result = CliRunner().invoke(app, ["demo", "--speed", "0", "--json"])
    assert result.exit_code == 0, result.stderr
    assert "demo: no terminal to ask: allowing Edit (perm_01DemoEditDatesPy)" in result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    types = [o["type"] for o in objs]
    prompt_at = types.index("control_request")
    assert objs[prompt_at + 1]["message"]["content"][0]["type"] == "tool_result"
    assert types[-1] == "result"
    assert objs[-1]["subtype"] == "success"


def test_a_request_lost_with_its_connection_is_sent_again_after_the_reconnect() -> None:
    """v1: the link drops after the request and before the answer: same request_id, sent
    again on the new connection."""
    paced = ServedSession.from_objects(SESSION, messages(4), gap=0.3)
    faults = Faults(control_silent=True, drop_after=2, replay_history=False)
    server = SessionsServer([paced], speed=1, token=TOKEN, org=ORG, faults=faults)
    with server_thread(server) as srv:
        result = sesstail(srv, "interrupt", SESSION, "--timeout", "10", "--api", "v1")
        frames = sent(srv)
    assert result.exit_code == 0, result.stderr
    assert srv.connection_count == 2
    assert len(frames) == 2
    assert frames[0] == frames[1]
    assert frames[0]["request"] == {"subtype": "interrupt"}
