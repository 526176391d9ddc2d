"""Around the stream, end to end against the embedded server: ls, history, send, open,
watch --history (backfill) and several sessions in one watch."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import ORG, SESSION, TOKEN, messages, refusing_port, session
from sesstail.cli import app
from sesstail.credentials import Token
from sesstail.errors import ExitCode
from sesstail.multi import session_labels, worst
from sesstail.secrets import Secret
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread
from sesstail.sessions_api import SessionsApi

FAST = ["--retry-delay", "0.01", "--retries", "2", "--open-timeout", "2"]


@contextmanager
def serving(*sessions: ServedSession, **kwargs: Any) -> Iterator[SessionsServer]:
    kwargs.setdefault("speed", 0)
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("org", ORG)
    with server_thread(SessionsServer(sessions or [session()], **kwargs)) as server:
        yield server


def invoke(server: SessionsServer, *args: str, token: str = TOKEN, stdin: str | None = None) -> Any:
    base = ["--base-url", server.base_url, "--org", ORG]
    return CliRunner().invoke(
        app, [*args, *base], env={"CLAUDE_CODE_OAUTH_TOKEN": token}, input=stdin
    )


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def uuids(output: str) -> list[str]:
    return [m["uuid"] for m in lines(output) if "uuid" in m]


def api_for(server: SessionsServer) -> SessionsApi:
    return SessionsApi(server.base_url, ORG, lambda: Token(Secret(TOKEN), "test"), retry_delay=0)


def many_sessions(count: int) -> list[ServedSession]:
    return [session(3, f"session_01S{i:02d}") for i in range(count)]


# -- ls ------------------------------------------------------------------------------------


def test_ls_follows_has_more_up_to_the_limit() -> None:
    """v1: ls pages with after_id while has_more says so, and stops at --limit."""
    with serving(*many_sessions(7)) as server:
        server.rest.max_page = 2
        result = invoke(server, "ls", "--json", "--limit", "5", "--api", "v1")
    assert result.exit_code == 0, result.stderr
    assert [s["id"] for s in lines(result.stdout)] == [f"session_01S{i:02d}" for i in range(5)]
    listed = [p for p in server.request_paths if p.startswith("/v1/sessions?")]
    assert len(listed) == 3
    assert "after_id=session_01S01" in listed[1]


def test_ls_status_filter_reads_on_until_enough_match() -> None:
    """--status keeps only that status, reading further pages until --limit of them match."""
    with serving(*many_sessions(7)) as server:
        server.rest.max_page = 2
        for name in ("session_01S01", "session_01S04", "session_01S06"):
            server.rest.statuses[name] = "requires_action"
        result = invoke(server, "ls", "--json", "--status", "requires_action", "--limit", "2")
        everything = invoke(server, "ls", "--json", "--status", "requires_action")
    assert [s["id"] for s in lines(result.stdout)] == ["session_01S01", "session_01S04"]
    assert [s["id"] for s in lines(everything.stdout)] == [
        "session_01S01",
        "session_01S04",
        "session_01S06",
    ]


def test_ls_table_shows_status_model_and_cleans_remote_titles() -> None:
    """The table names id, title, status, model and age; escapes in a title are defused."""
    objs = messages(3)
    objs[0]["model"] = "claude-sonnet-4-5"
    served = ServedSession.from_objects(SESSION, objs)
    served.title = "evil\x1b]0;pwned\x07 [bold]title[/bold]"
    with serving(served) as server:
        server.play_ahead(SESSION)
        result = invoke(server, "ls", "--color", "always")
    assert result.exit_code == 0, result.stderr
    assert SESSION in result.stdout
    assert "idle" in result.stdout
    assert "claude-sonnet-4-5" in result.stdout
    assert "just now" in result.stdout
    assert "[bold]title[/bold]" in result.stdout
    assert "\x1b]0;" not in result.stdout
    assert "\x07" not in result.stdout


def test_ls_sends_the_protocol_headers() -> None:
    """v1 REST calls carry the bearer token, anthropic-version, the beta and the org header."""
    with serving() as server:
        result = invoke(server, "ls", "--json", "--api", "v1")
    assert result.exit_code == 0, result.stderr
    headers = {k.lower(): v for k, v in server.request_headers[-1].items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "ccr-byoc-2025-07-29"
    assert headers["x-organization-uuid"] == ORG


def test_ls_v2_sends_the_v2_headers() -> None:
    """v2 calls carry the token, anthropic-version, the org, a JSON content type (on a GET
    too), our User-Agent and the client platform, and no anthropic-beta (PROTOCOL §8)."""
    with serving() as server:
        result = invoke(server, "ls", "--json", "--api", "v2")
    assert result.exit_code == 0, result.stderr
    assert server.request_paths[-1].startswith("/v1/code/sessions?")
    headers = {k.lower(): v for k, v in server.request_headers[-1].items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["x-organization-uuid"] == ORG
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("sesstail/")
    assert headers["anthropic-client-platform"] in ("linux", "macos", "windows")
    assert "anthropic-beta" not in headers


def test_ls_v2_follows_next_cursor_and_shows_the_ids_users_paste() -> None:
    """v2: ls follows next_cursor up to --limit; cse_ ids are shown in the session_ form."""
    with serving(*many_sessions(5)) as server:
        server.play_ahead("session_01S03")
        result = invoke(server, "ls", "--json", "--limit", "4", "--api", "v2")
        table = invoke(server, "ls", "--api", "v2")
    assert result.exit_code == 0, result.stderr
    listed = lines(result.stdout)
    assert listed[0]["id"] == "session_01S03"  # the most recent first
    assert len(listed) == 4
    assert all(s["id"].startswith("session_01S") for s in listed)
    assert listed[0]["session_status"] == "idle"
    assert "session_01S03" in table.stdout
    assert "cse_" not in table.stdout


def test_ls_auto_falls_back_to_v1_on_a_server_without_v2() -> None:
    """auto: a 404 from the v2 list means no v2 here; the v1 list answers."""
    with serving(*many_sessions(2), apis=("v1",)) as server:
        result = invoke(server, "ls", "--json")
    assert result.exit_code == 0, result.stderr
    assert [s["id"] for s in lines(result.stdout)] == ["session_01S00", "session_01S01"]
    assert any(p.startswith("/v1/code/sessions") for p in server.request_paths)


@pytest.mark.parametrize(("api", "path"), [("v1", "/v1/sessions"), ("v2", "/v1/code/sessions")])
def test_ls_with_a_rejected_token_is_exit_3_and_never_prints_it(api: str, path: str) -> None:
    """A 401 from the list endpoint is an auth error, exit 3, and the token stays secret."""
    other = "sk-ant-oat01-other-token-ZZZZZZZZZZZZ"
    with serving() as server:
        result = invoke(server, "ls", "--api", api, token=other)
    assert result.exit_code == ExitCode.AUTH
    assert other not in result.stderr + result.stdout
    assert sum(p.startswith(path) for p in server.request_paths) == 1


def test_server_errors_are_retried_then_exit_5() -> None:
    """5xx is retried; one 503 is survived, three in a row end with exit 5."""
    with serving() as server:
        server.rest.faults.statuses = [503]
        survived = invoke(server, "ls", "--json")
        server.rest.faults.statuses = [503, 502, 500]
        failed = invoke(server, "ls", "--json")
    assert survived.exit_code == 0, survived.stderr
    assert failed.exit_code == ExitCode.CANNOT_CONNECT
    assert "HTTP 500" in failed.stderr
    assert "3 attempts" in failed.stderr


def test_client_errors_are_not_retried() -> None:
    """A 400 or 409 is an answer, not an accident: one request, exit 5."""
    with serving() as server:
        server.rest.faults.statuses = [409, 409, 409]
        result = invoke(server, "ls", "--json")
    assert result.exit_code == ExitCode.CANNOT_CONNECT
    assert "HTTP 409" in result.stderr
    assert server.rest.faults.statuses == [409, 409]


def test_unreachable_service_is_exit_5() -> None:
    """Nothing listening: the REST call is retried, then exit 5."""
    with refusing_port() as port:
        result = CliRunner().invoke(
            app,
            ["ls", "--base-url", f"http://127.0.0.1:{port}", "--org", ORG],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == ExitCode.CANNOT_CONNECT
    assert "cannot reach" in result.stderr


# -- history -------------------------------------------------------------------------------


def test_history_pages_before_after_and_latest() -> None:
    """The server pages its history: newest page, older with before_id, newer with after_id."""
    with serving(session(10)) as server:
        server.play_ahead(SESSION, 8)
        api = api_for(server)
        latest = api.history_page(SESSION, 3, latest=True)
        older = api.history_page(SESSION, 3, before_id=latest.first_id)
        oldest = api.history_page(SESSION, 3, before_id=older.first_id)
        newer = api.history_page(SESSION, 4, after_id=oldest.last_id)
        first = api.history_page(SESSION, 3)
    assert [m["uuid"] for m in latest.data] == ["m5", "m6", "m7"]
    assert (latest.first_id, latest.last_id, latest.has_more) == ("m5", "m7", True)
    assert [m["uuid"] for m in older.data] == ["m2", "m3", "m4"]
    assert [m["uuid"] for m in oldest.data] == ["m0", "m1"]
    assert oldest.has_more is False
    assert [m["uuid"] for m in newer.data] == ["m2", "m3", "m4", "m5"]
    assert newer.has_more is True
    assert [m["uuid"] for m in first.data] == ["m0", "m1", "m2"]


def test_history_prints_the_last_n_oldest_first_across_pages() -> None:
    """history -n 7 reads pages back from the newest and prints them in order."""
    with serving(session(12)) as server:
        server.play_ahead(SESSION, 10)
        server.rest.max_page = 3
        result = invoke(server, "history", SESSION, "-n", "7", "--json")
    assert result.exit_code == 0, result.stderr
    assert uuids(result.stdout) == [f"m{i}" for i in range(3, 10)]


def test_history_uses_the_watch_filters_and_renderers() -> None:
    """--type filters the history; pretty output draws the conversation, not JSON."""
    with serving(session(6)) as server:
        server.play_ahead(SESSION)
        only_results = invoke(server, "history", SESSION, "-t", "result", "--json")
        pretty = invoke(server, "history", SESSION, "--format", "pretty", "--color", "never")
    assert uuids(only_results.stdout) == ["m5"]
    assert "line 3" in pretty.stdout
    assert '{"type"' not in pretty.stdout


def test_history_of_an_unknown_session_is_exit_4() -> None:
    """A 404 from the events endpoint is exit 4, naming the session."""
    with serving() as server:
        result = invoke(server, "history", "session_01Missing")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "session_01Missing not found" in result.stderr


# -- send ----------------------------------------------------------------------------------


def test_send_retried_after_a_dropped_answer_is_delivered_once() -> None:
    """The first answer is lost after the post was taken: the retry reuses the uuid, so the
    session gets the prompt once."""
    with serving() as server:
        server.rest.faults.drop_post_answers = 1
        result = invoke(server, "send", SESSION, "fix the flaky test", "--retry-delay", "0.01")
        posts = [p for p in server.request_paths if p.endswith("/events")]
        history = list(server.history.get(SESSION, []))
    assert result.exit_code == 0, result.stderr
    sent_uuid = result.stdout.strip()
    assert len(posts) == 2
    assert [e["uuid"] for e in server.rest.posted] == [sent_uuid]
    assert sum(sent_uuid in line for line in history) == 1
    assert server.rest.posted[0]["message"] == {"role": "user", "content": "fix the flaky test"}


def test_send_reads_the_prompt_from_stdin() -> None:
    """`send ID -` posts what stdin holds; an empty prompt is a usage error, nothing sent."""
    with serving() as server:
        ok = invoke(server, "send", SESSION, "-", stdin="from stdin\n")
        empty = invoke(server, "send", SESSION, "-", stdin="  \n")
    assert ok.exit_code == 0, ok.stderr
    assert server.rest.posted[0]["message"]["content"] == "from stdin\n"
    assert empty.exit_code == ExitCode.USAGE
    assert len(server.rest.posted) == 1


def test_send_watch_shows_the_prompt_and_its_reply_until_the_result() -> None:
    """--watch subscribes, posts, then shows that turn from the prompt to its result."""
    with serving(session(4)) as server:
        result = invoke(server, "send", SESSION, "hello", "--watch", "--json", *FAST)
    assert result.exit_code == 0, result.stderr
    out = lines(result.stdout)
    assert [m["type"] for m in out] == ["user", "assistant", "result"]
    assert out[0]["message"]["content"] == "hello"
    assert "You said: hello" in json.dumps(out[1])


def test_send_watch_in_pretty_output_ends_with_its_summary_line() -> None:
    """Drawn for a person, the turn ends as a pretty watch does: one summary line on
    stderr; in JSONL, none."""
    with serving(session(4)) as server:
        pretty = invoke(server, "send", SESSION, "hello", "--watch", "--format", "pretty", *FAST)
        jsonl = invoke(server, "send", SESSION, "again", "--watch", "--json", *FAST)
    assert pretty.exit_code == 0, pretty.stderr
    assert "You said: hello" in pretty.stdout
    assert re.fullmatch(
        r"sesstail: 3 messages, 1 turn, \$[0-9.]+ so far", pretty.stderr.splitlines()[-1]
    )
    assert jsonl.exit_code == 0, jsonl.stderr
    assert "so far" not in jsonl.stderr


def test_send_watch_without_an_echo_of_the_prompt_says_so_and_shows_the_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A service that does not echo prompts: after the wait, a status line says so and the
    turn that followed the post is shown, to its result; nothing replayed from before."""
    from sesstail import attach

    monkeypatch.setattr(attach, "ECHO_WAIT_S", 0.5)
    with serving(session(4)) as server:
        server.play_ahead(SESSION)  # said before: not part of the turn
        server.rest.faults.echo_prompts = False
        server.rest.reply_delay = 0.8  # the reply comes after the wait for the echo is over
        result = invoke(server, "send", SESSION, "hello", "--watch", "--json", *FAST)
    assert result.exit_code == 0, result.stderr
    assert "did not echo the prompt within 0.5 s" in result.stderr
    out = lines(result.stdout)
    assert [m["type"] for m in out] == ["assistant", "result"]
    assert "You said: hello" in json.dumps(out[0])


