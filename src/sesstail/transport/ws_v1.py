"""The v1 API: the session's WebSocket (PROTOCOL §1–3), live-only, and its gap fill (§2).

The socket does not replay anything on attach or reconnect, so whatever the session says while
we are reconnecting arrives only through the history endpoint: after every reconnect
:meth:`V1.fill_gap` asks it for what followed the last message shown — or, when nothing was
shown yet, what followed the history's newest item a second after the first attach (noted
then, in the background) — best-effort: the history lags the live stream mid-turn and never
holds ``stream_event`` deltas; it says on stderr when the gap could not be closed.

Close codes (§3) become outcomes for ``stream.SessionStream``: 1000 ends the stream, 4003 or
HTTP 401/403 is an auth failure, 4001 or 404 "not found" (retried a few times: it can be
transient while a session compacts; a REST lookup that says 404 ends it at once), 1009 a
message over our limit (final: it would not fit next time either), anything else transient.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Close

from sesstail import __version__
from sesstail.errors import CannotConnect, SessionNotFound, SesstailError
from sesstail.netconfig import choose_proxy, is_loopback, shared_tls_context
from sesstail.protocol import (
    ANTHROPIC_VERSION,
    Message,
    Skipped,
    encode,
    parse_frame,
    parse_message,
)
from sesstail.transport.http import origin
from sesstail.transport.stream import Ended, Outcome, StreamSettings

if TYPE_CHECKING:
    from sesstail.credentials import Token
    from sesstail.transport.rest_v1 import SessionsApi

NORMAL_CLOSURE = 1000
MESSAGE_TOO_BIG = 1009
INVALID_DATA = 1007
SESSION_NOT_FOUND = 4001
UNAUTHORIZED = 4003

CLOSE_MEANINGS = {
    1001: "going away",
    1002: "session reaped",
    1006: "no close frame",
    INVALID_DATA: "invalid data",
    MESSAGE_TOO_BIG: "message too big",
    1011: "server error",
    1012: "service restart",
    1013: "try again later",
    SESSION_NOT_FOUND: "session not found",
    UNAUTHORIZED: "unauthorized",
}
GAP_PAGES = 20  # history pages one gap fill may read (100 messages each)
# A watch that has shown nothing this long after attaching notes where the history stands,
# so that a gap fill after a later drop knows where the unseen part begins.
ANCHOR_AFTER_S = 1.0


def describe_close(code: int | None, reason: str) -> str:
    if code is None:
        return reason or "no close frame"
    text = f"code {code}"
    meaning = reason or CLOSE_MEANINGS.get(code, "")
    return f"{text}, {meaning}" if meaning else text


def _outcome_of(code: int | None) -> Outcome:
    if code == NORMAL_CLOSURE:
        return Outcome.END
    if code == UNAUTHORIZED:
        return Outcome.UNAUTHORIZED
    if code == SESSION_NOT_FOUND:
        return Outcome.NOT_FOUND
    return Outcome.TRANSIENT


class _RefusedRedirect(Exception):
    def __init__(self, target: str, why: str) -> None:
        super().__init__(why)
        self.target = target
        self.why = why


class _SameOriginConnect(connect):
    """``connect`` that follows a redirect only within the origin: the bearer token is never
    offered to another one (websockets would follow it, minus the header), and a redirect to
    something that is not a WebSocket address names that address."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        if isinstance(exc, InvalidStatus) and "Location" in exc.response.headers:
            from urllib.parse import urljoin

            target = urljoin(self.uri, exc.response.headers["Location"])
            http_form = {"ws": "http", "wss": "https"}
            here = urlsplit(self.uri)
            there = urlsplit(target)
            if there.scheme not in ("ws", "wss"):
                return _RefusedRedirect(target, "not a WebSocket address")
            mine = origin(f"{http_form.get(here.scheme, here.scheme)}://{here.netloc}")
            theirs = origin(f"{http_form.get(there.scheme, there.scheme)}://{there.netloc}")
            if mine != theirs:
                return _RefusedRedirect(target, "another origin")
        return super().process_redirect(exc)


