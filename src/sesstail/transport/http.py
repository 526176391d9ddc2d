"""The one HTTP client: every REST call and every v2 event stream goes through here.

Built on httpx (an HTTP/1.1 client with streaming bodies, proxies and an async twin; about
140 ms to import, paid only by commands that talk HTTP). What it adds, for every request:

* the headers of PROTOCOL §7/§8, ``User-Agent: sesstail/<version>`` (never the library's);
* proxies by ``netconfig.choose_proxy`` (httpx's own environment reading is off) and TLS by
  ``netconfig.tls_context`` (the operating system's trust store via ``truststore``, plus
  ``NODE_EXTRA_CA_CERTS`` / ``SSL_CERT_FILE`` and a client certificate);
* a timeout on connecting, on each read, and a deadline on the whole request (headers or a
  body trickled one byte at a time end too), and a bound on the size of an answer;
* redirects: followed only within the same origin (scheme, host and port), so the bearer token
  never reaches another origin and an https request is never downgraded; any other redirect
  is refused as an error;
* failures as our errors: 401/403 → ``AuthError``, 404 → ``SessionNotFound``, other statuses
  → ``HttpStatusError`` (a ``CannotConnect`` that knows its status), network and protocol
  failures → ``CannotConnect``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from sesstail import __version__
from sesstail.errors import AuthError, CannotConnect, SessionNotFound, SesstailError, UsageError
from sesstail.netconfig import choose_proxy, shared_tls_context
from sesstail.protocol import ANTHROPIC_VERSION, NESTED_TOO_DEEPLY, loads
from sesstail.secrets import Secret

# Bounds (the README's "Limits" table lists them).
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 15.0
DEADLINE = 60.0  # a whole request, however slowly its answer trickles
MAX_BODY = 64 * 2**20  # a REST answer; a history page of big tool results fits easily
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
REFRESH_HINT = "run `claude` once to refresh your login, then try again"


class HttpStatusError(CannotConnect):
    """An HTTP answer with a failure status other than 401, 403 and 404."""

    def __init__(self, message: str, status: int, body: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.body = body  # the start of the answer (bounded), for callers that read codes

    @property
    def worth_retrying(self) -> bool:
        return self.status >= 500 or self.status in (408, 429)


class OverLimit(CannotConnect):
    """An answer over its size limit or past its deadline: asking again would download it
    again and go over again, so it is never retried."""


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _where(url: str) -> str:
    return urlsplit(url).netloc


@dataclass(frozen=True)
class Limits:
    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT
    deadline: float = DEADLINE
    max_body: int = MAX_BODY


def _transport_kwargs(url: str, env: Mapping[str, str] | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"trust_env": False, "follow_redirects": False}
    proxy = choose_proxy(url, env)
    if proxy:
        kwargs["proxy"] = proxy
    # Also for plain http: given no context, httpx would load a trust store of its own for
    # every client (1.6 s for 50 sessions here).
    kwargs["verify"] = shared_tls_context(env)
    return kwargs


def sync_client(url: str, env: Mapping[str, str] | None, limits: Limits) -> httpx.Client:
    timeout = httpx.Timeout(limits.read, connect=limits.connect)
    return httpx.Client(timeout=timeout, **_transport_kwargs(url, env))


def async_client(url: str, env: Mapping[str, str] | None, limits: Limits) -> httpx.AsyncClient:
    timeout = httpx.Timeout(limits.read, connect=limits.connect)
    return httpx.AsyncClient(timeout=timeout, **_transport_kwargs(url, env))


def base_headers(token: Secret, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token.reveal()}",
        "anthropic-version": ANTHROPIC_VERSION,
        "User-Agent": f"sesstail/{__version__}",
        **(extra or {}),
    }


def redirect_target(url: str, response: httpx.Response) -> str:
    """Where a redirect points, if it stays on ``url``'s origin; else the redirect is refused."""
    location = str(response.headers.get("location", ""))
    target = urljoin(url, location)
    if origin(target) != origin(url):
        scheme, host, port = origin(target)
        raise CannotConnect(
            f"{_where(url)} redirected to another origin ({scheme}://{host}"
            + (f":{port}" if port else "")
            + "); refused: the token is never sent to another origin",
            hint="check --base-url: it should be the sessions API itself",
        )
    return target


def status_error(url: str, status: int, body: bytes = b"") -> SesstailError:
    where = _where(url)
    if status in (401, 403):
        return AuthError(f"{where} refused the credentials (HTTP {status})", hint=REFRESH_HINT)
    if status == 404:
        return SessionNotFound(f"not found (HTTP 404 from {where})")
    text = body[:2000].decode("utf-8", "replace")
    return HttpStatusError(f"{where} answered HTTP {status}", status, text)