def test_send_to_an_unknown_session_is_exit_4() -> None:
    """Posting to a session the service does not know is exit 4."""
    with serving() as server:
        result = invoke(server, "send", "session_01Missing", "hi")
    assert result.exit_code == ExitCode.NOT_FOUND


# -- open ----------------------------------------------------------------------------------


def test_open_prints_the_web_address() -> None:
    """open prints the claude.ai address (no desktop here, so no browser); a bad id is 2."""
    runner = CliRunner()
    ok = runner.invoke(app, ["open", f"https://claude.ai/code/{SESSION}"])
    bad = runner.invoke(app, ["open", "not-a-session"])
    assert ok.exit_code == 0
    assert ok.stdout == f"https://claude.ai/code/{SESSION}\n"
    assert bad.exit_code == ExitCode.USAGE


# -- watch --history -----------------------------------------------------------------------


@pytest.mark.parametrize(("api", "replay"), [("v1", True), ("v1", False), ("v2", False)])
def test_backfill_then_live_shows_nothing_twice_and_loses_nothing(api: str, replay: bool) -> None:
    """The history is answered late, while the session goes on playing: what came live in
    the meantime is in both, and each message is shown once, in order, none missing."""
    served = ServedSession.from_objects(SESSION, messages(40), gap=0.02)
    # Closed with 1000 once played: should the history be so late that it holds the result,
    # the watch still ends (and the check below fails) instead of waiting forever.
    faults = Faults(replay_history=replay, end_with_close=True)
    with serving(served, speed=1, faults=faults) as server:
        server.play_ahead(SESSION, 10)
        server.rest.faults.history_delay = 0.3
        result = invoke(
            server, "watch", SESSION, "--history", "5", "--until", "result", "--api", api, *FAST
        )
    assert result.exit_code == 0, result.stderr
    shown = [int(u[1:]) for u in uuids(result.stdout)]
    assert shown == list(range(shown[0], 40))
    if api == "v1":
        # The five history messages were played after the watch subscribed: the overlap
        # was real.
        assert shown[0] > 10
    else:
        # v2 reads the history by sequence number, then resumes after it: exactly the last
        # five played before, then everything after.
        assert shown[0] == 5