class WsLink:
    """One open WebSocket."""

    def __init__(self, ws: ClientConnection, settings: StreamSettings) -> None:
        self.ws = ws
        self.settings = settings

    async def items(self) -> AsyncGenerator[Message | Skipped, None]:
        ws = self.ws
        exact = self.settings.exact_numbers
        try:
            async for frame in ws:
                now = time.time()
                single = parse_message(frame, now, exact)
                if single is not None:
                    yield single
                    continue
                for item in parse_frame(frame, now, exact):
                    yield item
        except ConnectionClosed as exc:
            raise _ended_from(exc, self.settings.max_size) from None
        code = ws.close_code
        raise Ended(_outcome_of(code), describe_close(code, ws.close_reason or ""), opened=True)

    async def send(self, obj: dict[str, Any]) -> None:
        try:
            await self.ws.send(encode(obj))
        except ConnectionClosed:
            raise CannotConnect("the connection closed before the request was sent") from None

    async def close(self) -> None:
        await self.ws.close()

    def abort(self) -> None:
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


def _ended_from(exc: ConnectionClosed, max_size: int) -> Ended:
    rcvd: Close | None = exc.rcvd
    sent: Close | None = exc.sent
    if sent is not None and sent.code == MESSAGE_TOO_BIG:
        return Ended(
            Outcome.FATAL,
            f"the session sent a message too big (limit {max_size // 2**20} MiB)",
            opened=True,
        )
    if sent is not None and sent.code == INVALID_DATA:
        return Ended(Outcome.TRANSIENT, "invalid UTF-8 from the server", opened=True)
    if rcvd is not None:
        return Ended(_outcome_of(rcvd.code), describe_close(rcvd.code, rcvd.reason), opened=True)
    if sent is not None and sent.code == 1011 and "ping" in sent.reason:
        return Ended(Outcome.TRANSIENT, "no pong: the connection went quiet", opened=True)
    return Ended(Outcome.TRANSIENT, "no close frame", opened=True)


