"""The one place that owns the WebSocket: connecting, receiving, and the reconnect policy.

``SessionStream.messages()`` yields each message of a session once, in the order received,
across however many reconnects it takes (PROTOCOL §3):

* 1000 from the server ends the stream;
* 4003 (or HTTP 401/403 on the handshake) re-reads the credentials once, then gives up;
* 4001 (or 404) is retried a few times with growing delay, then gives up;
* anything else — a drop, a missing pong, 1002, a refused connection — is retried with
  capped exponential backoff and jitter, the first connect included;
* budgets are reset only once a connection has proved stable (it delivered a new message or
  stayed up a while), so a server that accepts and then closes cannot loop us forever.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
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
from sesstail.credentials import REFRESH_HINT, Token
from sesstail.errors import AuthError, CannotConnect, SessionNotFound, UsageError
from sesstail.netconfig import choose_proxy, is_loopback, tls_context
from sesstail.protocol import (
    ANTHROPIC_VERSION,
    Message,
    SeenIds,
    Skipped,
    encode,
    parse_frame,
    parse_message,
)

NORMAL_CLOSURE = 1000
SESSION_NOT_FOUND = 4001
UNAUTHORIZED = 4003

CLOSE_MEANINGS = {
    1001: "going away",
    1002: "session reaped",
    1006: "no close frame",
    1009: "message too big",
    1011: "server error",
    1012: "service restart",
    1013: "try again later",
    SESSION_NOT_FOUND: "session not found",
    UNAUTHORIZED: "unauthorized",
}


@dataclass(frozen=True)
class StreamSettings:
    url: str
    get_token: Callable[[], Token]
    retries: int = 10
    retry_delay: float = 1.0
    max_delay: float = 30.0
    not_found_retries: int = 3
    ping_interval: float = 30.0
    ping_timeout: float = 20.0
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    stable_after: float = 10.0
    max_size: int = 256 * 2**20
    # False when only JSON lines are written: integers beyond 64 bits may then be rounded in
    # Message.obj (never in Message.line), which saves a scan of every frame.
    exact_numbers: bool = True
    env: dict[str, str] | None = field(default=None, repr=False)


StatusCallback = Callable[[str, bool], None]
"""Called with a status line and whether it is verbose-only (shown with ``-v``)."""


def backoff_delay(attempt: int, first: float, cap: float) -> float:
    """The delay before retry ``attempt`` (1-based): exponential, capped, with ±20 % jitter."""
    base = min(cap, first * 2 ** (attempt - 1))
    jittered: float = base * random.uniform(0.8, 1.2)
    return min(cap, jittered)


def _describe_close(code: int | None, reason: str) -> str:
    if code is None:
        return reason or "no close frame"
    text = f"code {code}"
    meaning = reason or CLOSE_MEANINGS.get(code, "")
    return f"{text}, {meaning}" if meaning else text


class _Closed(Exception):
    """A connection ended; ``code`` is None when no close frame came."""

    def __init__(self, code: int | None, reason: str, *, opened: bool) -> None:
        super().__init__(_describe_close(code, reason))
        self.code = code
        self.reason = reason
        self.opened = opened


class SessionStream:
    def __init__(self, settings: StreamSettings, on_status: StatusCallback) -> None:
        self.settings = settings
        self.on_status = on_status
        self.seen = SeenIds()
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self.connections = 0

    # -- sending ------------------------------------------------------------------------

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def send(self, obj: dict[str, Any]) -> None:
        """Send one control object on the current connection."""
        ws = self._ws
        if ws is None:
            raise CannotConnect("not connected to the session")
        try:
            await ws.send(encode(obj))
        except ConnectionClosed:
            raise CannotConnect("the connection closed before the request was sent") from None

    # -- connecting ---------------------------------------------------------------------

    async def _open(self, token: Token) -> ClientConnection:
        s = self.settings
        host = urlsplit(s.url).hostname or ""
        secure = s.url.startswith("wss://")
        kwargs: dict[str, Any] = {}
        if secure:
            kwargs["ssl"] = tls_context(s.env)
        return await connect(
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

    async def messages(self) -> AsyncIterator[Message]:
        s = self.settings
        failures = 0
        not_found = 0
        auth_reread = False
        rejected_token: str | None = None
        ever_connected = False

        while True:
            token = s.get_token()
            if rejected_token is not None:
                if token.value.reveal() == rejected_token:
                    raise AuthError(
                        "the session service rejected the credentials (4003)",
                        hint=REFRESH_HINT,
                    )
                self.on_status("credentials changed since the rejection; trying them", True)
            opened_at = 0.0
            fresh = 0
            try:
                self.on_status(f"connecting to {_safe_url(s.url)}", True)
                try:
                    ws = await self._open(token)
                except InvalidStatus as exc:
                    status = exc.response.status_code
                    code = {401: UNAUTHORIZED, 403: UNAUTHORIZED, 404: SESSION_NOT_FOUND}.get(
                        status
                    )
                    raise _Closed(code, f"HTTP {status}", opened=False) from None
                except ssl.SSLError:
                    raise
                except TimeoutError:
                    raise _Closed(
                        None, f"no answer within {s.open_timeout:g} s", opened=False
                    ) from None
                except OSError as exc:
                    raise _Closed(None, _os_error_text(exc), opened=False) from None
                except InvalidHandshake as exc:
                    raise _Closed(None, f"bad handshake: {exc}", opened=False) from None
                self._ws = ws
                self.connections += 1
                opened_at = time.monotonic()
                self._connected.set()
                self.on_status("reconnected" if ever_connected else "connected", False)
                ever_connected = True
                try:
                    exact = s.exact_numbers
                    async for frame in ws:
                        now = time.time()
                        single = parse_message(frame, now, exact)
                        items = (single,) if single is not None else parse_frame(frame, now, exact)
                        for item in items:
                            if type(item) is Skipped:
                                self.on_status(
                                    f"skipped a frame: {item.reason}: {item.excerpt}", True
                                )
                                continue
                            assert type(item) is Message
                            message_uuid = item.obj.get("uuid")
                            if type(message_uuid) is str and not self.seen.first_time(message_uuid):
                                continue
                            if item.obj["type"] != "keep_alive":
                                fresh += 1
                                if fresh == 1:
                                    # Proved stable: the budgets start over.
                                    failures = not_found = 0
                                    auth_reread = False
                                    rejected_token = None
                            yield item
                    raise _Closed(ws.close_code, ws.close_reason or "", opened=True)
                except ConnectionClosed as exc:
                    raise _closed_from(exc) from None
                finally:
                    self._ws = None
                    self._connected.clear()
                    await ws.close()
            except _Closed as closed:
                code = closed.code
                if opened_at and time.monotonic() - opened_at >= s.stable_after:
                    failures = not_found = 0
                if code == NORMAL_CLOSURE:
                    self.on_status("the session stream ended (code 1000)", True)
                    return
                if code == UNAUTHORIZED:
                    if auth_reread:
                        raise AuthError(
                            "the session service rejected the credentials again after "
                            "re-reading them (4003)",
                            hint=REFRESH_HINT,
                        ) from None
                    auth_reread = True
                    rejected_token = token.value.reveal()
                    self.on_status(
                        f"unauthorized ({_describe_close(code, closed.reason)}); "
                        "re-reading credentials",
                        False,
                    )
                    continue
                if code == SESSION_NOT_FOUND:
                    not_found += 1
                    if not_found > s.not_found_retries:
                        raise SessionNotFound(
                            f"session not found ({_describe_close(code, closed.reason)}, "
                            f"{s.not_found_retries + 1} attempts)",
                            hint="check the id with the claude.ai/code page, or the org with --org",
                        ) from None
                    delay = 2 * s.retry_delay * not_found
                    self.on_status(
                        f"session not found ({_describe_close(code, closed.reason)}); "
                        f"retrying in {delay:.1f} s, attempt {not_found}/{s.not_found_retries}",
                        False,
                    )
                    await asyncio.sleep(delay)
                    continue
                failures += 1
                what = "connection lost" if closed.opened else "cannot connect"
                detail = str(closed)
                if failures > s.retries:
                    raise CannotConnect(
                        f"{what} ({detail}); gave up after {s.retries} "
                        + ("retry" if s.retries == 1 else "retries")
                    ) from None
                delay = backoff_delay(failures, s.retry_delay, s.max_delay)
                self.on_status(
                    f"{what} ({detail}); reconnecting in {delay:.1f} s, "
                    f"attempt {failures}/{s.retries}",
                    False,
                )
                await asyncio.sleep(delay)
            except ssl.SSLCertVerificationError as exc:
                raise CannotConnect(
                    "TLS failure: certificate verification failed"
                    + (f" ({exc.verify_message})" if exc.verify_message else ""),
                    hint="give an extra CA bundle with NODE_EXTRA_CA_CERTS or SSL_CERT_FILE",
                ) from None
            except ssl.SSLError as exc:
                raise CannotConnect(f"TLS failure: {exc.reason or exc}") from None
            except InvalidURI:
                raise UsageError(f"invalid URL {_safe_url(s.url)}") from None

    async def aclose(self) -> None:
        ws = self._ws
        if ws is not None:
            await ws.close()


def _closed_from(exc: ConnectionClosed) -> _Closed:
    rcvd: Close | None = exc.rcvd
    if rcvd is not None:
        return _Closed(rcvd.code, rcvd.reason, opened=True)
    sent: Close | None = exc.sent
    if sent is not None and sent.code == 1011 and "ping" in sent.reason:
        return _Closed(None, "no pong: the connection went quiet", opened=True)
    return _Closed(None, "", opened=True)


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _os_error_text(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or str(exc) or type(exc).__name__