@pytest.mark.parametrize(("api", "replay"), [("v1", True), ("v1", False), ("v2", False)])
def test_backfill_of_a_session_that_plays_at_once(api: str, replay: bool) -> None:
    """Whether the live messages beat the history answer or not, the output is the last N
    at the time of asking and everything after: contiguous, each once, to the end."""
    faults = Faults(replay_history=replay, end_with_close=True)
    with serving(session(12), faults=faults) as srv:
        srv.play_ahead(SESSION, 6)
        result = invoke(srv, "watch", SESSION, "--history", "3", "--api", api, *FAST)
    assert result.exit_code == 0, result.stderr
    shown = [int(u[1:]) for u in uuids(result.stdout)]
    assert shown == list(range(shown[0], 12))
    assert shown[0] in (3, 9)  # answered before the live messages came, or after


def test_backfill_shows_posted_prompts_once() -> None:
    """A prompt posted before attaching is in the history and in a replay: shown once."""
    with serving(session(4), faults=Faults(end_with_close=True)) as server:
        server.play_ahead(SESSION)
        sent = invoke(server, "send", SESSION, "again")
        assert sent.exit_code == 0, sent.stderr
        deadline = time.monotonic() + 5
        while len(server.history[SESSION]) < 7 and time.monotonic() < deadline:
            time.sleep(0.01)  # the scripted reply follows the prompt
        result = invoke(server, "watch", SESSION, "--history", "10", *FAST)
    assert result.exit_code == 0, result.stderr
    shown = uuids(result.stdout)
    assert len(shown) == len(set(shown)) == 7
    assert shown[4] == sent.stdout.strip()


