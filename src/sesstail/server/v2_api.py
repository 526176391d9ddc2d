"""The v2 API of PROTOCOL §8, served by the embedded server on the same port as v1.

    GET  /v1/code/sessions                       list: ``limit``, ``cursor``, ``statuses``
    GET  /v1/code/sessions/{id}/events           history: ``limit``, ``sort_order``, ``cursor``
    GET  /v1/code/sessions/{id}/events/stream    the event stream (SSE), ``from_sequence_num``
    POST /v1/code/sessions/{id}/events           prompts, control requests, their answers

Ids are accepted as ``session_x`` or ``cse_x``; lists answer ``cse_x``. The stream replays the
whole history without ``from_sequence_num`` (and ``Last-Event-ID``), only what follows with it;
durable events come as ``client_event`` with their sequence number as ``id:``, deltas as
``ephemeral_event``; a ``:`` comment every ``sse_keepalive`` seconds. The stream is written
straight to the connection's transport from ``process_request`` (websockets answers plain
HTTP with one whole response only), with ``Connection: close``. Test hooks (``Faults``):
``drop_after`` / ``close_after`` end a faulty stream after N events, ``truncate_catch_up``
skips events on a resume and says ``catch_up_truncated``, ``non_worker_uuids`` mark events as
coming from another source; ``RestFaults.not_active`` answers posts with 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from sesstail.protocol import control_error, encode
from sesstail.server.rest_api import _BadRequest, _error, _json, iso_time, parse_body

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Response

    from sesstail.server.core import Entry, ServedSession, SessionsServer

_LIST = re.compile(r"^/v1/code/sessions/?$")
_EVENTS = re.compile(r"^/v1/code/sessions/(?P<session>[^/]+)/events$")
_STREAM = re.compile(r"^/v1/code/sessions/(?P<session>[^/]+)/events/stream$")
_HIGH_WATER = 1 * 2**20
_LOW_WATER = 256 * 2**10
V2_STATUS = {"running": "active", "requires_action": "active", "idle": "paused"}


def _number(raw: str | None, name: str, low: int, high: int) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not low <= int(raw) <= high:
        raise _BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


class V2Routes:
    def __init__(self, server: SessionsServer) -> None:
        self.server = server

    def _session(self, raw: str) -> ServedSession | None:
        name = unquote(raw)
        if name.startswith("cse_"):
            name = "session_" + name[4:]
        return self.server.sessions.get(name)

    async def handle(
        self, connection: ServerConnection, request: Any, method: str, path: str, body: bytes
    ) -> Response | None:
        query = parse_qs(request.path.partition("?")[2])
        if _LIST.match(path) and method == "GET":
            return self._list(connection, query)
        if match := _STREAM.match(path):
            session = self._session(match.group("session"))
            if session is None:
                return _error(connection, 404, "session not found", "not_found_error")
            if method != "GET":
                return _error(connection, 405, f"{method} is not served here")
            raw = query.get("from_sequence_num", [None])[-1] or request.headers.get("Last-Event-ID")
            start = _number(raw, "from_sequence_num", 0, 2**63 - 1)
            await self._stream(connection, session, start)
            return None
        if match := _EVENTS.match(path):
            session = self._session(match.group("session"))
            if session is None:
                return _error(connection, 404, "session not found", "not_found_error")
            if method == "GET":
                if self.server.rest.faults.history_delay:
                    await asyncio.sleep(self.server.rest.faults.history_delay)
                return self._history(connection, session, query)
            if method == "POST":
                return await self._post(connection, session, body)
            return _error(connection, 405, f"{method} is not served here")
        return _error(connection, 404, f"no such endpoint: {method} {path}")

    # -- the stream ---------------------------------------------------------------------------

    async def _stream(
        self, connection: ServerConnection, session: ServedSession, start: int | None
    ) -> None:
        server = self.server
        server.connection_count += 1
        number = server.connection_count
        faulty = server._faulty(number)
        faults = server.faults
        transport = connection.transport
        lost: asyncio.Event = getattr(connection, "lost", asyncio.Event())
        transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
            b'event: session_update\ndata: {"connection_status":"connected"}\n\n'
        )
        timeline = server.subscribe(session)
        cursor = 0 if start is None else timeline.after(start)
        if start is not None and faults.truncate_catch_up:
            transport.write(b"event: catch_up_truncated\ndata: {}\n\n")
            skipped = 0
            while cursor < len(timeline.entries) and skipped < faults.truncate_catch_up:
                if timeline.entries[cursor].seq is not None:
                    skipped += 1
                cursor += 1
        live_from = len(timeline.entries)
        sent = 0
        stopping = server.stopping
        server._log(f"stream {number}: watching {session.session_id} from {start}")
        try:
            while not lost.is_set() and not (stopping is not None and stopping.is_set()):
                while cursor < len(timeline.entries):
                    entry = timeline.entries[cursor]
                    cursor += 1
                    if entry.api not in (None, "v2") or entry.skip is connection:
                        continue
                    if entry.seq is None and cursor <= live_from:
                        continue  # deltas are never replayed
                    if faulty and sent in (faults.drop_after, faults.close_after):
                        server._log(f"stream {number}: ending it (test hook)")
                        transport.abort()
                        return
                    transport.write(_frame(entry, session.session_id))
                    sent += 1
                    if transport.get_write_buffer_size() > _HIGH_WATER:
                        while transport.get_write_buffer_size() > _LOW_WATER and not lost.is_set():
                            await asyncio.sleep(0.001)
                if timeline.finished and faults.end_with_close:
                    transport.write(
                        b'event: session_update\ndata: {"connection_status":"ended"}\n\n'
                    )
                    return
                waiter = asyncio.ensure_future(timeline.wait(server.sse_keepalive))
                gone = asyncio.ensure_future(lost.wait())
                try:
                    await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    gone.cancel()
                if waiter.done() and not waiter.result() and not lost.is_set():
                    transport.write(b":keepalive\n\n")
                waiter.cancel()
        finally:
            with contextlib.suppress(Exception):
                transport.close()

    # -- history ------------------------------------------------------------------------------

    def _history(
        self, connection: ServerConnection, session: ServedSession, query: dict[str, list[str]]
    ) -> Response:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        limit = _number(one("limit"), "limit", 1, 500) or 50
        order = one("sort_order") or "desc"
        if order not in ("asc", "desc"):
            raise _BadRequest("sort_order is asc or desc")
        cursor = _number(one("cursor"), "cursor", 0, 2**63 - 1)
        durable = [e for e in self.server.timeline(session.session_id).entries if e.seq is not None]
        if order == "desc":
            durable.reverse()
            if cursor is not None:
                durable = [e for e in durable if e.seq is not None and e.seq < cursor]
        elif cursor is not None:
            durable = [e for e in durable if e.seq is not None and e.seq > cursor]
        page = durable[:limit]
        text = "{" + '"data":[' + ",".join(_envelope(e, session.session_id) for e in page) + "]"
        if len(durable) > limit and page:
            text += f',"next_cursor":{page[-1].seq}'
        resume = page[-1].seq if page else (cursor or 0)
        text += f',"resume_cursor":{resume}' + "}"
        response = connection.respond(200, text)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    # -- posting ------------------------------------------------------------------------------

    async def _post(
        self, connection: ServerConnection, session: ServedSession, body: bytes
    ) -> Response:
        server = self.server
        rest = server.rest
        if rest.faults.not_active:
            return _json(
                connection,
                409,
                {
                    "type": "error",
                    "error": {"type": "session_not_active", "message": "not running"},
                },
            )
        payload = parse_body(body)
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list) or not events:
            raise _BadRequest("expected {'events': [{'payload': {...}}]}")
        payloads = [e.get("payload") if isinstance(e, dict) else None for e in events]
        if not all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in payloads):
            raise _BadRequest("each event needs a payload with a string type")
        results: list[dict[str, Any]] = []
        sid = session.session_id
        server.subscribe(session)  # a session someone talks to is running
        for obj in payloads:
            assert isinstance(obj, dict)
            kind = obj["type"]
            if kind.startswith("control_"):
                server.received.append(obj)  # the control frames, as on the v1 socket
            if kind == "user":
                event_uuid = obj.get("uuid")
                if not isinstance(event_uuid, str):
                    raise _BadRequest("a prompt needs a uuid")
                if event_uuid in rest.posted_uuids:
                    results.append({"sequence_num": None})
                    continue
                rest.posted_uuids.add(event_uuid)
                rest.posted.append(obj)
                echo = None if rest.faults.echo_prompts else "none"
                entry = server.publish(sid, encode(obj), source="client", api=echo)
                rest.spawn(rest.reply(sid, obj))
            elif kind == "control_request":
                entry = server.publish(sid, encode(obj), source="client", api="none")
                rest.spawn(self._answer(session, obj))
            elif kind == "control_response":
                entry = server.publish(sid, encode(obj), source="client", transcript=False)
                server.take_prompt_answer(session, obj, None)
            else:
                entry = server.publish(sid, encode(obj), source="client")
            results.append({"sequence_num": entry.seq})
        if rest.faults.drop_post_answers > 0:
            rest.faults.drop_post_answers -= 1
            connection.transport.abort()
        return _json(connection, 200, {"results": results})

    async def _answer(self, session: ServedSession, obj: dict[str, Any]) -> None:
        """The session answers a posted control request on the stream (as the worker)."""
        server = self.server
        faults = server.faults
        answer = server.answer_control(obj)
        if answer is None or faults.control_silent:
            return
        if faults.control_error is not None:
            answer = control_error(answer["response"]["request_id"], faults.control_error)
        if faults.control_delay > 0:
            await asyncio.sleep(faults.control_delay)
        server.publish(session.session_id, encode(answer), transcript=False)
        if answer["response"]["subtype"] == "success":
            await server.show_change(session, obj["request"])

    # -- sessions -----------------------------------------------------------------------------

    def _list(self, connection: ServerConnection, query: dict[str, list[str]]) -> Response:
        rest = self.server.rest
        limit = _number((query.get("limit") or [""])[-1] or None, "limit", 1, 1000) or 100
        wanted = set(query.get("statuses") or [])
        order = sorted(
            self.server.sessions,
            key=lambda sid: self.server.last_activity.get(sid, rest.created_at),
            reverse=True,
        )
        items = []
        for sid in order:
            v1 = rest.resource(sid)
            bucket = v1["session_status"]
            status = V2_STATUS.get(bucket, bucket)
            if wanted and status not in wanted:
                continue
            history = self.server.history.get(sid, [])
            items.append(
                {
                    "id": "cse_" + sid.removeprefix("session_"),
                    "title": v1["title"],
                    "status": status,
                    "status_bucket": bucket,
                    "environment_kind": "remote",
                    "config": {"model": v1["session_context"].get("model")},
                    "created_at": v1["created_at"],
                    "updated_at": v1["updated_at"],
                    "last_event_at": v1["updated_at"],
                    "user_message_count": sum(1 for line in history if '"type":"user"' in line),
                    "tags": [],
                }
            )
        start = _number((query.get("cursor") or [""])[-1] or None, "cursor", 0, 10**9) or 0
        page = items[start : start + limit]
        answer: dict[str, Any] = {"data": page}
        if start + limit < len(items):
            answer["next_cursor"] = str(start + limit)
        return _json(connection, 200, answer)


def _envelope(entry: Entry, session_id: str) -> str:
    # The payload goes in exactly as the session said it, not re-encoded.
    return (
        '{"event_id":"evt_'
        + str(entry.seq)
        + '","sequence_num":'
        + str(entry.seq)
        + ',"event_type":'
        + json.dumps(entry.kind)
        + ',"source":'
        + json.dumps(entry.source)
        + ',"created_at":"'
        + iso_time(entry.created_at)
        + '","payload":'
        + entry.line
        + "}"
    )


def _frame(entry: Entry, session_id: str) -> bytes:
    if entry.seq is None:
        data = (
            '{"event_type":'
            + json.dumps(entry.kind)
            + ',"source":"worker","timestamp":"'
            + iso_time(entry.created_at)
            + '","payload":'
            + entry.line
            + "}"
        )
        return ("event: ephemeral_event\ndata: " + data + "\n\n").encode("utf-8", "surrogatepass")
    return (
        f"event: client_event\nid: {entry.seq}\ndata: " + _envelope(entry, session_id) + "\n\n"
    ).encode("utf-8", "surrogatepass")
