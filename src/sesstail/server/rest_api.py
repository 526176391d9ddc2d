"""The REST endpoints of PROTOCOL §7, served by the embedded server on its WebSocket port.

    GET  /v1/sessions                     list (``limit``, ``after_id``), newest activity first
    GET  /v1/sessions/{id}                one session
    GET  /v1/sessions/{id}/events         history pages: ``limit``, ``before_id``, ``after_id``,
                                          ``anchor_to_latest=true``
    POST /v1/sessions/{id}/events         a prompt: echoed into the live stream, then a short
                                          scripted reply; a repeated ``uuid`` is ignored

The history is the server's record of what each session has said so far, played or posted
(``SessionsServer.history``); the same record is what a reconnect replays, so the two agree.
``RestFaults`` are the test hooks: answer with an error status, drop the answer to a post
after accepting it, answer history requests late.

websockets parses plain HTTP requests for us (``process_request``) but refuses any request
with a body, so ``RequestBodyConnection`` takes the body of a request off the wire before
websockets sees the request head.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid as uuid_module
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Response

from sesstail.protocol import encode, is_permission_prompt

if TYPE_CHECKING:
    from sesstail.server.core import SessionsServer

MAX_BODY = 16 * 2**20
_MAX_HEAD = 64 * 2**10
_CONTENT_LENGTH = re.compile(
    rb"^content-length:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE | re.MULTILINE
)
# The organization of a server started without --org, as its profile endpoint tells it.
DEFAULT_ORG = "00000000-0000-4000-8000-000000000000"
_SESSIONS = re.compile(r"^/v1/sessions/?$")
_ONE_SESSION = re.compile(r"^/v1/sessions/(?P<session>[^/]+)$")
_EVENTS = re.compile(r"^/v1/sessions/(?P<session>[^/]+)/events$")
STATUSES = ("requires_action", "running", "idle", "archived")


class RequestBodyConnection(ServerConnection):
    """A server connection that reads a plain HTTP request's body itself.

    The body is kept in ``request_body`` and the ``Content-Length`` line is taken out of the
    head handed to websockets, which would otherwise refuse the request. WebSocket traffic
    (no body) passes through untouched after the first request head.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_body = b""
        self.body_too_big = False
        self._pending: bytearray | None = bytearray()
        self.lost = asyncio.Event()  # the client went away (a v2 stream stops writing)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        pending = self._pending
        if pending is None:
            super().data_received(data)
            return
        pending += data
        end = pending.find(b"\r\n\r\n")
        if end < 0:
            if len(pending) > _MAX_HEAD:
                self._pass_on(bytes(pending))
            return
        head, rest = bytes(pending[: end + 4]), pending[end + 4 :]
        match = _CONTENT_LENGTH.search(head)
        length = int(match.group(1)[:12]) if match else 0
        if length > MAX_BODY:
            # Refused at once, as declared: the body is never read (answered 413).
            self.body_too_big = True
            assert match is not None
            self._pass_on(head[: match.start()] + head[match.end() :])
            return
        if length == 0:
            self._pass_on(bytes(pending))  # websockets answers what it cannot take
            return
        if len(rest) < length:
            return
        assert match is not None
        self.request_body = bytes(rest[:length])
        self._pass_on(head[: match.start()] + head[match.end() :] + bytes(rest[length:]))

    def _pass_on(self, data: bytes) -> None:
        self._pending = None
        super().data_received(data)


