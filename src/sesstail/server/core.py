"""The embedded sessions server (see the package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from sesstail.errors import UsageError
from sesstail.protocol import control_error, control_success, encode

DEMO_SESSION_ID = "session_01DemoSesstailWalkthrough"
_PATH = re.compile(r"^/v1/sessions/ws/(?P<session>[^/]+)/subscribe$")
DEFAULT_GAP_S = 0.25
MAX_GAP_S = 3.0


@dataclass
class ServedSession:
    """A session the server plays: its messages, each with the pause before it (seconds)."""

    session_id: str
    messages: list[str]
    gaps: list[float]
    title: str = ""

    @classmethod
    def from_objects(
        cls, session_id: str, messages: Iterable[dict[str, Any]], gap: float = 0.0
    ) -> ServedSession:
        lines = [encode(m) for m in messages]
        return cls(session_id, lines, [gap] * len(lines))


@dataclass
class Faults:
    """Test hooks. Each applies to the first ``connections`` connections (None: to all)."""

    connections: int | None = 1
    drop_after: int | None = None  # drop the TCP connection, no close frame, after N messages
    close_after: int | None = None  # close with close_code after N messages
    close_code: int = 1011
    close_reason: str = ""
    freeze_after: int | None = None  # stop reading (so no pongs) after N messages
    reject_status: int | None = None  # refuse the handshake with this HTTP status
    junk_frames: list[str | bytes] = field(default_factory=list)  # sent before the messages
    replay_history: bool = False  # a reconnect starts from the first message again
    end_with_close: bool = False  # close 1000 once every message is played (all connections)


def _parse_line(text: str, where: str) -> tuple[dict[str, Any], float | None]:
    try:
        obj = json.loads(text)
    except ValueError:
        raise UsageError(f"{where}: not valid JSON") from None
    if isinstance(obj, dict) and isinstance(obj.get("message"), dict) and "recorded_at" in obj:
        recorded = obj["recorded_at"]
        if not isinstance(recorded, int | float):
            raise UsageError(f"{where}: recorded_at is not a number")
        obj, at = obj["message"], float(recorded)
    else:
        at = None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise UsageError(f"{where}: not a message (a JSON object with a string type)")
    return obj, at


def parse_session_lines(lines: Iterable[str], name: str, default_id: str) -> ServedSession:
    """A session from JSONL: bare messages, or recordings ``{"recorded_at", "message"}``."""
    messages: list[str] = []
    gaps: list[float] = []
    session_id: str | None = None
    previous: float | None = None
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        obj, at = _parse_line(text, f"{name}:{number}")
        if session_id is None and isinstance(obj.get("session_id"), str):
            session_id = obj["session_id"]
        if at is None:
            gaps.append(DEFAULT_GAP_S if messages else 0.0)
        else:
            gaps.append(0.0 if previous is None else max(0.0, min(MAX_GAP_S, at - previous)))
            previous = at
        messages.append(encode(obj))
    if not messages:
        raise UsageError(f"{name}: no messages")
    if session_id is None or not re.fullmatch(r"session_[A-Za-z0-9_-]{1,200}", session_id):
        session_id = default_id
    return ServedSession(session_id, messages, gaps)


def load_session_file(path: Path) -> ServedSession:
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem)[:100] or "file"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    return parse_session_lines(text.splitlines(), str(path), f"session_{stem}")


def demo_session() -> ServedSession:
    text = resources.files("sesstail.server").joinpath("demo_session.jsonl").read_text("utf-8")
    session = parse_session_lines(text.splitlines(), "demo_session.jsonl", DEMO_SESSION_ID)
    session.title = "Fix the flaky date test"
    return session


ControlHandler = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass
class _Progress:
    delivered: int = 0  # how far the session has been played, across connections


class SessionsServer:
    """Serve sessions on loopback. Use as ``async with SessionsServer(...) as server``."""

    def __init__(
        self,
        sessions: Iterable[ServedSession] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        org: str | None = None,
        speed: float = 1.0,
        keepalive_interval: float = 120.0,
        faults: Faults | None = None,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self.sessions = {s.session_id: s for s in sessions}
        self.host = host
        self.port = port
        self.token = token
        self.org = org
        self.speed = speed
        self.keepalive_interval = keepalive_interval
        self.faults = faults or Faults()
        self.on_log = on_log
        self.connection_count = 0
        self.received: list[dict[str, Any]] = []  # every control frame a client sent
        self.request_headers: list[dict[str, str]] = []
        self.request_paths: list[str] = []
        self._progress: dict[str, _Progress] = {}
        self._live: dict[str, set[ServerConnection]] = {}
        # Answers plain HTTP requests on the WebSocket's port (the REST endpoints); returns a
        # response, or None to go on with the WebSocket handshake.
        self.http_handler: Callable[[ServerConnection, Any], Any] | None = None
        self._server: Server | None = None

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            compression=None,
            max_size=None,
            process_request=self._process_request,
            ping_interval=None,
            close_timeout=1,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SessionsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _log(self, text: str) -> None:
        if self.on_log is not None:
            self.on_log(text)

    # -- connections ----------------------------------------------------------------------

    def _faulty(self, number: int) -> bool:
        limit = self.faults.connections
        return limit is None or number <= limit

    def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        self.request_paths.append(request.path)
        self.request_headers.append(dict(request.headers.raw_items()))
        if self.http_handler is not None and not _PATH.match(urlsplit(request.path).path):
            # Plain HTTP (the REST endpoints) shares the port with the WebSocket.
            return self.http_handler(connection, request)
        if self.faults.reject_status is not None and self._faulty(self.connection_count + 1):
            self.connection_count += 1
            return connection.respond(self.faults.reject_status, "rejected by test hook\n")
        return None

    async def broadcast(self, session_id: str, message: dict[str, Any] | str) -> int:
        """Send a message to every live connection watching a session; how many got it."""
        line = message if isinstance(message, str) else encode(message)
        sent = 0
        for ws in list(self._live.get(session_id, ())):
            with contextlib.suppress(ConnectionClosed):
                await ws.send(line)
                sent += 1
        return sent

    async def _handle(self, ws: ServerConnection) -> None:
        self.connection_count += 1
        number = self.connection_count
        faulty = self._faulty(number)
        request = ws.request
        assert request is not None
        parts = urlsplit(request.path)
        match = _PATH.match(parts.path)
        query = parse_qs(parts.query)
        if self.token is not None and (
            request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            self._log(f"connection {number}: bad token, closing 4003")
            await ws.close(4003, "unauthorized")
            return
        if self.org is not None and query.get("organization_uuid") != [self.org]:
            self._log(f"connection {number}: wrong organization, closing 4003")
            await ws.close(4003, "unauthorized")
            return
        session = self.sessions.get(match.group("session")) if match else None
        if session is None:
            self._log(f"connection {number}: unknown session, closing 4001")
            await ws.close(4001, "session not found")
            return
        self._log(f"connection {number}: watching {session.session_id}")
        live = self._live.setdefault(session.session_id, set())
        live.add(ws)
        # Playback pauses (pacing, keep-alive intervals) must not outlive the connection:
        # whichever ends first, the connection or the playback, ends the other.
        tasks = {
            asyncio.create_task(self._read_controls(ws)),
            asyncio.create_task(self._play(ws, session, faulty)),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task
            live.discard(ws)

    async def _play(self, ws: ServerConnection, session: ServedSession, faulty: bool) -> None:
        faults = self.faults
        progress = self._progress.setdefault(session.session_id, _Progress())
        if faulty:
            for junk in faults.junk_frames:
                await ws.send(junk)
        start = 0 if faults.replay_history else progress.delivered
        sent = 0
        for index in range(start, len(session.messages)):
            if faulty and sent == faults.drop_after:
                self._log("dropping the connection (test hook)")
                ws.transport.abort()
                return
            if faulty and sent == faults.close_after:
                await ws.close(faults.close_code, faults.close_reason)
                return
            if faulty and sent == faults.freeze_after:
                self._log("freezing the connection (test hook)")
                ws.transport.pause_reading()
                await ws.wait_closed()
                return
            gap = session.gaps[index]
            if self.speed > 0 and gap > 0:
                await asyncio.sleep(gap / self.speed)
            await ws.send(session.messages[index])
            sent += 1
            progress.delivered = max(progress.delivered, index + 1)
        if faulty and faults.close_after is not None and sent <= faults.close_after:
            await ws.close(faults.close_code, faults.close_reason)
            return
        if faults.end_with_close:
            await ws.close(1000, "stream ended")
            return
        while True:
            await asyncio.sleep(self.keepalive_interval)
            await ws.send('{"type":"keep_alive"}')

    async def _read_controls(self, ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                try:
                    obj = json.loads(frame)
                except ValueError:
                    continue
                if not isinstance(obj, dict):
                    continue
                self.received.append(obj)
                answer = self.answer_control(obj)
                if answer is not None:
                    await ws.send(encode(answer))

    def answer_control(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The session's answer to a control frame from a client (PROTOCOL §4)."""
        if obj.get("type") != "control_request":
            return None
        request_id = obj.get("request_id")
        request = obj.get("request")
        if not isinstance(request_id, str) or not isinstance(request, dict):
            return None
        subtype = request.get("subtype")
        if subtype in ("interrupt", "set_model", "set_max_thinking_tokens", "end_session"):
            return control_success(request_id)
        if subtype == "set_permission_mode":
            mode = request.get("mode")
            if mode not in ("default", "acceptEdits", "bypassPermissions", "plan", "dontAsk"):
                return control_error(request_id, f"Invalid permission mode: {mode}")
            return control_success(request_id, {"mode": mode})
        return control_error(request_id, f"Unsupported control request subtype: {subtype}")
