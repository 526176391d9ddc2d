"""The conventions of gh, stern and kubectl, end to end against the embedded server:
--exit-status, --until any-of, -o json, --color always into a pipe, the SESSTAIL_*
variables, remote --since, --timestamps short|full, ls into a pipe, the help text."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conftest import ORG, SESSION, TOKEN, messages, sent, session
from sesstail.cli import app
from sesstail.errors import ExitCode
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread

FAST = ["--retry-delay", "0.01", "--retries", "2", "--open-timeout", "2"]
APIS = pytest.mark.parametrize("api", ["v1", "v2", "auto"])


@contextmanager
def serving(*sessions: ServedSession, **faults: Any) -> Iterator[SessionsServer]:
    server = SessionsServer(
        list(sessions) or [session()],
        speed=0,
        token=TOKEN,
        org=ORG,
        faults=Faults(end_with_close=True, **faults),
    )
    with server_thread(server) as srv:
        yield srv


def sesstail(
    srv: SessionsServer | None, *args: str, env: dict[str, str] | None = None, org: bool = True
) -> Result:
    base = ["--base-url", srv.base_url] if srv is not None else []
    if srv is not None and org:
        base += ["--org", ORG]
    return CliRunner().invoke(
        app, [*args, *base], env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN, **(env or {})}
    )


def watch(srv: SessionsServer, *args: str, env: dict[str, str] | None = None) -> Result:
    return sesstail(srv, "watch", SESSION, *args, *FAST, env=env)


def uuids(output: str) -> list[str]:
    return [json.loads(line).get("uuid") for line in output.splitlines() if line.strip()]


def failing_session(subtype: str = "error_during_execution") -> ServedSession:
    objs = messages(4)
    objs[-1] = {**objs[-1], "subtype": subtype, "is_error": True}
    return ServedSession.from_objects(SESSION, objs)


# -- exit status -------------------------------------------------------------------------


@APIS
def test_exit_status_makes_an_error_result_exit_9(api: str) -> None:
    with serving(failing_session()) as srv:
        plain = watch(srv, "--until", "result", "--json", "--api", api)
    with serving(failing_session()) as srv:
        strict = watch(srv, "--until", "result", "--exit-status", "--json", "--api", api)
    assert plain.exit_code == ExitCode.OK, plain.stderr
    assert strict.exit_code == 9, strict.stderr
    assert int(ExitCode.RESULT_ERROR) == 9
    assert uuids(strict.stdout)[-1] == "m3"  # the result was shown before exiting


def test_exit_status_on_a_successful_result_is_0() -> None:
    with serving(session(4)) as srv:
        result = watch(srv, "--until", "result", "--exit-status", "--json")
    assert result.exit_code == 0, result.stderr


def test_exit_status_counts_an_is_error_success_as_an_error() -> None:
    objs = messages(4)
    objs[-1] = {**objs[-1], "is_error": True}  # subtype stays "success"
    with serving(ServedSession.from_objects(SESSION, objs)) as srv:
        result = watch(srv, "--until", "result", "--exit-status", "--json")
    assert result.exit_code == 9, result.stderr


def test_exit_status_needs_until() -> None:
    result = sesstail(None, "watch", SESSION, "--exit-status")
    assert result.exit_code == ExitCode.USAGE
    assert "--exit-status goes with --until" in result.stderr


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_wait_exit_status(api: str) -> None:
    with serving(failing_session("error_max_turns")) as srv:
        strict = sesstail(srv, "wait", SESSION, "--until", "result", "--exit-status", "--api", api)
    with serving(failing_session("error_max_turns")) as srv:
        plain = sesstail(srv, "wait", SESSION, "--until", "result", "--api", api)
    assert strict.exit_code == 9, strict.stderr
    assert plain.exit_code == 0, plain.stderr


# -- --until any of ----------------------------------------------------------------------


def test_until_repeated_means_any_of() -> None:
    """The first message matching either pattern ends the watch: the first assistant reply
    here, long before the result."""
    with serving(session(6)) as srv:
        result = watch(srv, "--until", "result", "--until", "assistant", "--json")
    assert result.exit_code == 0, result.stderr
    assert uuids(result.stdout) == ["m0", "m1"]


# -- output formats ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags", [["-o", "json"], ["--output", "json"], ["--format", "json"], ["-o", "jsonl"]]
)
def test_json_aliases(flags: list[str]) -> None:
    with serving(session(4)) as srv:
        result = watch(srv, *flags, "--color", "always")  # --format beats --color always
    assert result.exit_code == 0, result.stderr
    assert uuids(result.stdout) == ["m0", "m1", "m2", "m3"]


@pytest.mark.parametrize("flags", [["-o", "json"], ["--output=json"], ["--format", "JSON"]])
def test_json_aliases_where_there_is_only_json(flags: list[str]) -> None:
    """ls, wait and the control commands take -o json for their --json, as watch does."""
    with serving(session(4), session(4, "session_01Other")) as srv:
        listed = sesstail(srv, "ls", *flags)
    with server_thread(SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)) as srv:
        answer = sesstail(srv, "interrupt", SESSION, *flags)
    with serving(failing_session()) as srv:
        waited = sesstail(srv, "wait", SESSION, "--until", "result", "--exit-status", *flags)
    assert listed.exit_code == answer.exit_code == 0, listed.stderr + answer.stderr
    assert sorted(json.loads(line)["id"] for line in listed.stdout.splitlines()) == sorted(
        [SESSION, "session_01Other"]
    )
    assert json.loads(answer.stdout)["type"] == "control_response"
    assert waited.exit_code == 9, waited.stderr
    assert uuids(waited.stdout) == ["m3"]


def test_an_output_alias_takes_only_json() -> None:
    result = sesstail(None, "ls", "-o", "yaml")
    assert result.exit_code == ExitCode.USAGE
    assert "'yaml' is not one of 'json', 'jsonl'" in result.stderr


def test_color_always_into_a_pipe_draws_pretty_in_colour() -> None:
    with serving(session(4)) as srv:
        result = watch(srv, "--color", "always")
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" in result.stdout
    assert not result.stdout.lstrip().startswith("{")
    assert "line 1" in result.stdout


def test_format_beats_color_always() -> None:
    with serving(session(4)) as srv:
        result = watch(srv, "--color", "always", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert uuids(result.stdout) == ["m0", "m1", "m2", "m3"]


# -- environment variables ---------------------------------------------------------------


def test_sesstail_format_and_the_option_that_beats_it() -> None:
    env = {"SESSTAIL_FORMAT": "pretty"}
    with serving(session(4)) as srv:
        pretty = watch(srv, "--color", "never", env=env)
    with serving(session(4)) as srv:
        json_lines = watch(srv, "--json", env=env)
    assert pretty.exit_code == 0, pretty.stderr
    assert "line 1" in pretty.stdout
    assert not pretty.stdout.lstrip().startswith("{")
    assert json_lines.exit_code == 0, json_lines.stderr
    assert uuids(json_lines.stdout) == ["m0", "m1", "m2", "m3"]


def test_a_bad_sesstail_format_is_a_usage_error() -> None:
    result = sesstail(None, "watch", SESSION, env={"SESSTAIL_FORMAT": "yaml\x1b[31m"})
    assert result.exit_code == ExitCode.USAGE
    assert "SESSTAIL_FORMAT" in result.stderr
    assert "expected pretty, jsonl or json" in result.stderr
    assert "\x1b" not in result.stderr


def test_sesstail_color_and_the_option_that_beats_it() -> None:
    env = {"SESSTAIL_COLOR": "always"}
    with serving(session(4)) as srv:
        coloured = watch(srv, env=env)
    with serving(session(4)) as srv:
        plain = watch(srv, "--color", "never", "--format", "pretty", env=env)
    assert "\x1b[" in coloured.stdout
    assert "\x1b[" not in plain.stdout
    assert "line 1" in plain.stdout


def test_sesstail_org_and_the_option_that_beats_it() -> None:
    with serving(session(4)) as srv:
        from_env = sesstail(
            srv, "watch", SESSION, "--json", *FAST, env={"SESSTAIL_ORG": ORG}, org=False
        )
        beaten = sesstail(
            srv,
            "watch",
            SESSION,
            "--json",
            *FAST,
            env={"SESSTAIL_ORG": "99999999-9999-4999-8999-999999999999"},
        )
    assert from_env.exit_code == 0, from_env.stderr
    assert uuids(from_env.stdout)[:1] == ["m0"]
    assert beaten.exit_code == 0, beaten.stderr  # --org ORG beat the wrong variable


def test_sesstail_api_and_the_option_that_beats_it() -> None:
    env = {"SESSTAIL_API": "v1"}
    with serving(session(4)) as srv:
        from_env = watch(srv, "--json", "-v", env=env)
    with serving(session(4)) as srv:
        beaten = watch(srv, "--json", "-v", "--api", "v2", env=env)
    assert from_env.exit_code == 0, from_env.stderr
    assert "/v1/sessions/ws/" in from_env.stderr
    assert "speaking the v2 API" not in from_env.stderr
    assert beaten.exit_code == 0, beaten.stderr
    assert "/events/stream" in beaten.stderr
    assert uuids(from_env.stdout) == uuids(beaten.stdout) == ["m0", "m1", "m2", "m3"]


def test_variables_are_listed_in_the_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    for name in ("SESSTAIL_API", "SESSTAIL_ORG", "SESSTAIL_FORMAT", "SESSTAIL_COLOR"):
        assert name in result.stdout


# -- remote --since ----------------------------------------------------------------------


def timed_session(before: float, after: float) -> ServedSession:
    objs = messages(12)
    for i, obj in enumerate(objs):
        when = before if i < 6 else after
        obj["timestamp"] = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
    return ServedSession.from_objects(SESSION, objs)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize(("extra", "first"), [([], 6), (["-n", "2"], 7)])
def test_since_shows_the_history_from_then_and_the_live_stream(
    api: str, extra: list[str], first: int
) -> None:
    """Six messages said an hour ago, three just now, three live: --since half an hour ago
    shows the last six (and -n 2 the last two of those), then the live ones, each once.
    (v1 is live-only: the server plays the live three as the watch subscribes, so its
    history may already hold them; then -n 2 is the last two of all.)"""
    now = time.time()
    with serving(timed_session(now - 3600, now)) as srv:
        srv.play_ahead(SESSION, 6)
        time.sleep(0.3)  # v2 dates its events by when they were played
        middle = time.time()
        time.sleep(0.3)
        srv.play_ahead(SESSION, 9)
        since = iso(middle) if api == "v2" else iso(now - 1800)
        result = watch(srv, "--since", since, "--json", "--api", api, *extra)
    assert result.exit_code == 0, result.stderr
    shown = [int(u[1:]) for u in uuids(result.stdout)]
    assert shown == list(range(shown[0], 12))
    assert shown[0] == first or (api == "v1" and extra and shown[0] == 10)


def test_since_takes_a_duration() -> None:
    now = time.time()
    with serving(timed_session(now - 3600, now)) as srv:
        srv.play_ahead(SESSION, 9)
        result = watch(srv, "--since", "30m", "--json", "--api", "v1")
    assert result.exit_code == 0, result.stderr
    assert uuids(result.stdout) == [f"m{i}" for i in range(6, 12)]


def test_replay_since_keeps_what_was_said_from_then(tmp_path: Path) -> None:
    """By each message's own time, else its recording time; a message with neither takes the
    time of the one before it."""
    objs = messages(5)
    objs[1]["timestamp"] = "2025-03-14T09:11:00Z"
    objs[3]["timestamp"] = "2025-03-14T09:13:00Z"
    recording = tmp_path / "rec.jsonl"
    recording.write_text(
        "".join(
            json.dumps({"recorded_at": 1_741_943_400 + i * 60, "message": m}) + "\n"
            for i, m in enumerate(objs)  # 09:10, 09:11, 09:12, 09:13, 09:14 UTC
        ),
        encoding="utf-8",
    )
    capture = tmp_path / "capture.jsonl"
    capture.write_text("".join(json.dumps(m) + "\n" for m in objs), encoding="utf-8")
    late = sesstail(None, "replay", str(recording), "--since", "2025-03-14T09:11:30Z", "--json")
    inherited = sesstail(None, "replay", str(capture), "--since", "2025-03-14T09:12:30Z")
    recent = sesstail(None, "replay", str(recording), "--since", "10m", "--json")
    assert late.exit_code == inherited.exit_code == recent.exit_code == 0, late.stderr
    assert uuids(late.stdout) == ["m2", "m3", "m4"]
    # m0 has no time and none before it: kept; m2 takes m1's 09:11, m4 takes m3's 09:13.
    assert uuids(inherited.stdout) == ["m0", "m3", "m4"]
    assert recent.stdout == ""


def test_a_bad_since_is_a_usage_error_before_connecting() -> None:
    result = sesstail(None, "watch", SESSION, "--since", "yesterday-ish")
    assert result.exit_code == ExitCode.USAGE
    assert "invalid time" in result.stderr


# -- timestamps --------------------------------------------------------------------------


def test_timestamps_alone_means_short_even_before_the_session() -> None:
    with serving(session(4)) as srv:
        result = sesstail(
            srv, "watch", "--timestamps", SESSION, "--format", "pretty", "--color", "never", *FAST
        )
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^\d\d:\d\d:\d\d ", result.stdout, re.MULTILINE)


def test_timestamps_full_has_the_date_and_the_zone() -> None:
    with serving(session(4)) as srv:
        result = watch(srv, "--timestamps", "full", "--format", "pretty", "--color", "never")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", result.stdout)


def test_a_replayed_recording_shows_its_own_old_time(tmp_path: Path) -> None:
    """Last year's recording shows last year's date, from each message's timestamp, and from
    the recording time for a message without one; never today's clock."""
    objs = messages(3)
    objs[0]["timestamp"] = "2025-03-14T09:10:00Z"
    objs[1]["timestamp"] = "2025-03-14T09:11:30.250+01:00"
    lines = [{"recorded_at": 1_741_943_400 + i * 60, "message": m} for i, m in enumerate(objs)]
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    args = ["replay", str(path), "--format", "pretty", "--color", "never", "--timestamps"]
    full = sesstail(None, *args, "full", env={"TZ": "UTC"})
    short = sesstail(None, *args, env={"TZ": "UTC"})
    assert full.exit_code == short.exit_code == 0, full.stderr + short.stderr
    stamps = re.findall(r"^(\S+) ", full.stdout, re.MULTILINE)
    assert stamps[:3] == [
        "2025-03-14T09:10:00+00:00",
        "2025-03-14T08:11:30+00:00",
        "2025-03-14T09:12:00+00:00",  # recorded_at of the result, which has no timestamp
    ]
    assert re.findall(r"^(\d\d:\d\d:\d\d) ", short.stdout, re.MULTILINE)[:3] == [
        "09:10:00",
        "08:11:30",
        "09:12:00",
    ]