@dataclass
class RestFaults:
    """Test hooks for the REST endpoints."""

    statuses: list[int] = field(default_factory=list)  # answer the next requests with these
    drop_post_answers: int = 0  # accept the next N posts, then drop the connection unanswered
    history_delay: float = 0.0  # answer history requests this much later (seconds)
    echo_prompts: bool = True  # a posted prompt also goes to the live stream, before its reply
    not_active: bool = False  # v2 posts are answered 409 session_not_active


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class RestApi:
    """Answers the §7 requests for a ``SessionsServer`` (installed as its ``http_handler``)."""

    def __init__(self, server: SessionsServer) -> None:
        self.server = server
        self.faults = RestFaults()
        self.max_page = 100
        self.reply_delay = 0.05  # before each message of the scripted reply (seconds)
        self.statuses: dict[str, str] = {}  # a session's status, when set rather than derived
        self.created_at = time.time()
        self.posted: list[dict[str, Any]] = []  # every event accepted, repeats excluded
        self.posted_uuids: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- dispatch -----------------------------------------------------------------------------

    async def handle(self, connection: ServerConnection, request: Any) -> Response | None:
        if request.headers.get("Upgrade"):
            return None  # a WebSocket handshake, whatever its path
        method = getattr(request, "method", "GET")
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = getattr(connection, "request_body", b"")
        if getattr(connection, "body_too_big", False):
            return _error(connection, 413, f"request body over {MAX_BODY // 2**20} MiB")
        if self.faults.statuses:
            status = self.faults.statuses.pop(0)
            return _error(connection, status, "injected failure (test hook)")
        if parts.path == "/api/oauth/profile" and method == "GET":
            return self._profile(connection, request)
        refused = self._refuse(connection, request)
        if refused is not None:
            return refused
        if parts.path.startswith("/v1/code/"):
            if "v2" not in self.server.apis:
                return _error(connection, 404, f"no such endpoint: {method} {parts.path}")
            try:
                return await self.server.v2.handle(connection, request, method, parts.path, body)
            except _BadRequest as exc:
                return _error(connection, 400, str(exc))
        if "v1" not in self.server.apis:
            return _error(connection, 404, f"no such endpoint: {method} {parts.path}")
        try:
            if _SESSIONS.match(parts.path) and method == "GET":
                return self._list(connection, query)
            if match := _ONE_SESSION.match(parts.path):
                if method != "GET":
                    return _error(connection, 405, f"{method} is not served here")
                return self._one(connection, unquote(match.group("session")))
            if match := _EVENTS.match(parts.path):
                session_id = unquote(match.group("session"))
                if method == "GET":
                    if self.faults.history_delay:
                        await asyncio.sleep(self.faults.history_delay)
                    return self._history(connection, session_id, query)
                if method == "POST":
                    return await self._post(connection, session_id, body)
                return _error(connection, 405, f"{method} is not served here")
        except _BadRequest as exc:
            return _error(connection, 400, str(exc))
        return _error(connection, 404, f"no such endpoint: {method} {parts.path}")

    def _refuse(self, connection: ServerConnection, request: Any) -> Response | None:
        server = self.server
        headers = request.headers
        if server.token is not None and headers.get("Authorization") != f"Bearer {server.token}":
            return _error(connection, 401, "invalid bearer token", "authentication_error")
        if server.org is not None and headers.get("x-organization-uuid") != server.org:
            return _error(connection, 403, "wrong organization", "permission_error")
        return None

    def _profile(self, connection: ServerConnection, request: Any) -> Response:
        """PROTOCOL §6: who the token belongs to; how a client finds its organization
        without --org. Needs the token (when the server has one), not the org."""
        token = self.server.token
        if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
            return _error(connection, 401, "invalid bearer token", "authentication_error")
        org = self.server.org or DEFAULT_ORG
        return _json(
            connection,
            200,
            {
                "account": {"uuid": org, "email_address": "dev@example.com"},
                "organization": {"uuid": org, "name": "sesstail serve"},
            },
        )

    # -- sessions -----------------------------------------------------------------------------

    def resource(self, session_id: str) -> dict[str, Any]:
        """A session as §7 describes it."""
        server = self.server
        session = server.sessions[session_id]
        context: dict[str, Any] = {}
        for line in session.messages[:8]:
            obj = json.loads(line)
            if obj.get("type") == "system" and obj.get("subtype") == "init":
                context = {k: obj[k] for k in ("cwd", "model") if isinstance(obj.get(k), str)}
                break
        updated = server.last_activity.get(session_id, self.created_at)
        return {
            "id": session_id,
            "title": session.title or session_id,
            "session_status": self.status(session_id),
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(updated),
            "session_context": context,
        }

    def status(self, session_id: str) -> str:
        """Set by a test, or derived from the last thing the session said; a permission
        prompt still open (not history: it is asked, not said) means it waits for you."""
        if session_id in self.statuses:
            return self.statuses[session_id]
        if self.server.pending_prompts(session_id):
            return "requires_action"
        for line in reversed(self.server.history.get(session_id, [])):
            obj = json.loads(line)
            kind = obj.get("type")
            if kind == "keep_alive":
                continue
            if kind == "result":
                return "idle"
            if is_permission_prompt(obj):
                return "requires_action"
            if kind == "system" and obj.get("subtype") == "session_state_changed":
                state = obj.get("state")
                if state in STATUSES:
                    return str(state)
            return "running"
        return "idle"

    def _list(self, connection: ServerConnection, query: dict[str, str]) -> Response:
        limit = self._limit(query, 20)
        order = sorted(
            self.server.sessions,
            key=lambda sid: self.server.last_activity.get(sid, self.created_at),
            reverse=True,
        )  # sorted() is stable: sessions never active keep the order they were given in
        start = 0
        after = query.get("after_id")
        if after is not None:
            if after not in order:
                raise _BadRequest(f"unknown after_id {after!r}")
            start = order.index(after) + 1
        page = order[start : start + limit]
        return _json(
            connection,
            200,
            {
                "data": [self.resource(sid) for sid in page],
                "has_more": start + limit < len(order),
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            },
        )

    def _one(self, connection: ServerConnection, session_id: str) -> Response:
        if session_id not in self.server.sessions:
            return _error(connection, 404, f"session {session_id} not found", "not_found_error")
        return _json(connection, 200, self.resource(session_id))

    # -- history ------------------------------------------------------------------------------

    def _history(
        self, connection: ServerConnection, session_id: str, query: dict[str, str]
    ) -> Response:
        if session_id not in self.server.sessions:
            return _error(connection, 404, f"session {session_id} not found", "not_found_error")
        lines = list(self.server.history.get(session_id, []))
        ids = [_event_id(line, number) for number, line in enumerate(lines)]
        limit = self._limit(query, 20)
        before, after = query.get("before_id"), query.get("after_id")
        if before is not None and after is not None:
            raise _BadRequest("give before_id or after_id, not both")
        if after is not None:
            start = _position(ids, after, "after_id") + 1
            end = min(len(lines), start + limit)
            has_more = end < len(lines)
        elif before is not None or query.get("anchor_to_latest") == "true":
            end = _position(ids, before, "before_id") if before is not None else len(lines)
            start = max(0, end - limit)
            has_more = start > 0
        else:
            start, end = 0, min(len(lines), limit)
            has_more = end < len(lines)
        page = lines[start:end]
        # The messages go out exactly as they were played, not re-encoded.
        text = (
            '{"data":['
            + ",".join(page)
            + f'],"has_more":{"true" if has_more else "false"}'
            + f',"first_id":{json.dumps(ids[start] if page else None)}'
            + f',"last_id":{json.dumps(ids[end - 1] if page else None)}}}'
        )
        return _json_text(connection, 200, text)

    def _limit(self, query: dict[str, str], default: int) -> int:
        raw = query.get("limit")
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
            raise _BadRequest(f"limit must be a positive integer, not {raw[:40]!r}")
        return min(int(raw), self.max_page)

    # -- posting ------------------------------------------------------------------------------

    async def _post(self, connection: ServerConnection, session_id: str, body: bytes) -> Response:
        if session_id not in self.server.sessions:
            return _error(connection, 404, f"session {session_id} not found", "not_found_error")
        payload = parse_body(body)
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list) or not events:
            raise _BadRequest("expected {'events': [...]}")
        for event in events:
            if not (
                isinstance(event, dict)
                and isinstance(event.get("type"), str)
                and isinstance(event.get("uuid"), str)
            ):
                raise _BadRequest("each event needs a string type and uuid")
        accepted = 0
        for event in events:
            if event["uuid"] in self.posted_uuids:
                continue  # a retry of something already delivered: safe to repeat
            self.posted_uuids.add(event["uuid"])
            self.posted.append(event)
            accepted += 1
            if self.faults.echo_prompts:
                self.server.publish(session_id, encode(event), source="client")
            else:
                self.server.publish(session_id, encode(event), source="client", api="none")
            if event["type"] == "user":
                self.spawn(self.reply(session_id, event))
        if self.faults.drop_post_answers > 0:
            self.faults.drop_post_answers -= 1
            connection.transport.abort()
        return _json(connection, 200, {"accepted": accepted})

    def spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reply(self, session_id: str, prompt: dict[str, Any]) -> None:
        """A short scripted turn answering a posted prompt: one reply, then the result."""
        message = prompt.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        said = content if isinstance(content, str) else "(your prompt)"
        text = f"You said: {said[:200]}"
        reply_id = f"msg_{uuid_module.uuid4().hex[:20]}"
        turn: list[dict[str, Any]] = [
            {
                "type": "assistant",
                "uuid": str(uuid_module.uuid4()),
                "session_id": session_id,
                "parent_tool_use_id": None,
                "message": {
                    "id": reply_id,
                    "role": "assistant",
                    "model": "claude-sesstail-echo",
                    "content": [{"type": "text", "text": text}],
                },
            },
            {
                "type": "result",
                "subtype": "success",
                "uuid": str(uuid_module.uuid4()),
                "session_id": session_id,
                "is_error": False,
                "num_turns": 1,
                "duration_ms": int(2 * self.reply_delay * 1000),
                "result": text,
                "total_cost_usd": 0.0,
            },
        ]
        for obj in turn:
            await asyncio.sleep(self.reply_delay)
            self.server.publish(session_id, encode(obj))


class _BadRequest(Exception):
    pass


def parse_body(body: bytes) -> Any:
    """A request's JSON body; anything else, however deep, is a 400."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise _BadRequest("the body is not JSON (or nested too deeply)") from None


def _event_id(line: str, number: int) -> str:
    message_uuid = json.loads(line).get("uuid")
    return message_uuid if isinstance(message_uuid, str) else f"event_{number}"


def _position(ids: list[str], wanted: str, name: str) -> int:
    try:
        return ids.index(wanted)
    except ValueError:
        raise _BadRequest(f"unknown {name} {wanted!r}") from None


def _json(connection: ServerConnection, status: int, obj: Any) -> Response:
    return _json_text(connection, status, json.dumps(obj))


def _json_text(connection: ServerConnection, status: int, text: str) -> Response:
    response = connection.respond(status, text)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _error(
    connection: ServerConnection, status: int, message: str, kind: str = "invalid_request_error"
) -> Response:
    if status >= 500:
        kind = "api_error"
    return _json(
        connection,
        status,
        {"type": "error", "error": {"type": kind, "message": message or HTTPStatus(status).phrase}},
    )
