"""One session's messages, once each, in order, across reconnects, whichever API carries them.

``SessionStream.messages()`` is what every command consumes. It chooses the API generation
(PROTOCOL §9: ``v1``, ``v2``, or ``auto`` — v2 first, v1 when the v2 routes are not there or do
not know the session), opens a connection through it (``ws_v1.V1`` / ``sse_v2.V2``), and applies
one reconnect policy to both (PROTOCOL §3, §8):

* END (a WebSocket 1000) ends the stream;
* UNAUTHORIZED (4003, HTTP 401/403) re-reads the credentials once, then gives up;
* NOT_FOUND (4001, a v1 404) is retried a few times with growing delay (a session compacting
  can say it), unless the REST lookup says at once that the session does not exist; GONE (a v2
  404) is final;
* FATAL (a message over our size limit) gives up at once: it would not fit next time either;
* anything else — a drop, a missing pong or keepalive, a refused connection, 5xx — is retried
  with capped exponential backoff and jitter, the first connect included;
* budgets are reset only once a connection has proved stable: it delivered a message never
  seen before (by uuid, or by its bytes for one without), or stayed up ``stable_after`` s;
* the wall clock jumping ahead of the monotonic one (a laptop waking up) drops the connection
  and reconnects at once.

After a reconnect, v1 fills the gap from the history (best-effort); v2 resumes from its sequence
number (exact). Every message is shown once by ``uuid`` in any case, within a bounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import ssl
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from sesstail.credentials import REFRESH_HINT, Token
from sesstail.errors import AuthError, CannotConnect, SessionNotFound, SesstailError, UsageError
from sesstail.protocol import Message, SeenIds, Skipped

if TYPE_CHECKING:
    from sesstail.transport.rest_v1 import RestCaller, SessionsApi
    from sesstail.transport.rest_v2 import V2Api

_Rest = TypeVar("_Rest", bound="RestCaller")

API_CHOICES = ("auto", "v1", "v2")
# Answers to the v2 probe that mean "no v2 here, or v2 does not know this session" (§9).
_NOT_V2 = frozenset({404, 405, 426, 501})
_TRANSIENT_TYPES = frozenset({"keep_alive", "stream_event"})
SUSPEND_JUMP_S = 10.0  # the wall clock ahead of the monotonic one by this much: we slept


class Outcome(enum.Enum):
    END = "end"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not found"  # maybe transient
    GONE = "gone"  # not found, final
    FATAL = "fatal"
    TRANSIENT = "transient"


class Ended(Exception):
    """A connection ended (or never opened), and how."""

    def __init__(self, outcome: Outcome, detail: str, *, opened: bool) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.opened = opened


@dataclass(frozen=True)
class StreamSettings:
    url: str  # the v1 WebSocket address (PROTOCOL §1); base, session and org are read from it
    get_token: Callable[[], Token]
    api: str = "v1"  # v1, v2 or auto
    retries: int = 10
    retry_delay: float = 1.0
    max_delay: float = 30.0
    not_found_retries: int = 3
    ping_interval: float = 30.0
    ping_timeout: float = 20.0
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    liveness: float = 45.0  # v2: no bytes for this long, keepalive comments included
    stable_after: float = 10.0
    max_size: int = 256 * 2**20
    # False when only JSON lines are written: integers beyond 64 bits may then be rounded in
    # Message.obj (never in Message.line), which saves a scan of every frame.
    exact_numbers: bool = True
    gap_fill: bool = True  # v1: fetch what was said while reconnecting from the history
    # A time.monotonic() by which every REST call must be over (``wait --timeout``).
    rest_deadline: float | None = None
    env: dict[str, str] | None = field(default=None, repr=False)

    @property
    def session_id(self) -> str | None:
        parts = urlsplit(self.url).path.split("/")
        # /v1/sessions/ws/{session}/subscribe
        return unquote(parts[4]) if len(parts) >= 6 and parts[3] == "ws" else None

    @property
    def org_uuid(self) -> str:
        return parse_qs(urlsplit(self.url).query).get("organization_uuid", [""])[0]

    @property
    def base_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}"


StatusCallback = Callable[[str, bool], None]
"""Called with a status line and whether it is verbose-only (shown with ``-v``)."""


def backoff_delay(attempt: int, first: float, cap: float) -> float:
    """The delay before retry ``attempt`` (1-based): exponential, capped, with ±20 % jitter."""
    base = min(cap, first * 2 ** (attempt - 1))
    jittered: float = base * random.uniform(0.8, 1.2)
    return min(cap, jittered)


class Link(Protocol):
    """One open connection of either API."""

    def items(self) -> AsyncGenerator[Message | Skipped, None]: ...

    async def send(self, obj: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...

    def abort(self) -> None: ...


class Generation(Protocol):
    """What an API generation provides to ``SessionStream``."""

    name: str
    durable_sends: bool  # True: a request sent survives a reconnect (it is not sent again)

    def describe(self) -> str: ...

    async def open(self, token: Token) -> Link: ...

    async def send(self, obj: dict[str, Any], link: Any) -> None: ...

    async def fill_gap(self, last_uuid: str | None) -> list[Message]: ...

    def start_after(self, seq: int) -> None: ...

    async def confirm_not_found(self) -> bool: ...

    async def aclose(self) -> None: ...


class SessionStream:
    """A session's messages, whichever API carries them (see the module docstring)."""

    def __init__(self, settings: StreamSettings, on_status: StatusCallback) -> None:
        if settings.api not in API_CHOICES:
            raise UsageError(f"invalid API {settings.api!r}: expected auto, v1 or v2")
        self.settings = settings
        self.on_status = on_status
        self.seen = SeenIds()
        self.history_known: frozenset[str] = frozenset()
        self._fresh_without_uuid = SeenIds(4096)
        self._generation: Generation | None = None
        self._link: Link | None = None
        self._closing: Link | None = None
        self._connected = asyncio.Event()
        self.connections = 0
        self.last_uuid: str | None = None  # of the last durable message passed on
        self._suspended = False
        # The clocks the sleep watchdog compares, and how often it looks (tests move them).
        self.wall_clock: Callable[[], float] = time.time
        self.sleep_poll_s = 2.0

    # -- the API generation ---------------------------------------------------------------

    @property
    def api(self) -> str | None:
        """``v1`` or ``v2`` once chosen."""
        return self._generation.name if self._generation is not None else None

    @property
    def durable_sends(self) -> bool:
        return self._generation is not None and self._generation.durable_sends

    def rest_v1(self, attempts: int = 3) -> SessionsApi:
        from sesstail.transport.rest_v1 import SessionsApi

        return self._rest(SessionsApi, attempts)

    def rest_v2(self, attempts: int = 3) -> V2Api:
        from sesstail.transport.rest_v2 import V2Api

        return self._rest(V2Api, attempts)

    def _rest(self, kind: type[_Rest], attempts: int) -> _Rest:
        """A REST client of either generation for this session's service, within the
        stream's REST deadline, if it has one."""
        s = self.settings
        return kind(
            s.base_url,
            s.org_uuid,
            s.get_token,
            s.env,
            attempts=attempts,
            retry_delay=0.5,
            deadline=s.rest_deadline,
        )

    async def resolve(self, start_after: int | None = None) -> Generation:
        """Choose the API (once): the generation that will carry the stream.

        ``start_after``: v2 resumes after this sequence number (the history shown first)
        instead of asking for the newest one.
        """
        if self._generation is not None:
            return self._generation
        choice = self.settings.api
        sid = self.settings.session_id
        if choice == "v1" or sid is None:
            self._generation = self._v1()
            # -v names the API whichever way it was chosen (PROTOCOL §9).
            self.on_status("speaking the v1 API" + (" (--api v1)" if choice == "v1" else ""), True)
        elif choice == "v2":
            self._generation = await self._v2(start_after)
        else:
            try:
                self._generation = await self._v2(start_after, probing=True)
            except _NoV2 as no:
                await self._check_exists_on_v1()
                self.on_status(f"speaking the v1 API ({no.why})", True)
                self._generation = self._v1()
        if self._generation.name == "v2" and choice != "v1":
            self.on_status("speaking the v2 API", True)
        return self._generation

    def _v1(self) -> Generation:
        from sesstail.transport.ws_v1 import V1

        rest = self.rest_v1(attempts=2) if self.settings.gap_fill else None
        return V1(self.settings, rest, self.on_status, lambda: self.last_uuid is not None)

    async def _v2(self, start_after: int | None, *, probing: bool = False) -> Generation:
        from sesstail.transport.http import HttpStatusError
        from sesstail.transport.sse_v2 import V2

        rest = self.rest_v2(attempts=1)
        sid = self.settings.session_id
        assert sid is not None
        if start_after is None:
            try:
                start_after = await asyncio.to_thread(rest.latest_sequence, sid)
            except SessionNotFound:
                if probing:
                    raise _NoV2("the v2 API does not know the session") from None
                raise
            except HttpStatusError as exc:
                if probing and exc.status in _NOT_V2:
                    raise _NoV2(f"the v2 API answered HTTP {exc.status}") from None
                raise
        return V2(self.settings, self.rest_v2(), start_after, self.on_status)

    async def _check_exists_on_v1(self) -> None:
        """After v2 said 404: a v1 404 too means the session is on neither (exit 4, at once)."""
        sid = self.settings.session_id
        assert sid is not None
        try:
            await asyncio.to_thread(self.rest_v1(attempts=1).session, sid)
        except SessionNotFound:
            raise SessionNotFound(
                f"session {sid} not found",
                hint="check the id with `sesstail ls`, or the org with --org",
            ) from None
        except SesstailError as exc:
            self.on_status(f"could not look the session up: {exc.message}", True)

    # -- sending ------------------------------------------------------------------------

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def send(self, obj: dict[str, Any]) -> None:
        """Send one control object: on the current connection (v1) or as a POST (v2)."""
        generation = await self.resolve()
        if not generation.durable_sends and self._link is None:
            raise CannotConnect("not connected to the session")
        await generation.send(obj, self._link)

    # -- receiving ----------------------------------------------------------------------

    def _first_time(self, msg: Message) -> tuple[bool, bool]:
        """Whether to pass ``msg`` on, and whether it proves the connection stable."""
        obj = msg.obj
        message_uuid = obj.get("uuid")
        if type(message_uuid) is str:
            if not self.seen.first_time(message_uuid):
                return False, False
            if obj["type"] not in _TRANSIENT_TYPES:
                self.last_uuid = message_uuid
            return True, True
        if obj["type"] == "keep_alive":
            return True, False
        return True, self._fresh_without_uuid.first_time(msg.line)

    async def messages(self) -> AsyncGenerator[Message, None]:
        try:
            async with contextlib.aclosing(self._messages()) as messages:
                async for msg in messages:
                    yield msg
        finally:
            if self._generation is not None:
                with contextlib.suppress(Exception):
                    await self._generation.aclose()

    async def _messages(self) -> AsyncGenerator[Message, None]:
        s = self.settings
        failures = 0
        not_found = 0
        auth_reread = False
        rejected_token: str | None = None
        rejected_detail = ""
        ever_connected = False
        # A subscription that worked was interrupted: what was said meanwhile is to be fetched.
        gap_pending = False
        fresh = 0

        while True:
            token = s.get_token()
            if rejected_token is not None:
                if token.value.reveal() == rejected_token:
                    raise AuthError(
                        f"the session service rejected the credentials ({rejected_detail})",
                        hint=_auth_hint(token),
                    )
                self.on_status("credentials changed since the rejection; trying them", True)
            opened_at = 0.0
            try:
                generation = await self._resolve_for_connect()
                self.on_status(f"connecting to {generation.describe()}", True)
                link = await generation.open(token)
                self._link = link
                self.connections += 1
                opened_at = time.monotonic()
                self._connected.set()
                self.on_status("reconnected" if ever_connected else "connected", False)
                ever_connected = True
                watchdog = asyncio.get_running_loop().create_task(self._watch_for_sleep(link))
                items: AsyncGenerator[Message | Skipped, None] | None = None
                try:
                    backlog: list[Message] = []
                    if gap_pending and s.gap_fill:
                        backlog = await generation.fill_gap(self.last_uuid)
                    gap_pending = False
                    fresh = 0
                    items = _chain(backlog, link.items())
                    async for item in items:
                        if type(item) is Skipped:
                            self.on_status(f"skipped a frame: {item.reason}: {item.excerpt}", True)
                            continue
                        assert type(item) is Message
                        show, new = self._first_time(item)
                        if new:
                            fresh += 1
                            if fresh == 1:
                                # Proved stable: the budgets start over.
                                failures = not_found = 0
                                auth_reread = False
                                rejected_token = None
                        if show:
                            yield item
                    raise Ended(Outcome.TRANSIENT, "the connection ended", opened=True)
                finally:
                    watchdog.cancel()
                    if items is not None:
                        with contextlib.suppress(Exception):
                            await items.aclose()
                    self._link = None
                    self._connected.clear()
                    self._closing = link  # abort() can still end a slow close
                    try:
                        with contextlib.suppress(Exception):
                            await link.close()
                    finally:
                        self._closing = None
            except Ended as ended:
                if self._suspended:
                    self._suspended = False
                    gap_pending = True
                    self.on_status("the computer slept: reconnecting at once", False)
                    continue
                outcome = ended.outcome
                if ended.opened and (fresh or outcome is Outcome.TRANSIENT):
                    gap_pending = True
                fresh = 0
                if opened_at and time.monotonic() - opened_at >= s.stable_after:
                    failures = not_found = 0
                if outcome is Outcome.END:
                    self.on_status(f"the session stream ended ({ended.detail})", True)
                    return
                if outcome is Outcome.FATAL:
                    raise CannotConnect(ended.detail) from None
                if outcome is Outcome.UNAUTHORIZED:
                    if auth_reread:
                        raise AuthError(
                            "the session service rejected the credentials again after "
                            f"re-reading them ({ended.detail})",
                            hint=_auth_hint(token),
                        ) from None
                    auth_reread = True
                    rejected_token = token.value.reveal()
                    rejected_detail = ended.detail
                    self.on_status(f"unauthorized ({ended.detail}); re-reading credentials", False)
                    continue
                if outcome is Outcome.GONE:
                    raise SessionNotFound(
                        f"session {s.session_id} not found ({ended.detail})",
                        hint="check the id with `sesstail ls`, or the org with --org",
                    ) from None
                if outcome is Outcome.NOT_FOUND:
                    not_found += 1
                    generation_now = self._generation
                    if (
                        not_found == 1
                        and generation_now is not None
                        and (await generation_now.confirm_not_found())
                    ):
                        raise SessionNotFound(
                            f"session {s.session_id} not found ({ended.detail}; the "
                            "history endpoint does not know it either)",
                            hint="check the id with `sesstail ls`, or the org with --org",
                        ) from None
                    if not_found > s.not_found_retries:
                        raise SessionNotFound(
                            f"session not found ({ended.detail}, "
                            f"{s.not_found_retries + 1} attempts)",
                            hint="check the id with the claude.ai/code page, or the org with --org",
                        ) from None
                    delay = 2 * s.retry_delay * not_found
                    self.on_status(
                        f"session not found ({ended.detail}); retrying in {delay:.1f} s, "
                        f"attempt {not_found}/{s.not_found_retries}",
                        False,
                    )
                    await asyncio.sleep(delay)
                    continue
                failures += 1
                what = "connection lost" if ended.opened else "cannot connect"
                if failures > s.retries:
                    raise CannotConnect(
                        f"{what} ({ended.detail}); gave up after {s.retries} "
                        + ("retry" if s.retries == 1 else "retries")
                    ) from None
                delay = backoff_delay(failures, s.retry_delay, s.max_delay)
                self.on_status(
                    f"{what} ({ended.detail}); reconnecting in {delay:.1f} s, "
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

    async def _resolve_for_connect(self) -> Generation:
        """``resolve``, with a failure to reach the service counted like a failed connect."""
        try:
            return await self.resolve()
        except AuthError as exc:
            raise Ended(Outcome.UNAUTHORIZED, exc.message, opened=False) from None
        except CannotConnect as exc:
            from sesstail.transport.http import HttpStatusError

            retryable = isinstance(exc, HttpStatusError) and exc.worth_retrying
            network = not isinstance(exc, HttpStatusError) and not (
                "TLS failure" in exc.message or "redirected" in exc.message
            )
            if retryable or network:
                # Said as a failed connection is ("connection refused"), without the host.
                detail = exc.message
                if detail.startswith("cannot reach ") and ": " in detail:
                    detail = detail.split(": ", 1)[1]
                raise Ended(Outcome.TRANSIENT, detail, opened=False) from None
            raise

    async def _watch_for_sleep(self, link: Link) -> None:
        """Drop the connection when the machine was asleep (its socket is likely dead)."""
        drift = self.wall_clock() - time.monotonic()
        while True:
            await asyncio.sleep(self.sleep_poll_s)
            now_drift = self.wall_clock() - time.monotonic()
            if now_drift - drift > SUSPEND_JUMP_S:
                self._suspended = True
                link.abort()
                return
            drift = now_drift

    def abort(self) -> None:
        """Drop the current connection (or the one closing) at once, without a handshake."""
        for link in (self._link, self._closing):
            if link is not None:
                link.abort()

    async def aclose(self) -> None:
        link = self._link
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()
        if self._generation is not None:
            await self._generation.aclose()

    # -- history ------------------------------------------------------------------------

    async def last_messages(
        self, count: int, overlap: int = 0, since: float | None = None
    ) -> list[Message]:
        """The last ``count`` messages, oldest first, marked ``backfill``.

        v2: exact — called before ``messages()``, the live stream then starts right after
        them. v1: from the history endpoint; called once the stream is subscribed, their
        live copies are not shown again, nor those of the ``overlap`` messages before them
        (read too, kept in ``history_known``). With ``since`` (epoch seconds), only those
        made at or after it.
        """
        from sesstail.transport.rest_v1 import as_messages
        from sesstail.transport.rest_v2 import envelope_messages

        sid = self.settings.session_id
        assert sid is not None
        generation = await self.resolve()
        if generation.name == "v2":
            events, top = await asyncio.to_thread(self.rest_v2().last_events, sid, count, since)
            if self.connections == 0:
                generation.start_after(top)
            return envelope_messages(events, time.time(), backfill=True)
        # v1 is live-only (PROTOCOL §2): what the session said between subscribing and this
        # read is in the history and arrives live too. A wider read than asked for holds it
        # (up to ``overlap`` messages); all of it is marked seen, the last ``count`` are shown.
        wider = count + overlap if count else 0
        objs = await asyncio.to_thread(self.rest_v1().history, sid, wider, since)
        history = [m._replace(backfill=True) for m in as_messages(objs)]
        for msg in history:
            message_uuid = msg.obj.get("uuid")
            if type(message_uuid) is str:
                self.seen.first_time(message_uuid)
        self.history_known = frozenset(
            u for u in (m.obj.get("uuid") for m in history) if type(u) is str
        )
        return history[-count:] if count else []

    async def send_prompt(self, text: str, prompt_uuid: str) -> None:
        """Post a user prompt (retries keep its uuid: it is delivered once)."""
        sid = self.settings.session_id
        assert sid is not None
        generation = await self.resolve()
        api = self.rest_v2() if generation.name == "v2" else self.rest_v1()
        await asyncio.to_thread(api.send_prompt, sid, text, prompt_uuid)


async def _chain(
    first: list[Message], then: AsyncGenerator[Message | Skipped, None]
) -> AsyncGenerator[Message | Skipped, None]:
    async with contextlib.aclosing(then):
        for msg in first:
            yield msg
        async for item in then:
            yield item


class _NoV2(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _auth_hint(token: Token) -> str:
    if token.source == "CLAUDE_CODE_OAUTH_TOKEN":
        return (
            "check CLAUDE_CODE_OAUTH_TOKEN, and the organization (--org): a token of "
            "another organization is refused too"
        )
    return REFRESH_HINT
