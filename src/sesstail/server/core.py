"""The embedded sessions server (see the package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from sesstail.errors import UsageError
from sesstail.protocol import (
    NESTED_TOO_DEEPLY,
    control_error,
    control_success,
    encode,
    input_encoding,
    is_permission_prompt,
    loads,
)
from sesstail.server.rest_api import RequestBodyConnection, RestApi

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
    # The v1 socket is live-only (PROTOCOL §2): a connection gets what is said from then on.
    # True: every v1 connection starts from the session's first message instead, as a service
    # that replayed history on attach would (the client still shows each uuid once).
    replay_history: bool = False
    end_with_close: bool = False  # close 1000 once every message is played (all connections)
    # Control requests from clients (all connections): answer every one with this error text,
    # answer after a delay, or never answer at all.
    control_error: str | None = None
    control_delay: float = 0.0
    control_silent: bool = False  # on the faulty connections only
    # After answering a control request, stop reading the socket (faulty connections): the
    # client's close frame goes unanswered, as from a server slow to finish the handshake.
    freeze_after_answer: bool = False
    # Withdraw a permission prompt nobody answered after this many seconds (the turn ended);
    # the session then carries on as if it had been answered elsewhere.
    withdraw_prompts_after: float | None = None
    # v2 hooks: events of these uuids come from another source than the worker; a resuming
    # stream is told ``catch_up_truncated`` and skips this many events (faulty connections).
    non_worker_uuids: frozenset[str] = frozenset()
    truncate_catch_up: int = 0
    # The largest frame a client may send on the v1 socket (a bigger one closes it with 1009
    # at once, as declared); and the largest request body.
    max_client_frame: int = 1 * 2**20


def _parse_line(text: str, where: str) -> tuple[dict[str, Any], float | None]:
    try:
        obj = loads(text)
    except ValueError as exc:
        deep = str(exc) == NESTED_TOO_DEEPLY
        raise UsageError(f"{where}: {NESTED_TOO_DEEPLY if deep else 'not valid JSON'}") from None
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


_SESSION_ID = re.compile(r"session_[A-Za-z0-9_-]{1,200}")


def parse_session_lines(lines: Iterable[str], name: str, default_id: str) -> list[ServedSession]:
    """The sessions in a JSONL file of bare messages, or of recordings
    ``{"recorded_at", "message"}``: one per ``session_id``, in the order they first appear
    (a recording of ``watch A B`` serves A and B again). A message without a session id
    belongs with the one before it; a file without any is one session, ``default_id``."""
    entries: list[tuple[str | None, dict[str, Any], float | None]] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        obj, at = _parse_line(text, f"{name}:{number}")
        sid = obj.get("session_id")
        entries.append(
            (sid if isinstance(sid, str) and _SESSION_ID.fullmatch(sid) else None, obj, at)
        )
    if not entries:
        raise UsageError(f"{name}: no messages")
    current = next((sid for sid, _, _ in entries if sid is not None), default_id)
    sessions: dict[str, ServedSession] = {}
    previous: dict[str, float] = {}
    for sid, obj, at in entries:
        current = sid or current
        session = sessions.setdefault(current, ServedSession(current, [], []))
        if at is None:
            session.gaps.append(DEFAULT_GAP_S if session.messages else 0.0)
        else:
            last = previous.get(current)
            session.gaps.append(0.0 if last is None else max(0.0, min(MAX_GAP_S, at - last)))
            previous[current] = at
        session.messages.append(encode(obj))
    return list(sessions.values())


def load_session_file(path: Path) -> list[ServedSession]:
    """The sessions a file holds (usually one); usage errors name the file and line."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem)[:100] or "file"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    # As replay reads it: UTF-8 with or without a BOM, or UTF-16 (PowerShell's `>`).
    encoding, bom = input_encoding(data[:4])
    try:
        text = data[bom:].decode(encoding)
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 or UTF-16 text") from None
    # Lines end at LF (a CR before it is JSON whitespace): str.splitlines would also cut at
    # U+2028 or U+0085, which a JSON string may hold raw.
    return parse_session_lines(text.split("\n"), str(path), f"session_{stem}")


def demo_session() -> ServedSession:
    text = resources.files("sesstail.server").joinpath("demo_session.jsonl").read_text("utf-8")
    [session] = parse_session_lines(text.splitlines(), "demo_session.jsonl", DEMO_SESSION_ID)
    session.title = "Fix the flaky date test"
    return session


