"""The v2 API: the session's event stream over server-sent events (PROTOCOL §8).

``GET {base}/v1/code/sessions/{id}/events/stream``, resumed with ``from_sequence_num`` and
``Last-Event-ID`` set to the highest sequence number delivered, so a reconnect loses nothing and
repeats nothing: exactly, not best-effort. A watch starts at the live end: the newest sequence
number is asked for first (without one the server would replay the whole history as if it were
new). SSE framing is httpx-sse's line and event decoders (WHATWG rules); what we add is a bound
on the size of one event, and what the frames mean:

* ``client_event``: a durable event; its ``payload`` is a message, passed on after the source
  rules (``protocol.worker_payload``); one at or below the resume point is a repeat, skipped;
* ``ephemeral_event``: ``stream_event`` deltas and ``thinking_tokens``, passed on, never counted;
* ``catch_up_truncated``: the server could not replay everything: a gap, said on stderr;
* ``session_update``, ``delivery_update``: said with ``-v``; a ``:`` comment is a keepalive.

No bytes at all for ``liveness`` seconds (45; comments count) drop the connection; it is then
reconnected like any other. Sending is a POST of events (``rest_v2``), not on the stream: it
needs no connection and survives a reconnect, so a request is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import httpx
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from sesstail.errors import AuthError, SessionNotFound, SesstailError
from sesstail.protocol import (
    Message,
    Skipped,
    encode,
    loads,
    sequence_number,
    shorten,
    worker_payload,
)
from sesstail.transport.http import Limits, async_client, base_headers, event_stream
from sesstail.transport.stream import Ended, Outcome, StreamSettings

if TYPE_CHECKING:
    from sesstail.credentials import Token
    from sesstail.transport.rest_v2 import V2Api


ENDED_STATUSES = frozenset({"ended", "archived"})


class SseLink:
    """One open event stream."""

    def __init__(
        self,
        generation: V2,
        response: httpx.Response,
        stack: contextlib.AsyncExitStack,
    ) -> None:
        self.generation = generation
        self.response = response
        self.stack = stack

    async def items(self) -> AsyncGenerator[Message | Skipped, None]:
        gen = self.generation
        max_size = gen.settings.max_size
        exact = gen.settings.exact_numbers
        lines = SSELineDecoder()
        events = SSEDecoder()
        partial = 0  # characters of a line not yet complete
        event_chars = 0  # characters of the lines of the event being received
        try:
            # Closed here, not whenever it is collected: its cleanup awaits.
            chunks = cast("AsyncGenerator[str, None]", self.response.aiter_text())
            async with contextlib.aclosing(chunks) as texts:
                async for text in texts:
                    done = lines.decode(text)
                    if not done:
                        partial += len(text)
                    else:
                        partial = len(lines.buffer[0]) if lines.buffer else 0
                    for line in done:
                        event = events.decode(line)
                        if event is None:
                            event_chars += len(line)
                            continue
                        event_chars = 0
                        item = gen.item(event.event, event.data, event.id, exact)
                        if item is not None:
                            yield item
                    if partial + event_chars > max_size:
                        raise Ended(Outcome.FATAL, _too_big(max_size), opened=True)
        except httpx.ReadTimeout:
            raise Ended(
                Outcome.TRANSIENT, f"no data for {gen.settings.liveness:g} s", opened=True
            ) from None
        except httpx.HTTPError as exc:
            raise Ended(Outcome.TRANSIENT, _stream_error(exc), opened=True) from None
        raise Ended(Outcome.TRANSIENT, "the server ended the event stream", opened=True)

    async def send(self, obj: dict[str, Any]) -> None:
        await self.generation.send(obj, self)

    async def close(self) -> None:
        await self.stack.aclose()

    def abort(self) -> None:
        asyncio.get_running_loop().create_task(self.stack.aclose())


def _too_big(limit: int) -> str:
    return f"the session sent an event too big (limit {limit // 2**20} MiB)"


def _stream_error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the event stream broke off"
    return f"the event stream failed ({type(exc).__name__})"


class V2:
    """The v2 generation behind ``SessionStream``: where to resume, and how to send."""

    name = "v2"
    durable_sends = True

    def __init__(
        self,
        settings: StreamSettings,
        rest: V2Api,
        start_after: int | None,
        report: Callable[[str, bool], None],
    ) -> None:
        self.settings = settings
        self.rest = rest
        self.report = report
        self.last_seq = start_after  # the highest durable sequence number delivered
        self._client: httpx.AsyncClient | None = None
        # Prompts this client answered: the session withdraws them from every viewer, and
        # this one need not be told its own answer took effect.
        self.answered: set[str] = set()

    def describe(self) -> str:
        return self._url().split("?", 1)[0]

    def _url(self) -> str:
        from sesstail.protocol import http_url

        sid = self.settings.session_id or ""
        url = http_url(self.rest.base_url, f"/v1/code/sessions/{quote(sid, safe='')}/events/stream")
        if self.last_seq is not None:
            url += f"?from_sequence_num={self.last_seq}"
        return url

    async def open(self, token: Token) -> SseLink:
        s = self.settings
        url = self._url()
        if self._client is None:
            limits = Limits(connect=s.open_timeout, read=s.liveness)
            self._client = async_client(url, s.env, limits)
        headers = base_headers(token.value, self.rest.headers())
        if self.last_seq is not None:
            headers["Last-Event-ID"] = str(self.last_seq)
        stack = contextlib.AsyncExitStack()
        try:
            response = await stack.enter_async_context(
                event_stream(self._client, url, headers, s.open_timeout)
            )
        except AuthError as exc:
            await stack.aclose()
            raise Ended(Outcome.UNAUTHORIZED, exc.message, opened=False) from None
        except SessionNotFound:
            await stack.aclose()
            raise Ended(Outcome.GONE, "HTTP 404", opened=False) from None
        except SesstailError as exc:
            await stack.aclose()
            if "TLS failure" in exc.message or "redirected" in exc.message:
                raise
            raise Ended(Outcome.TRANSIENT, exc.message, opened=False) from None
        except BaseException:
            await stack.aclose()
            raise
        content_type = response.headers.get("content-type", "").partition(";")[0].strip()
        if content_type != "text/event-stream":
            await stack.aclose()
            raise Ended(
                Outcome.TRANSIENT,
                f"not an event stream (Content-Type {shorten(content_type, 40) or 'none'})",
                opened=False,
            )
        return SseLink(self, response, stack)

    def item(self, kind: str, data: str, event_id: str, exact: bool) -> Message | Skipped | None:
        """One SSE event as a message to pass on, a frame to report, or None (nothing to show)."""
        now = time.time()
        if kind == "client_event":
            envelope, raw_payload = _envelope(data, exact)
            if envelope is None:
                return Skipped("a client_event that is not a JSON object", shorten(data))
            seq = sequence_number(envelope.get("sequence_num"))
            if seq is None:
                seq = sequence_number(event_id) if event_id else None
            if seq is not None:
                if self.last_seq is not None and seq <= self.last_seq:
                    return None  # a repeat of what we already have
                self.last_seq = seq
            message = worker_payload(envelope)
            if message is None:
                return None
            if message["type"] == "control_cancel_request" and (
                message.get("request_id") in self.answered
            ):
                return None
            rewritten = id(message) != id(envelope.get("payload"))  # fields were removed
            line = encode(message) if raw_payload is None or rewritten else raw_payload
            return Message(line, message, now)
        if kind == "ephemeral_event":
            envelope, raw_payload = _envelope(data, exact)
            payload = envelope.get("payload") if envelope is not None else None
            if not isinstance(payload, dict) or type(payload.get("type")) is not str:
                return Skipped("an ephemeral_event without a message", shorten(data))
            return Message(raw_payload or encode(payload), payload, now)
        if kind == "catch_up_truncated":
            self.report(
                "the service could not replay everything said since sequence "
                f"{self.last_seq}: some messages are missing (a gap)",
                False,
            )
            return None
        if kind in ("session_update", "delivery_update"):
            self.report(f"{kind}: {shorten(data, 200)}", True)
            update = _object(data, exact) if kind == "session_update" else None
            status = update.get("connection_status") if update is not None else None
            if status in ENDED_STATUSES:
                # The session is over: nothing more will come (PROTOCOL §8 does not name the
                # values; these are the ones sesstail serve sends, and the obvious ones).
                raise Ended(Outcome.END, f"session_update: {status}", opened=True)
            return None
        if kind in ("", "message") and not data:
            return None
        return Skipped(f"an unknown event {shorten(kind, 40)!r}", shorten(data))

    async def send(self, obj: dict[str, Any], link: object | None) -> None:
        """POST a control request or answer as an event; no connection needed."""
        sid = self.settings.session_id or ""
        body = obj.get("response")
        if obj.get("type") == "control_response" and isinstance(body, dict):
            answered = body.get("request_id")
            if isinstance(answered, str):
                self.answered.add(answered)
        await asyncio.to_thread(self.rest.post_control, sid, obj)

    async def fill_gap(self, last_uuid: str | None) -> list[Message]:
        return []  # the stream resumes by sequence number: there is no gap to fill

    def start_after(self, seq: int) -> None:
        """Resume after ``seq`` (the newest event of a history shown first), if later."""
        if self.last_seq is None or seq > self.last_seq:
            self.last_seq = seq

    async def confirm_not_found(self) -> bool:
        return True

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


_PAYLOAD_KEY = ',"payload":'


def _envelope(data: str, exact: bool) -> tuple[dict[str, Any] | None, str | None]:
    """An event's envelope, and its payload's text exactly as sent when that can be told.

    JSONL output writes a message as received; in v2 the message is the ``payload`` inside
    the envelope. When the payload is the envelope's last member (as the service and our
    server send it), the envelope is parsed in two parts — the same work as parsing it
    whole — and the payload's own text is kept. Otherwise it is parsed whole and the payload
    re-encoded compactly.
    """
    at = data.rfind(_PAYLOAD_KEY)
    if at > 0 and data.endswith("}") and "\n" not in data:
        head = _object(data[:at] + "}", exact)
        text = data[at + len(_PAYLOAD_KEY) : -1].strip()
        body = _object(text, exact) if head is not None and "payload" not in head else None
        if head is not None and body is not None:
            head["payload"] = body
            return head, text
    return _object(data, exact), None


def _object(data: str, exact: bool) -> dict[str, Any] | None:
    try:
        value = loads(data, exact)
    except ValueError:
        return None
    return value if type(value) is dict else None