def network_error(url: str, exc: Exception, timeout: float) -> CannotConnect:
    """An httpx failure as our error, worded from what we know (never the library's text,
    which could quote a header)."""
    import errno
    import ssl

    where = _where(url)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in (errno.EMFILE, errno.ENFILE):
            return CannotConnect(
                f"cannot open a connection to {where}: too many open files",
                hint="raise the limit (`ulimit -n`) or follow fewer sessions at once",
            )
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = f" ({cause.verify_message})" if cause.verify_message else ""
            return CannotConnect(
                f"TLS failure talking to {where}: certificate verification failed{detail}",
                hint="give an extra CA bundle with NODE_EXTRA_CA_CERTS or SSL_CERT_FILE",
            )
        if isinstance(cause, ssl.SSLError):
            return CannotConnect(f"TLS failure talking to {where}: {cause.reason or 'error'}")
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return CannotConnect(f"{where} did not answer within {timeout:g} s")
    if isinstance(exc, httpx.ProxyError):
        return CannotConnect(f"the proxy for {where} failed")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError):
        return CannotConnect(
            f"{where} did not answer in HTTP (BadStatusLine)",
            hint="check --base-url: it should be the sessions API",
        )
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "refused" in text:
            return CannotConnect(f"cannot reach {where}: connection refused")
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
            return CannotConnect(f"cannot reach {where}: host name not found")
        return CannotConnect(f"cannot reach {where}: cannot connect")
    return CannotConnect(f"cannot reach {where}: {type(exc).__name__}")


def _read_body(response: httpx.Response, url: str, limits: Limits, started: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body:
        raise OverLimit(
            f"{_where(url)} answered with {int(declared):,} bytes "
            f"(limit {limits.max_body // 2**20} MiB)"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limits.max_body:
            raise OverLimit(f"{_where(url)} answered with more than {limits.max_body // 2**20} MiB")
        chunks.append(chunk)
        if time.monotonic() - started > limits.deadline:
            raise _too_slow(url, limits)
    return b"".join(chunks)


def _too_slow(url: str, limits: Limits) -> OverLimit:
    return OverLimit(f"{_where(url)} did not finish its answer within {limits.deadline:g} s")


class _Deadline:
    """Ends a request at its deadline whatever the server does: headers or a body trickled
    a byte at a time keep each read within its timeout, so at the deadline the request's
    sockets are shut down (a read blocked on them returns at once) from a timer thread.

    The sockets come from httpcore's ``trace`` extension as each connection opens."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def request_json(
    method: str,
    url: str,
    token: Secret,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = READ_TIMEOUT,
    deadline: float = DEADLINE,
    max_body: int = MAX_BODY,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Send one request and return the decoded JSON answer (None for an empty one)."""
    limits = Limits(connect=min(timeout, CONNECT_TIMEOUT), read=timeout, deadline=deadline)
    limits = Limits(limits.connect, limits.read, limits.deadline, max_body)
    all_headers = base_headers(token, {"Accept": "application/json", **(headers or {})})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    started = time.monotonic()
    try:
        client = sync_client(url, env, limits)
    except ValueError as exc:  # httpx refuses the proxy URL or the like
        raise UsageError(f"cannot use the network settings: {exc}") from None
    with client, _Deadline(deadline) as watchdog:
        extensions = {"trace": watchdog.trace}
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with client.stream(
                    method, url, headers=all_headers, content=data, extensions=extensions
                ) as response:
                    status = response.status_code
                    if status in _REDIRECTS:
                        target = redirect_target(url, response)
                        if status == 303 or (status in (301, 302) and method != "GET"):
                            method, data = "GET", None
                            all_headers.pop("Content-Type", None)
                        url = target
                        continue
                    raw = _read_body(response, url, limits, started)
            except httpx.InvalidURL:
                raise UsageError(f"invalid URL for {_where(url)}") from None
            except httpx.HTTPError as exc:
                if watchdog.expired:
                    raise _too_slow(url, limits) from None
                raise network_error(url, exc, timeout) from None
            except CannotConnect:
                if watchdog.expired:
                    raise _too_slow(url, limits) from None
                raise
            if status >= 400:
                raise status_error(url, status, raw)
            return decode_json(raw, url)
    raise CannotConnect(f"{_where(url)} redirected more than {MAX_REDIRECTS} times")


def decode_json(raw: bytes, url: str) -> Any:
    if not raw.strip():
        return None
    try:
        return loads(raw.decode("utf-8", "surrogatepass"))
    except (ValueError, UnicodeDecodeError) as exc:
        deep = str(exc) == NESTED_TOO_DEEPLY
        raise SesstailError(
            f"{_where(url)} answered with {NESTED_TOO_DEEPLY if deep else 'invalid JSON'}"
        ) from None


@asynccontextmanager
async def event_stream(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], connect_timeout: float
) -> AsyncIterator[httpx.Response]:
    """Open a server-sent-events response (its status already checked): the caller reads it.

    Redirects are followed within the origin; 4xx/5xx raise our errors. Opening has its own
    deadline: the status line and headers within ``connect_timeout``.
    """
    import asyncio

    all_headers = {"Accept": "text/event-stream", "Cache-Control": "no-store", **headers}
    for _ in range(MAX_REDIRECTS + 1):
        request = client.build_request("GET", url, headers=all_headers)
        try:
            async with asyncio.timeout(connect_timeout):
                response = await client.send(request, stream=True)
        except TimeoutError:
            raise CannotConnect(
                f"{_where(url)} did not answer within {connect_timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise network_error(url, exc, connect_timeout) from None
        try:
            status = response.status_code
            if status in _REDIRECTS:
                url = redirect_target(url, response)
                continue
            if status >= 400:
                body = b""
                try:
                    async with asyncio.timeout(2):
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > 4096:
                                break
                except (TimeoutError, httpx.HTTPError):
                    pass
                raise status_error(url, status, body)
            yield response
            return
        finally:
            await response.aclose()
    raise CannotConnect(f"{_where(url)} redirected more than {MAX_REDIRECTS} times")