def test_timestamps_take_no_other_value() -> None:
    result = sesstail(None, "watch", SESSION, "--timestamps=long")
    assert result.exit_code == ExitCode.USAGE


# -- permission modes --------------------------------------------------------------------


@APIS
def test_an_address_without_its_scheme_is_a_session(api: str) -> None:
    with serving(session(4)) as srv:
        result = sesstail(srv, "watch", f"claude.ai/code/{SESSION}", "--json", "--api", api, *FAST)
    assert result.exit_code == 0, result.stderr
    assert uuids(result.stdout) == ["m0", "m1", "m2", "m3"]


@APIS
@pytest.mark.parametrize(("typed", "sent_as"), [("acceptedits", "acceptEdits"), ("PLAN", "plan")])
def test_permission_modes_match_in_any_case(typed: str, sent_as: str, api: str) -> None:
    server = SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)
    with server_thread(server) as srv:
        result = sesstail(srv, "set-permission-mode", SESSION, typed, "--api", api)
        frames = sent(srv, expect=1)
    assert result.exit_code == 0, result.stderr
    assert frames[0]["request"] == {"subtype": "set_permission_mode", "mode": sent_as}


# -- ls into a pipe ----------------------------------------------------------------------


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_ls_into_a_pipe_is_tab_separated_without_a_header(api: str) -> None:
    with serving(session(4), session(4, "session_01Other")) as srv:
        result = sesstail(srv, "ls", "--api", api)
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert sorted(row[0] for row in rows) == sorted([SESSION, "session_01Other"])
    assert all(len(row) == 5 for row in rows)
    assert "ID" not in result.stdout.split("\t")[0]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_ls_into_a_pipe_shows_a_titles_control_characters_as_escapes(api: str) -> None:
    """A title holding a tab, CR, LF or ESC stays one field of one row, each of them shown
    as a visible escape (as the table and top show them), none hidden as a space."""
    titled = session(4)
    titled.title = "deploy\tnow\recho ok\nsesstail: hint\x1b[2J"
    with serving(titled) as srv:
        result = sesstail(srv, "ls", "--api", api)
    assert result.exit_code == 0, result.stderr
    [row] = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(row) == 5
    assert row[1] == "deploy\\x09now\\x0decho ok\\x0asesstail: hint\\x1b[2J"