ControlHandler = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass
class Entry:
    """One thing a session said, in the order said. ``seq`` is its v2 sequence number (None
    for an ephemeral one). ``api``: only that API's connections get it; ``skip``: the
    connection that must not get it (the one whose answer it reports)."""

    seq: int | None
    line: str
    kind: str
    source: str = "worker"
    created_at: float = 0.0
    api: str | None = None  # None: every connection; "v1"/"v2": only those; "none": no one
    skip: object | None = None
    transcript: bool = True  # part of the v1 history (a prompt or a cancel is not)


class Timeline:
    """What a session has said, played or posted: the v1 history, the v2 events with their
    sequence numbers, and what every connection reads from, each at its own cursor."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.next_seq = 1
        self._grew = asyncio.Event()
        self.player: asyncio.Task[None] | None = None
        self.played = 0  # how far the scripted messages have been played
        self.finished = False  # every scripted message played

    def append(self, entry: Entry) -> Entry:
        self.entries.append(entry)
        self._grew.set()
        self._grew = asyncio.Event()
        return entry

    def wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    def wait(self, timeout: float | None) -> Coroutine[Any, Any, bool]:
        """Until something is appended (True), or ``timeout`` passes (False). What counts
        as new is decided now, when called, not when the coroutine first runs."""
        return self._wait(self._grew, timeout)

    async def _wait(self, grew: asyncio.Event, timeout: float | None) -> bool:
        try:
            # Not wait_for: on Python 3.11 it can swallow a cancellation that arrives as the
            # event is set, and the connection's task then never ends.
            async with asyncio.timeout(timeout):
                await grew.wait()
        except TimeoutError:
            return False
        return True

    def after(self, seq: int) -> int:
        """The index of the first durable entry past sequence number ``seq``."""
        low, high = 0, len(self.entries)
        while low < high:  # durable sequence numbers grow with the index
            mid = (low + high) // 2
            mid_seq = self._seq_at(mid)
            if mid_seq is not None and mid_seq <= seq:
                low = mid + 1
            else:
                high = mid
        return low

    def _seq_at(self, index: int) -> int | None:
        for entry in reversed(self.entries[: index + 1]):
            if entry.seq is not None:
                return entry.seq
        return 0


@dataclass
class _Gate:
    prompt: dict[str, Any]
    line: str
    answer: asyncio.Future[dict[str, Any]]


class SessionsServer:
    """Serve sessions on loopback. Use as ``async with SessionsServer(...) as server``.

    ``apis``: the API generations served (both by default); a route of one left out answers
    404, as a server that never had it would.
    """

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
        sse_keepalive: float = 15.0,
        faults: Faults | None = None,
        apis: Iterable[str] = ("v1", "v2"),
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self.sessions = {s.session_id: s for s in sessions}
        self.host = host
        self.port = port
        self.token = token
        self.org = org
        self.speed = speed
        self.keepalive_interval = keepalive_interval
        self.sse_keepalive = sse_keepalive
        self.faults = faults or Faults()
        self.apis = frozenset(apis)
        self.on_log = on_log
        self.connection_count = 0  # stream connections (v1 sockets and v2 streams)
        self.received: list[dict[str, Any]] = []  # every control frame a client sent
        self.request_headers: list[dict[str, str]] = []
        self.request_paths: list[str] = []
        self.timelines: dict[str, Timeline] = {}
        self._live: dict[str, set[ServerConnection]] = {}
        # Permission prompts in the played sessions, by position, and their answers.
        self._prompts: dict[str, dict[int, dict[str, Any]]] = {}
        self._gates: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self._open_prompts: dict[str, dict[str, _Gate]] = {}
        # What each session has said so far that the v1 history endpoint serves.
        self.history: dict[str, list[str]] = {}
        self.last_activity: dict[str, float] = {}
        self.rest = RestApi(self)
        from sesstail.server.v2_api import V2Routes

        self.v2 = V2Routes(self)
        # Answers plain HTTP requests on the WebSocket's port (the REST endpoints and the v2
        # stream); returns a response, or None to go on with the WebSocket handshake.
        self.http_handler: Callable[[ServerConnection, Any], Any] | None = self.rest.handle
        self._server: Server | None = None
        self.stopping = asyncio.Event() if _has_loop() else None

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.stopping is None:
            self.stopping = asyncio.Event()
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            compression=None,
            max_size=self.faults.max_client_frame,
            process_request=self._process_request,
            create_connection=RequestBodyConnection,
            ping_interval=None,
            close_timeout=1,
            # A v2 event stream is answered from process_request and lasts as long as the
            # client stays: no deadline on that "handshake".
            open_timeout=None,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self.stopping is not None:
            self.stopping.set()
        for timeline in self.timelines.values():
            timeline.wake()
            if timeline.player is not None:
                timeline.player.cancel()
        await self.rest.aclose()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for timeline in self.timelines.values():
            if timeline.player is not None:
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await timeline.player

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
        path = urlsplit(request.path).path
        if self.http_handler is not None and not _PATH.match(path):
            # Plain HTTP (the REST endpoints, the v2 stream) shares the port with the WebSocket.
            return self.http_handler(connection, request)
        if "v1" not in self.apis:
            return connection.respond(404, "no such endpoint\n")
        if self.faults.reject_status is not None and self._faulty(self.connection_count + 1):
            self.connection_count += 1
            return connection.respond(self.faults.reject_status, "rejected by test hook\n")
        return None

    def timeline(self, session_id: str) -> Timeline:
        timeline = self.timelines.get(session_id)
        if timeline is None:
            timeline = self.timelines[session_id] = Timeline()
        return timeline

    def subscribe(self, session: ServedSession) -> Timeline:
        """A watcher arrived: the session plays from now on (if it has not already)."""
        timeline = self.timeline(session.session_id)
        if timeline.player is None:
            timeline.player = asyncio.get_running_loop().create_task(self._play(session))
        return timeline

    def publish(
        self,
        session_id: str,
        line: str,
        *,
        source: str = "worker",
        api: str | None = None,
        skip: object | None = None,
        transcript: bool = True,
    ) -> Entry:
        """Something the session said: into its timeline, for every connection to read."""
        timeline = self.timeline(session_id)
        obj = loads(line)
        kind = str(obj.get("type"))
        ephemeral = kind == "stream_event" or (
            kind == "system" and obj.get("subtype") == "thinking_tokens"
        )
        seq = None
        if not ephemeral and api in (None, "none"):
            seq = timeline.next_seq
            timeline.next_seq += 1
        if obj.get("uuid") in self.faults.non_worker_uuids:
            source = "client"
        entry = Entry(seq, line, kind, source, time.time(), api, skip, transcript)
        if transcript and seq is not None:
            self.history.setdefault(session_id, []).append(line)
        self.last_activity[session_id] = entry.created_at
        return timeline.append(entry)

    def remember(self, session_id: str, line: str) -> None:
        """Add a message to what the session has said (its history)."""
        self.publish(session_id, line)

    async def broadcast(self, session_id: str, message: dict[str, Any] | str) -> int:
        """Send a message to every live v1 connection watching a session, unrecorded."""
        line = message if isinstance(message, str) else encode(message)
        sent = 0
        for ws in list(self._live.get(session_id, ())):
            with contextlib.suppress(ConnectionClosed):
                await ws.send(line)
                sent += 1
        return sent

    def play_ahead(self, session_id: str, count: int | None = None) -> None:
        """Count the first ``count`` messages (all by default) as played before anyone
        watched: they are history, and a connection gets them only as a replay."""
        session = self.sessions[session_id]
        timeline = self.timeline(session_id)
        end = len(session.messages) if count is None else min(count, len(session.messages))
        prompts = self._prompts_of(session)
        for index in range(timeline.played, end):
            # A permission prompt is a request, not part of the transcript; one played
            # ahead counts as allowed before anyone watched.
            if index not in prompts:
                self.publish(session_id, session.messages[index])
        timeline.played = max(timeline.played, end)
        if timeline.played >= len(session.messages):
            timeline.finished = True

    async def _play(self, session: ServedSession) -> None:
        """The session says its scripted messages, with their pacing, pausing at each
        permission prompt until someone answers it."""
        sid = session.session_id
        timeline = self.timeline(sid)
        prompts = self._prompts_of(session)
        while timeline.played < len(session.messages):
            index = timeline.played
            gap = session.gaps[index]
            if self.speed > 0 and gap > 0 and index > 0:
                await asyncio.sleep(gap / self.speed)
            line = session.messages[index]
            if index % 256 == 255:
                await asyncio.sleep(0)  # played at once: let the connections send meanwhile
            prompt = prompts.get(index)
            if prompt is not None:
                decision = await self._prompt_gate(session, prompt, line)
                timeline.played = index + 1
                if decision.get("behavior") == "deny":
                    self._play_denial(session, prompt, decision)
                    timeline.played = len(session.messages)
                    break
                continue
            self.publish(sid, line)
            timeline.played = index + 1
        timeline.finished = True
        timeline.wake()

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
        # Whichever ends first, the connection or its sending, ends the other.
        tasks = {
            asyncio.create_task(self._read_controls(ws, session, faulty)),
            asyncio.create_task(self._send_v1(ws, session, faulty)),
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

    def pending_prompts(self, session_id: str) -> list[_Gate]:
        return [g for g in self._open_prompts.get(session_id, {}).values() if not g.answer.done()]

    async def _send_v1(self, ws: ServerConnection, session: ServedSession, faulty: bool) -> None:
        """The v1 socket: live-only (what is said from now on), unless the ``replay_history``
        test hook makes it start from the session's first message."""
        faults = self.faults
        if faulty:
            for junk in faults.junk_frames:
                await ws.send(junk)
        if faulty and faults.close_after == 0:  # refused before it ever subscribed
            await ws.close(faults.close_code, faults.close_reason)
            return
        timeline = self.subscribe(session)
        replaying = faults.replay_history
        cursor = 0 if replaying else len(timeline.entries)
        sent = 0
        # A prompt still open is asked again on a new connection (a redelivery).
        backlog = [g.line for g in self.pending_prompts(session.session_id)]
        while True:
            while backlog or cursor < len(timeline.entries):
                if backlog:
                    line = backlog.pop(0)
                else:
                    entry = timeline.entries[cursor]
                    cursor += 1
                    if entry.api not in (None, "v1") or entry.skip is ws:
                        continue
                    if replaying and (entry.seq is None or not entry.transcript):
                        continue  # a replay is the history: no deltas, prompts or cancels
                    line = entry.line
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
                await ws.send(line)
                sent += 1
            if timeline.finished:
                if faulty and faults.close_after is not None and sent <= faults.close_after:
                    await ws.close(faults.close_code, faults.close_reason)
                    return
                if faults.end_with_close:
                    await ws.close(1000, "stream ended")
                    return
            if not await timeline.wait(self.keepalive_interval):
                await ws.send('{"type":"keep_alive"}')

    async def _read_controls(
        self, ws: ServerConnection, session: ServedSession, faulty: bool
    ) -> None:
        faults = self.faults
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                try:
                    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                    obj = loads(text)
                except ValueError:  # junk from a client, however deep, is ignored
                    continue
                if not isinstance(obj, dict):
                    continue
                self.received.append(obj)
                if obj.get("type") == "control_response":
                    self.take_prompt_answer(session, obj, ws)
                    continue
                answer = self.answer_control(obj)
                if answer is None or (faults.control_silent and faulty):
                    continue
                if faults.control_error is not None:
                    answer = control_error(answer["response"]["request_id"], faults.control_error)
                if faults.control_delay > 0:
                    await asyncio.sleep(faults.control_delay)
                await ws.send(encode(answer))
                if answer["response"]["subtype"] == "success":
                    await self.show_change(session, obj["request"])
                if faults.freeze_after_answer and faulty:
                    ws.transport.pause_reading()
                    await ws.wait_closed()
                    return

    async def show_change(self, session: ServedSession, request: dict[str, Any]) -> None:
        """A setter's effect, as the session reports it in a following ``system`` message."""
        subtype = request.get("subtype")
        note: dict[str, Any]
        if subtype == "set_permission_mode":
            note = {"subtype": "status", "status": None, "permissionMode": request.get("mode")}
        elif subtype == "set_model":
            model = request.get("model")
            text = "Model reset to the default" if model == "default" else f"Model set to {model}"
            note = {"subtype": "informational", "content": text, "model": model}
        elif subtype == "set_max_thinking_tokens":
            tokens = request.get("max_thinking_tokens")
            text = (
                "Thinking budget reset to the default"
                if tokens is None
                else "Thinking turned off"
                if tokens == 0
                else f"Thinking budget set to {tokens} tokens"
            )
            note = {"subtype": "informational", "content": text, "max_thinking_tokens": tokens}
        else:
            return
        message = {
            "type": "system",
            **note,
            "session_id": session.session_id,
            "uuid": str(uuid.uuid4()),
        }
        self.publish(session.session_id, encode(message))

    # -- permission prompts -----------------------------------------------------------------

    def _prompts_of(self, session: ServedSession) -> dict[int, dict[str, Any]]:
        """The ``can_use_tool`` requests among a session's messages, by position."""
        found = self._prompts.get(session.session_id)
        if found is None:
            found = {}
            for index, line in enumerate(session.messages):
                if '"control_request"' not in line:
                    continue
                obj = json.loads(line)
                if is_permission_prompt(obj):
                    found[index] = obj
            self._prompts[session.session_id] = found
        return found

    def _gate(self, session_id: str, request_id: str) -> asyncio.Future[dict[str, Any]]:
        key = (session_id, request_id)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = asyncio.get_running_loop().create_future()
        return gate

    async def _prompt_gate(
        self, session: ServedSession, prompt: dict[str, Any], line: str
    ) -> dict[str, Any]:
        """Ask (unless someone already answered) and wait for the first answer."""
        request_id = prompt["request_id"]
        sid = session.session_id
        gate = self._gate(sid, request_id)
        if gate.done():
            return gate.result()
        self._open_prompts.setdefault(sid, {})[request_id] = _Gate(prompt, line, gate)
        self.publish(sid, line, transcript=False)
        self._log(f"permission prompt {request_id}: waiting for an answer")
        withdraw_after = self.faults.withdraw_prompts_after
        try:
            if withdraw_after is None:
                return await asyncio.shield(gate)
            return await asyncio.wait_for(asyncio.shield(gate), withdraw_after)
        except TimeoutError:
            if not gate.done():
                gate.set_result({"behavior": "withdrawn"})
                self._log(f"permission prompt {request_id}: withdrawn (test hook)")
                cancel = encode({"type": "control_cancel_request", "request_id": request_id})
                self.publish(sid, cancel, transcript=False)
            return gate.result()
        finally:
            self._open_prompts.get(sid, {}).pop(request_id, None)

    def take_prompt_answer(self, session: ServedSession, obj: dict[str, Any], by: object) -> None:
        """A client's answer to a prompt (``by``: its connection): the first one wins."""
        self._take_prompt_answer_now(session, obj, by)

    def _take_prompt_answer_now(
        self, session: ServedSession, obj: dict[str, Any], by: object
    ) -> None:
        """A client's answer to a prompt: the first one wins, the others are ignored."""
        body = obj.get("response")
        if not isinstance(body, dict) or not isinstance(body.get("request_id"), str):
            return
        request_id = body["request_id"]
        known = any(p["request_id"] == request_id for p in self._prompts_of(session).values())
        # An answer may come before the playback reaches its prompt: it still counts.
        gate = self._gate(session.session_id, request_id) if known else None
        if gate is None or gate.done():
            self._log(f"answer to {request_id} ignored: no open prompt")
            return
        decision: dict[str, Any]
        inner = body.get("response")
        if body.get("subtype") == "error":
            decision = {"behavior": "deny", "message": str(body.get("error") or "")}
        elif not isinstance(inner, dict):
            self._log(f"answer to {request_id} ignored: no response object")
            return
        elif inner.get("behavior") == "deny" or (
            inner.get("behavior") == "allow" and isinstance(inner.get("updatedInput"), dict)
        ):
            decision = inner
        else:
            self._log(f"answer to {request_id} ignored: not an allow or deny")
            return
        gate.set_result(decision)
        self._log(f"permission prompt {request_id}: {decision['behavior']}")
        # Everyone else who was asked sees the prompt withdrawn (PROTOCOL §4). An answer
        # posted over v2 comes from no stream connection we could leave out: every stream is
        # told, and the client that answered knows its own answer.
        cancel = encode({"type": "control_cancel_request", "request_id": request_id})
        self.publish(session.session_id, cancel, skip=by, transcript=False)

    def _play_denial(
        self,
        session: ServedSession,
        prompt: dict[str, Any],
        decision: dict[str, Any],
    ) -> None:
        """A denied tool: the denial as its result, then the turn ends without it."""
        request = prompt["request"]
        tool = str(request.get("tool_name") or "the tool")
        request_id = prompt["request_id"]
        message = decision.get("message")
        reason = message if isinstance(message, str) and message else "The user denied this."
        sid = session.session_id

        def uid(n: int) -> str:
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sid}/{request_id}/{n}"))

        last = json.loads(session.messages[-1]) if session.messages else {}
        final = last if last.get("type") == "result" else {}
        denial = {
            "tool_name": tool,
            "tool_use_id": request.get("tool_use_id"),
            "tool_input": request.get("input"),
        }
        lines: list[dict[str, Any]] = [
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": request.get("tool_use_id"),
                            "content": f"Permission to use {tool} was denied: {reason}",
                            "is_error": True,
                        }
                    ],
                },
                "parent_tool_use_id": None,
            }
        ]
        common = {k: final[k] for k in ("duration_ms", "num_turns", "total_cost_usd") if k in final}
        if decision.get("interrupt") is True:
            lines.append(
                {
                    "type": "user",
                    "message": {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "[Request interrupted by user for tool use]"}
                        ],
                    },
                    "parent_tool_use_id": None,
                }
            )
            lines.append(
                {
                    "type": "result",
                    "subtype": "error_during_execution",
                    "is_error": True,
                    "errors": [f"Interrupted: {tool} was denied"],
                    "permission_denials": [denial],
                    **common,
                }
            )
        else:
            text = f"Understood: I won't use {tool} for this. Tell me how you'd like to proceed."
            lines.append(
                {
                    "type": "assistant",
                    "message": {
                        "id": f"msg_denied_{uid(0)[:8]}",
                        "role": "assistant",
                        "content": [{"type": "text", "text": text}],
                    },
                    "parent_tool_use_id": None,
                }
            )
            lines.append(
                {
                    "type": "result",
                    "subtype": "success",
                    "is_error": False,
                    "result": text,
                    "permission_denials": [denial],
                    **common,
                }
            )
        for n, obj in enumerate(lines, 1):
            self.publish(sid, encode({**obj, "session_id": sid, "uuid": uid(n)}))

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
        if subtype == "mcp_status":
            return control_success(request_id, {"mcpServers": _MCP_SERVERS})
        if subtype == "get_context_usage":
            return control_success(request_id, _CONTEXT_USAGE)
        if subtype == "get_settings":
            return control_success(request_id, _SETTINGS)
        if subtype in ("stop_task", "rename_session"):
            return control_success(request_id, {} if subtype == "stop_task" else None)
        return control_error(request_id, f"Unsupported control request subtype: {subtype}")


