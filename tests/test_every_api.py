"""Every command of the README that talks to a session, or lists them, on ``--api v1``,
``--api v2`` and ``auto``, against the embedded server over loopback: the same output and
exit code whichever API carries it, and the API really used is the one asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import ORG, SESSION, TOKEN, messages, session
from sesstail.cli import app
from sesstail.errors import ExitCode
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread
from test_control import PROMPT_ID, prompt_session

APIS = ["v1", "v2", "auto"]


def sesstail(srv: SessionsServer, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        [*args, "--base-url", srv.base_url, "--org", ORG],
        env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
    )


def spoke(srv: SessionsServer, api: str) -> None:
    """The requests ``srv`` saw went to the API asked for (auto: v2, which the server has)."""
    v2 = any(p.startswith("/v1/code/") for p in srv.request_paths)
    v1 = any(p.startswith("/v1/sessions/") for p in srv.request_paths)
    assert (v1, v2) == (api == "v1", api != "v1"), srv.request_paths


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["interrupt", SESSION], f"interrupted {SESSION}\n"),
        (["set-thinking", SESSION, "2048"], "thinking"),
        (["mcp-status", SESSION], "1 of 3 connected"),
        (["context", SESSION], "63,200 / 200,000 tokens"),
    ],
    ids=["interrupt", "set-thinking", "mcp-status", "context"],
)
def test_control_commands_on_every_api(api: str, args: list[str], expect: str) -> None:
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        result = sesstail(srv, *args, "--api", api)
    assert result.exit_code == 0, result.stderr
    assert expect in result.stdout
    spoke(srv, api)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("answer", ["allow", "deny"])
def test_wait_blocked_then_answer_the_prompt_on_every_api(api: str, answer: str) -> None:
    """wait --until blocked sees the prompt; allow/deny answer it; the turn then ends with
    the tool run (allow) or refused (deny): what the session says next shows which."""
    with server_thread(SessionsServer([prompt_session()], speed=0, token=TOKEN, org=ORG)) as srv:
        blocked = sesstail(
            srv, "wait", SESSION, "--until", "blocked", "--json", "--timeout", "5", "--api", api
        )
        answered = sesstail(srv, answer, SESSION, PROMPT_ID, "--api", api)
        history = sesstail(srv, "history", SESSION, "--json", "--api", api)
    assert blocked.exit_code == 0, blocked.stderr
    assert json.loads(blocked.stdout)["request_id"] == PROMPT_ID
    assert answered.exit_code == 0, answered.stderr
    assert answered.stdout == f"{answer}ed {PROMPT_ID}\n".replace("denyed", "denied")
    assert history.exit_code == 0, history.stderr
    said = [json.loads(line) for line in history.stdout.splitlines()]
    assert said[-1]["type"] == "result"
    spoke(srv, api)


@pytest.mark.parametrize("api", APIS)
def test_ls_and_history_on_every_api(api: str) -> None:
    with server_thread(
        SessionsServer([session(4), session(4, "session_01Other")], speed=0, token=TOKEN, org=ORG)
    ) as srv:
        srv.play_ahead(SESSION)
        listed = sesstail(srv, "ls", "--json", "--api", api)
        history = sesstail(srv, "history", SESSION, "-n", "2", "--json", "--api", api)
    assert listed.exit_code == 0, listed.stderr
    ids = sorted(json.loads(line)["id"] for line in listed.stdout.splitlines())
    assert ids == sorted([SESSION, "session_01Other"])
    assert history.exit_code == 0, history.stderr
    assert [json.loads(line)["uuid"] for line in history.stdout.splitlines()] == ["m2", "m3"]


@pytest.mark.parametrize("api", APIS)
def test_watch_last_messages_to_the_next_result_on_every_api(api: str, tmp_path: Path) -> None:
    """watch -n 2 --until result --json: the last two messages said, then live to the end of
    the next turn, which a send starts."""
    stderr = tmp_path / "stderr"
    with (
        server_thread(SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)) as srv,
        stderr.open("w") as err,
    ):
        srv.play_ahead(SESSION)
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "sesstail", "watch", SESSION, "-n", "2", "--json"),
                *("--until", "result", "--api", api, "--base-url", srv.base_url, "--org", ORG),
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the history is shown before the live stream opens
        posted = sesstail(srv, "send", SESSION, "and now?", "--api", api)
        # Only stdout is a pipe, so this reads on from what readline left in its buffer.
        rest = proc.stdout.read()
        proc.stdout.close()
        proc.wait(timeout=20)
    assert posted.exit_code == 0, posted.stderr
    assert proc.returncode == 0, stderr.read_text()
    shown = [json.loads(line) for line in [first, *rest.splitlines()]]
    assert [o.get("uuid") for o in shown[:2]] == ["m2", "m3"]
    assert shown[-1]["type"] == "result"
    assert "You said: and now?" in shown[-1]["result"]
    assert len({json.dumps(o, sort_keys=True) for o in shown}) == len(shown)  # none twice
    spoke(srv, api)


@pytest.mark.parametrize("api", APIS)
def test_top_json_on_every_api(api: str) -> None:
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "sesstail", "top", "--json", "--api", api),
                *("--base-url", srv.base_url, "--org", ORG),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.terminate()
        proc.communicate(timeout=20)
    assert json.loads(first)["id"] == SESSION
    v2_list = any(p.startswith("/v1/code/sessions") for p in srv.request_paths)
    assert v2_list == (api != "v1"), srv.request_paths


@pytest.mark.parametrize(("api", "spoken"), [("v1", "v1"), ("v2", "v2"), ("auto", "v2")])
def test_verbose_names_the_api_whichever_way_it_was_chosen(api: str, spoken: str) -> None:
    """-v says which API carries the session: forced or chosen by auto alike."""
    with server_thread(
        SessionsServer(
            [session(3)], speed=0, token=TOKEN, org=ORG, faults=Faults(end_with_close=True)
        )
    ) as srv:
        result = sesstail(srv, "watch", SESSION, "--json", "-v", "--api", api)
    assert result.exit_code == 0, result.stderr
    assert f"sesstail: speaking the {spoken} API" in result.stderr
    assert f"speaking the {'v2' if spoken == 'v1' else 'v1'} API" not in result.stderr


@pytest.mark.parametrize("api", APIS)
def test_wait_idle_on_a_session_whose_turn_already_ended_holds_at_once(api: str) -> None:
    """wait --until idle on a session that finished before the wait began: its history says
    so (the live stream never will), and the result that ended the turn is printed."""
    with server_thread(SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)) as srv:
        srv.play_ahead(SESSION)
        result = sesstail(
            srv,
            "wait",
            SESSION,
            "--until",
            "idle",
            "--settle",
            "0.2",
            "--json",
            "--timeout",
            "10",
            "--api",
            api,
        )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["uuid"] == "m3"
    spoke(srv, api)


IDLE_THEN_AT_WORK = [
    {"type": "system", "subtype": "session_state_changed", "state": "idle", "uuid": "s1"},
    {"type": "user", "uuid": "p2", "message": {"role": "user", "content": "and again"}},
    {"type": "assistant", "uuid": "a2", "message": {"id": "x", "content": []}},
]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "objs", [messages(4)[:-1], IDLE_THEN_AT_WORK], ids=["no-result", "idle-then-a-new-turn"]
)
def test_wait_idle_on_a_session_at_work_waits_for_its_turn_to_end(
    api: str, objs: list[dict[str, object]]
) -> None:
    """The history shows a turn under way (no result, or an old idle state followed by a
    new prompt): not idle."""
    with server_thread(
        SessionsServer([ServedSession.from_objects(SESSION, objs)], speed=0, token=TOKEN, org=ORG)
    ) as srv:
        srv.play_ahead(SESSION)
        result = sesstail(
            srv,
            "wait",
            SESSION,
            "--until",
            "idle",
            "--settle",
            "0.2",
            "--timeout",
            "1.5",
            "--api",
            api,
        )
    assert result.exit_code == ExitCode.TIMEOUT, result.stderr


def test_wait_idle_without_a_history_goes_on_with_the_live_stream() -> None:
    """v1: the history cannot be read: -v says so, and the wait goes on live (here to its
    timeout: the session said its last word before the wait), rather than failing."""
    with server_thread(SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)) as srv:
        srv.play_ahead(SESSION)
        srv.rest.faults.statuses = [500] * 10
        result = sesstail(
            srv, "wait", SESSION, "--until", "idle", "--timeout", "2", "-v", "--api", "v1"
        )
    assert result.exit_code == ExitCode.TIMEOUT, result.stderr
    assert "could not read the history" in result.stderr
    assert "going on with the live stream" in result.stderr


@pytest.mark.parametrize("api", ["v2", "auto"])
def test_wait_blocked_on_a_session_already_waiting_for_permission(api: str) -> None:
    """A prompt asked before the wait began is pending all the same (v2's history keeps
    prompts); once answered, it no longer is."""
    with server_thread(SessionsServer([prompt_session()], speed=0, token=TOKEN, org=ORG)) as srv:
        first = sesstail(srv, "wait", SESSION, "--until", "blocked", "--timeout", "5", "--api", api)
        later = sesstail(
            srv, "wait", SESSION, "--until", "blocked", "--json", "--timeout", "5", "--api", api
        )
        answered = sesstail(srv, "allow", SESSION, PROMPT_ID, "--api", api)
        after = sesstail(
            srv, "wait", SESSION, "--until", "blocked", "--timeout", "1.5", "--api", api
        )
    assert first.exit_code == 0, first.stderr
    assert later.exit_code == 0, later.stderr
    assert json.loads(later.stdout)["request_id"] == PROMPT_ID
    assert answered.exit_code == 0, answered.stderr
    assert after.exit_code == ExitCode.TIMEOUT, after.stderr


@pytest.mark.parametrize(("variable", "option", "used"), [("v1", None, "v1"), ("v1", "v2", "v2")])
def test_sesstail_api_variable_chooses_and_the_option_beats_it(
    variable: str, option: str | None, used: str
) -> None:
    """SESSTAIL_API=v1 makes a command speak v1; --api on the command line beats it."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        result = CliRunner().invoke(
            app,
            [
                *("interrupt", SESSION, "--base-url", srv.base_url, "--org", ORG),
                *(("--api", option) if option else ()),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN, "SESSTAIL_API": variable},
        )
    assert result.exit_code == 0, result.stderr
    spoke(srv, used)