# -- help --------------------------------------------------------------------------------

COMMANDS = [
    "watch",
    "wait",
    "interrupt",
    "set-model",
    "set-permission-mode",
    "set-thinking",
    "mcp-status",
    "context",
    "control",
    "allow",
    "deny",
    "ls",
    "history",
    "open",
    "send",
    "replay",
    "demo",
    "serve",
    "top",
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("columns", ["60", "80", "120"])
def test_help_reads_as_words(command: str, columns: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": columns})
    assert result.exit_code == 0
    text = result.stdout
    assert not re.search(r"<[a-z ]+>", text)  # <str>, <float range>, …
    assert not re.search(r"\b(TEXT|INTEGER|FLOAT|BOOLEAN|FILENAME|PATH)\b", text)  # click's
    usage = text.split("\n\n")[0].split()
    assert usage[:3] == ["Usage:", "sesstail", command]  # no word broken across lines
    for piece in usage[3:]:  # SESSION, MODEL, [FILE]...: not {session_id}, model or files
        assert "{" not in piece, piece
        assert "|" in piece or piece == piece.upper(), piece
    if "--verbose" not in text:
        assert "implies -v" not in text


def test_history_offers_no_keepalive() -> None:
    assert "--keepalive" not in CliRunner().invoke(app, ["history", "--help"]).stdout


def test_a_missing_choice_lists_them_on_one_line() -> None:
    result = CliRunner().invoke(app, ["wait", SESSION])
    assert result.exit_code == ExitCode.USAGE
    assert "Choose from: result, idle, blocked" in result.stderr
    mode = CliRunner().invoke(app, ["set-permission-mode", SESSION])
    assert "Choose from: default, acceptEdits, bypassPermissions, plan, dontAsk\n" in mode.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["set-permission-mode", SESSION, "acceptedit"],
            "'acceptedit' is not one of 'default', 'acceptEdits', 'bypassPermissions', "
            "'plan', 'dontAsk'; did you mean 'acceptEdits'?",
        ),
        (["wait", SESSION, "--until", "reslt"], "; did you mean 'result'?"),
        (["ls", "--status", "runing"], "; did you mean 'running'?"),
        (["watch", SESSION, "--api", "v3"], "is not one of 'auto', 'v1', 'v2'."),
    ],
)
def test_a_wrong_choice_names_them_as_spelled_and_the_nearest(
    args: list[str], expected: str
) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == ExitCode.USAGE
    assert expected in " ".join(result.stderr.split())  # as one line, however wide