class V1:
    """The v1 generation behind ``SessionStream``."""

    name = "v1"
    durable_sends = False  # a request sent on a socket that dies may die with it

    def __init__(
        self,
        settings: StreamSettings,
        rest: SessionsApi | None,
        report: Callable[[str, bool], None],
        shown: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.rest = rest
        self.report = report
        self.shown = shown  # whether the stream has passed on a message with a uuid yet
        self._anchor: str | None = None  # the history's newest id when we first attached
        self._anchor_known = False
        self._anchor_task: asyncio.Task[None] | None = None
        self._looked_up = False

    def describe(self) -> str:
        parts = urlsplit(self.settings.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    async def open(self, token: Token) -> WsLink:
        s = self.settings
        host = urlsplit(s.url).hostname or ""
        kwargs: dict[str, Any] = {}
        if s.url.startswith("wss://"):
            kwargs["ssl"] = shared_tls_context(s.env)
        try:
            ws = await _SameOriginConnect(
                s.url,
                additional_headers={
                    "Authorization": f"Bearer {token.value.reveal()}",
                    "anthropic-version": ANTHROPIC_VERSION,
                },
                user_agent_header=f"sesstail/{__version__}",
                # Deflate halves throughput on loopback, where bandwidth is free.
                compression=None if is_loopback(host) else "deflate",
                proxy=choose_proxy(s.url, s.env),
                open_timeout=s.open_timeout,
                ping_interval=s.ping_interval,
                ping_timeout=s.ping_timeout,
                close_timeout=s.close_timeout,
                max_size=s.max_size,
                **kwargs,
            )
        except _RefusedRedirect as exc:
            raise CannotConnect(
                f"the service redirected to {exc.target} ({exc.why}); refused",
                hint="check --base-url: it should be the sessions API itself",
            ) from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            outcome = {
                401: Outcome.UNAUTHORIZED,
                403: Outcome.UNAUTHORIZED,
                404: Outcome.NOT_FOUND,
            }.get(status, Outcome.TRANSIENT)
            raise Ended(outcome, f"HTTP {status}", opened=False) from None
        except ssl.SSLError:
            raise
        except TimeoutError:
            raise Ended(
                Outcome.TRANSIENT, f"no answer within {s.open_timeout:g} s", opened=False
            ) from None
        except OSError as exc:
            raise Ended(Outcome.TRANSIENT, _os_error_text(exc), opened=False) from None
        except InvalidURI:
            from sesstail.errors import UsageError

            raise UsageError(f"invalid URL {self.describe()}") from None
        except InvalidHandshake as exc:
            raise Ended(Outcome.TRANSIENT, f"bad handshake: {exc}", opened=False) from None
        if self.rest is not None and self._anchor_task is None:
            self._anchor_task = asyncio.get_running_loop().create_task(self._anchor_soon())
        return WsLink(ws, s)

    async def _anchor_soon(self) -> None:
        """Where the history stands shortly after the first attach, unless a message came
        first (a gap fill then starts after the last one shown). Read at the drop instead,
        it would already hold what was said while reconnecting: lost without a word."""
        await asyncio.sleep(ANCHOR_AFTER_S)
        if not self.shown():
            await self._find_anchor()

    async def send(self, obj: dict[str, Any], link: WsLink | None) -> None:
        if link is None:
            raise CannotConnect("not connected to the session")
        await link.send(obj)

    async def confirm_not_found(self) -> bool:
        """After a 4001: whether the history endpoint says at once that the session does not
        exist (a mistyped id), rather than waiting out the retries meant for compaction."""
        if self.rest is None or self._looked_up or self.settings.session_id is None:
            return False
        self._looked_up = True
        try:
            await asyncio.to_thread(self.rest.session, self.settings.session_id)
        except SessionNotFound:
            return True
        except SesstailError:
            return False
        return False

    async def _find_anchor(self) -> None:
        """Where the history stood when we attached: a gap fill before any message was shown
        starts after it."""
        assert self.rest is not None
        assert self.settings.session_id is not None
        try:
            page = await asyncio.to_thread(
                self.rest.history_page, self.settings.session_id, 1, latest=True
            )
        except SesstailError as exc:
            self.report(f"could not read the history for closing gaps: {exc.message}", True)
            return
        self._anchor = page.last_id
        self._anchor_known = True

    async def fill_gap(self, last_uuid: str | None) -> list[Message]:
        """What was said while we were reconnecting, from the history (PROTOCOL §2)."""
        sid = self.settings.session_id
        if self.rest is None or sid is None:
            self.report("cannot fetch what was said while reconnecting: no history endpoint", False)
            return []
        anchor = last_uuid
        if anchor is None:
            # Nothing shown yet, so nothing was said between attaching and the drop: where
            # the history stood then (noted soon after attaching) is where the gap begins.
            # A drop sooner than that: the history's newest item now (best-effort).
            task = self._anchor_task
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if not self._anchor_known:
                await self._find_anchor()
            if not self._anchor_known:
                self.report(
                    "messages said while reconnecting may be missing: the history could not "
                    "be read",
                    False,
                )
                return []
            anchor = self._anchor
        try:
            items, complete = await asyncio.to_thread(
                self.rest.history_after, sid, anchor, GAP_PAGES
            )
        except SesstailError as exc:
            self.report(f"messages said while reconnecting may be missing: {exc.message}", False)
            return []
        if not complete:
            self.report(
                f"the gap while reconnecting held more than {GAP_PAGES * 100} messages; "
                "showing the first of them",
                False,
            )
        now = time.time()
        return [Message(encode(o), o, now) for o in items if type(o.get("type")) is str]

    def start_after(self, seq: int) -> None:
        pass  # v1 has no sequence numbers

    async def aclose(self) -> None:
        task = self._anchor_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _os_error_text(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or str(exc) or type(exc).__name__