def test_until_waits_for_the_live_stream_not_the_history() -> None:
    """--history 10 --until result: the first turn's result is context; the second ends it."""
    # A third turn: should the second one end up in the history, the watch ends at the
    # third's result and the check fails, rather than waiting forever.
    objs = messages(5, prefix="a") + messages(5, prefix="b") + messages(5, prefix="c")
    served = ServedSession.from_objects(SESSION, objs, gap=0.05)
    served.gaps[5] = 1.0  # the live turn starts well after the history is fetched
    with serving(served, speed=1) as server:
        server.play_ahead(SESSION, 5)
        result = invoke(server, "watch", SESSION, "--history", "10", "--until", "result", *FAST)
    assert result.exit_code == 0, result.stderr
    shown = [line["uuid"] for line in lines(result.stdout)]
    assert shown == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]


# -- several sessions ----------------------------------------------------------------------


def test_several_sessions_one_failing_for_good() -> None:
    """Two sessions play in full while a third is not found: it is reported, exit 4."""
    first, second = session(4, "session_01Alpha"), session(5, "session_01Bravo")
    with serving(first, second, faults=Faults(end_with_close=True)) as server:
        result = invoke(
            server, "watch", "session_01Alpha", "session_01Gone", "session_01Bravo", *FAST
        )
    assert result.exit_code == ExitCode.NOT_FOUND
    out = lines(result.stdout)
    assert sorted(m["uuid"] for m in out if m["session_id"] == "session_01Alpha") == [
        f"m{i}" for i in range(4)
    ]
    assert len([m for m in out if m["session_id"] == "session_01Bravo"]) == 5
    assert "01Gone: error: session session_01Gone not found" in result.stderr