def test_the_installed_command_accepts_a_bare_timestamps_flag() -> None:
    """Through the console entry point (main), as a shell runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "sesstail", "watch", "--timestamps", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "short|full" in proc.stdout


# -- filters inside messages, type typos, the summary line -------------------------------


def tool_session() -> ServedSession:
    """A Bash call and its result, a Read call and its result, a reply, the result."""

    def call(uuid: str, tool_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
        return {
            "type": "assistant",
            "uuid": uuid,
            "session_id": SESSION,
            "message": {"id": f"msg_{uuid}", "content": [block]},
        }

    def result(uuid: str, tool_id: str, text: str) -> dict[str, Any]:
        block = {"type": "tool_result", "tool_use_id": tool_id, "content": text}
        return {
            "type": "user",
            "uuid": uuid,
            "session_id": SESSION,
            "message": {"role": "user", "content": [block]},
        }

    objs = messages(3)
    return ServedSession.from_objects(
        SESSION,
        [
            objs[0],
            call("bash", "toolu_b", "Bash", {"command": "pytest -q"}),
            result("bash-out", "toolu_b", "3 passed"),
            call("read", "toolu_r", "Read", {"file_path": "/src/app.py"}),
            result("read-out", "toolu_r", "import os"),
            objs[1],
            objs[2],
        ],
    )


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_tool_keeps_that_tools_calls_and_results(api: str) -> None:
    with serving(tool_session()) as srv:
        result = watch(srv, "--tool", "bash", "--json", "--api", api)
    assert result.exit_code == 0, result.stderr
    assert uuids(result.stdout) == ["bash", "bash-out", "m2"]  # and the turn's result


def test_tool_in_pretty_output() -> None:
    with serving(tool_session()) as srv:
        result = watch(srv, "--tool", "Read", "--format", "pretty", "--color", "never")
    assert result.exit_code == 0, result.stderr
    assert "app.py" in result.stdout
    assert "pytest -q" not in result.stdout


@pytest.mark.parametrize("fmt", ["jsonl", "pretty"])
def test_grep_keeps_the_messages_whose_text_matches(fmt: str) -> None:
    with serving(tool_session()) as srv:
        result = watch(srv, "--grep", r"\d passed", "--format", fmt, "--color", "never")
    assert result.exit_code == 0, result.stderr
    if fmt == "jsonl":
        assert uuids(result.stdout) == ["bash-out"]
    else:
        assert "3 passed" in result.stdout
        assert "app.py" not in result.stdout


@pytest.mark.parametrize("fmt", ["jsonl", "pretty"])
def test_exclude_grep_drops_the_messages_whose_text_matches(fmt: str) -> None:
    with serving(tool_session()) as srv:
        result = watch(srv, "--exclude-grep", "passed|import", "--format", fmt, "--color", "never")
    assert result.exit_code == 0, result.stderr
    if fmt == "jsonl":
        assert uuids(result.stdout) == ["m0", "bash", "read", "m1", "m2"]
    else:
        assert "pytest -q" in result.stdout
        assert "3 passed" not in result.stdout
        assert "import os" not in result.stdout


def test_an_invalid_grep_is_a_usage_error() -> None:
    result = sesstail(None, "watch", SESSION, "--grep", "(unclosed")
    assert result.exit_code == ExitCode.USAGE
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flag", "typo", "nearest"),
    [("-t", "resutl", "result"), ("--until", "reslt", "result"), ("-t", "System", "system")],
)
def test_a_type_typo_is_warned_about_and_still_used(flag: str, typo: str, nearest: str) -> None:
    with serving(session(4)) as srv:
        result = watch(srv, flag, typo, "--json")
    assert result.exit_code == 0, result.stderr
    assert f"did you mean '{nearest}'" in result.stderr
    assert "known types:" in result.stderr


def test_a_known_type_is_not_warned_about() -> None:
    with serving(session(4)) as srv:
        result = watch(srv, "-t", "result", "-x", "system/init", "--json")
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    assert uuids(result.stdout) == ["m3"]


def test_a_pretty_watch_ends_with_a_summary_line() -> None:
    with serving(session(4)) as srv:
        pretty = watch(srv, "--format", "pretty", "--color", "never")
        quiet = watch(srv, "--format", "pretty", "--color", "never", "-q")
        piped = watch(srv, "--json")
    assert pretty.exit_code == 0, pretty.stderr
    assert pretty.stderr.splitlines()[-1] == "sesstail: 4 messages, 1 turn, $0.01 so far"
    assert "so far" not in quiet.stderr
    assert "so far" not in piped.stderr


def test_the_summary_counts_the_turns_the_filters_hide() -> None:
    with serving(session(4)) as srv:
        result = watch(srv, "-t", "assistant", "--format", "pretty", "--color", "never")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "sesstail: 2 messages, 1 turn, $0.01 so far"


def test_no_summary_when_the_watch_fails_before_showing_anything() -> None:
    with serving(session(4)) as srv:
        result = sesstail(srv, "watch", "session_01Missing", "--format", "pretty", *FAST)
    assert result.exit_code == ExitCode.NOT_FOUND, result.stderr
    assert "messages" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("sesstail: hint:")


@pytest.fixture
def ctrl_c_reaches_children() -> Iterator[None]:
    """Children start with SIGINT at its default, as from a shell's foreground (test_cli)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_reaches_children")
