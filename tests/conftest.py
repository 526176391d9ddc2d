"""Shared fixtures: an isolated environment and small sessions to serve."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from sesstail.server import ServedSession, SessionsServer

# A pause of a loaded machine is not a slow test: no per-example deadline, anywhere.
settings.register_profile("sesstail", deadline=None)
settings.load_profile("sesstail")

SESSION = "session_01TestStream"
ORG = "11111111-2222-4333-8444-555555555555"
TOKEN = "sk-ant-oat01-test-token-DO-NOT-LEAK-0123456789"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test sees the developer's credentials, config, proxies or colour settings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "CLAUDE_CODE_OAUTH_TOKEN",
        "CLAUDE_CONFIG_DIR",
        "CLAUDE_CODE_ORGANIZATION_UUID",
        "SESSTAIL_BASE_URL",
        "SESSTAIL_API",
        "SESSTAIL_ORG",
        "SESSTAIL_FORMAT",
        "SESSTAIL_COLOR",
        "XDG_CACHE_HOME",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "NO_COLOR",
        "FORCE_COLOR",
        "PY_COLORS",
        "GITHUB_ACTIONS",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "CLAUDE_CODE_CLIENT_CERT",
        "CLAUDE_CODE_CLIENT_KEY",
        "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("_TYPER_FORCE_DISABLE_TERMINAL", "1")
    return home


def messages(count: int, session_id: str = SESSION, prefix: str = "m") -> list[dict[str, Any]]:
    """A plausible session: init, ``count - 2`` assistant texts, a result."""
    out: list[dict[str, Any]] = [
        {"type": "system", "subtype": "init", "uuid": f"{prefix}0", "session_id": session_id}
    ]
    out.extend(
        {
            "type": "assistant",
            "uuid": f"{prefix}{i}",
            "session_id": session_id,
            "message": {"id": f"msg{i}", "content": [{"type": "text", "text": f"line {i}"}]},
        }
        for i in range(1, count - 1)
    )
    out.append(
        {
            "type": "result",
            "subtype": "success",
            "uuid": f"{prefix}{count - 1}",
            "session_id": session_id,
            "total_cost_usd": 0.01,
        }
    )
    return out


def session(count: int = 6, session_id: str = SESSION) -> ServedSession:
    return ServedSession.from_objects(session_id, messages(count, session_id))


def sent(srv: SessionsServer, expect: int = 0, within: float = 5.0) -> list[dict[str, Any]]:
    """The control frames ``srv`` received, once there are at least ``expect`` of them.

    A frame with no answer (a prompt's answer, an error to the session) is on the server's
    socket when the client's close handshake ends, but the server's handler may not have
    taken it off its queue yet: a test that checks it right after the command waits a little.
    """
    deadline = time.monotonic() + within
    while len(srv.received) < expect and time.monotonic() < deadline:
        time.sleep(0.01)
    # Over v2 each posted event carries a fresh uuid of its own (PROTOCOL §8); the rest of
    # the frame is the same on both APIs.
    return [
        {k: v for k, v in frame.items() if k != "uuid"}
        if frame.get("type") in ("control_request", "control_response")
        else frame
        for frame in srv.received
    ]


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound but never listening: connections to it are refused, and no
    other process can take it meanwhile (a just-closed server's port could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def tcp_server(answer: Callable[[socket.socket], None]) -> Iterator[tuple[int, list[int]]]:
    """A loopback TCP server that hands each connection to ``answer`` (then closes it);
    yields its port and a list that grows by one per connection accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with conn, contextlib.suppress(OSError):
                answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        listener.close()
        thread.join(5)