def test_several_sessions_pretty_lines_carry_their_label() -> None:
    """Pretty output prefixes every line with the session's short label."""
    first, second = session(3, "session_01AlphaXYZ"), session(3, "session_01BravoXYZ")
    with serving(first, second, faults=Faults(end_with_close=True)) as server:
        result = invoke(
            server,
            "watch",
            "session_01AlphaXYZ",
            "session_01BravoXYZ",
            "--format",
            "pretty",
            "--color",
            "never",
            *FAST,
        )
    assert result.exit_code == 0, result.stderr
    body = [line for line in result.stdout.splitlines() if line.strip()]
    assert body
    assert all(line.startswith(("AlphaXYZ ", "BravoXYZ ")) for line in body)
    assert any(line.startswith("BravoXYZ ") for line in body)


def test_worst_outcome_order() -> None:
    """Exit codes combine by severity: 0 < 4 < 3 < 5 < anything else."""
    assert worst([0, 4, 0]) == 4
    assert worst([4, 3]) == 3
    assert worst([3, 5, 4]) == 5
    assert worst([5, 1, 0]) == 1
    assert worst([]) == 0


def test_labels_are_short_unique_and_aligned() -> None:
    """Labels are the shortest distinct tails of the ids, padded to one width."""
    labels = session_labels(["session_01AAAAAAAAAAxyz12345", "session_01BBBBBBBBBBxyz12345", "s_x"])
    assert labels["session_01AAAAAAAAAAxyz12345"].strip() == "Axyz12345"
    assert labels["session_01BBBBBBBBBBxyz12345"].strip() == "Bxyz12345"
    assert len({len(v) for v in labels.values()}) == 1