# What the embedded sessions report about themselves: realistic shapes, fixed values.
_MCP_SERVERS: list[dict[str, Any]] = [
    {
        "name": "github",
        "status": "connected",
        "serverInfo": {"name": "github-mcp-server", "version": "0.9.1"},
        "scope": "user",
        "tools": [{"name": n} for n in ("search_issues", "get_pull_request", "create_issue")],
    },
    {
        "name": "sentry",
        "status": "needs-auth",
        "scope": "project",
        "error": "OAuth sign-in required",
    },
    {
        "name": "postgres",
        "status": "failed",
        "scope": "local",
        "error": "connect ECONNREFUSED 127.0.0.1:5432",
    },
]
_CONTEXT_CATEGORIES = [
    ("System prompt", 3_120, "promptBorder"),
    ("System tools", 14_650, "inactive"),
    ("MCP tools", 2_310, "cyan"),
    ("Memory files", 1_840, "claude"),
    ("Messages", 41_280, "permission"),
]
_CONTEXT_USED = sum(tokens for _, tokens, _ in _CONTEXT_CATEGORIES)
_CONTEXT_USAGE: dict[str, Any] = {
    "categories": [
        *(
            {"name": name, "tokens": tokens, "color": color}
            for name, tokens, color in _CONTEXT_CATEGORIES
        ),
        {"name": "Free space", "tokens": 200_000 - _CONTEXT_USED, "color": "promptBorder"},
    ],
    "totalTokens": _CONTEXT_USED,
    "maxTokens": 200_000,
    "percentage": round(100 * _CONTEXT_USED / 200_000),
    "model": "claude-sonnet-4-5",
}
_SETTINGS: dict[str, Any] = {
    "effective": {"model": "claude-sonnet-4-5", "permissions": {"defaultMode": "default"}},
    "sources": ["user", "project"],
    "applied": {"user": "~/.claude/settings.json", "project": ".claude/settings.json"},
}


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