@pytest.mark.parametrize(
    ("sent", "code", "said"),
    [
        (signal.SIGINT, ExitCode.INTERRUPTED, "interrupted"),
        # `timeout` or `kill`: ended as on Ctrl-C, with its own code (128 + 15).
        (signal.SIGTERM, ExitCode.TERMINATED, "terminated"),
    ],
)
def test_a_signal_ends_a_pretty_watch_with_its_summary_line(
    sent: signal.Signals, code: ExitCode, said: str
) -> None:
    """A real process, a real SIGINT or SIGTERM: the summary, then what ended it."""
    server = SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)  # stays open
    with server_thread(server) as srv:
        argv = [sys.executable, "-m", "sesstail", "watch", SESSION, "--base-url", srv.base_url]
        argv += ["--org", ORG, "--format", "pretty", "--color", "never", *FAST]
        proc = subprocess.Popen(
            argv,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        seen = ""
        while "success" not in seen:  # the result's footer: all four drawn
            line = proc.stdout.readline()
            assert line, "the watch ended before its result"
            seen += line
        proc.send_signal(sent)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert int(ExitCode.TERMINATED) == 128 + signal.SIGTERM
    assert err.splitlines()[-2:] == [
        "sesstail: 4 messages, 1 turn, $0.01 so far",
        f"sesstail: {said}",
    ]


def test_a_rule_between_the_history_and_the_live_stream() -> None:
    """v2 reads the history before the stream starts: the split is exact. (Over v1 the live
    messages may be in the history read too; the renderer's rule is tested on its own.)"""
    with serving(session(8)) as srv:
        srv.play_ahead(SESSION, 4)
        result = watch(srv, "-n", "2", "--format", "pretty", "--color", "never", "--api", "v2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("── live ─")]
    assert len(rules) == 1
    before, after = "\n".join(lines[: rules[0]]), "\n".join(lines[rules[0] :])
    assert "line 3" in before  # the last two of the four played before: m2, m3
    assert "line 4" in after


def test_no_rule_without_history() -> None:
    with serving(session(4)) as srv:
        result = watch(srv, "--format", "pretty", "--color", "never")
    assert "── live" not in result.stdout


@pytest.mark.parametrize("width", [60, 120])
def test_the_renderer_draws_one_rule_where_the_history_ends(width: int) -> None:
    import io

    from sesstail.protocol import Message
    from sesstail.render.pretty import PrettyRenderer

    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, width=width, label="s1")
    for i, obj in enumerate(messages(6)):
        renderer.message(Message(json.dumps(obj), obj, time.time(), backfill=i < 3))
    renderer.close()
    lines = out.getvalue().splitlines()
    rules = [line for line in lines if "── live ─" in line]
    assert len(rules) == 1
    assert rules[0].startswith("s1 ── live ─")
    assert len(rules[0]) <= width
    assert lines.index(rules[0]) > next(i for i, line in enumerate(lines) if "line 2" in line)


def test_sigterm_still_ends_a_watch_whose_ctrl_c_is_ignored() -> None:
    """A watch started in the background by a script ignores SIGINT: SIGTERM, which the
    watch turns into an interrupt, must still end it (as the default action would)."""
    server = SessionsServer([session(4)], speed=0, token=TOKEN, org=ORG)  # stays open
    with server_thread(server) as srv:
        argv = [sys.executable, "-m", "sesstail", "watch", SESSION, "--base-url", srv.base_url]
        argv += ["--org", ORG, "--json", *FAST]
        proc = subprocess.Popen(
            argv,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        assert proc.stdout is not None
        assert proc.stdout.readline()  # streaming
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM
