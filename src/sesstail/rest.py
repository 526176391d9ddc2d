"""A small JSON-over-HTTPS client on the standard library.

urllib is enough for the handful of REST calls around sessions and costs no dependency or
start-up time; it takes the same proxy and TLS settings as the WebSocket (``netconfig``).
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sesstail import __version__
from sesstail.errors import AuthError, CannotConnect, SessionNotFound, SesstailError
from sesstail.netconfig import choose_proxy, tls_context
from sesstail.protocol import ANTHROPIC_VERSION
from sesstail.secrets import Secret


def request_json(
    method: str,
    url: str,
    token: Secret,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = 15.0,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Send one request and return the decoded JSON answer; HTTP failures become our errors."""
    all_headers = {
        "Authorization": f"Bearer {token.reveal()}",
        "anthropic-version": ANTHROPIC_VERSION,
        "User-Agent": f"sesstail/{__version__}",
        "Accept": "application/json",
        **(headers or {}),
    }
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    proxy = choose_proxy(url, env)
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}),
    ]
    if urlsplit(url).scheme == "https":
        handlers.append(urllib.request.HTTPSHandler(context=tls_context(env)))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)  # noqa: S310
    where = urlsplit(url).netloc
    try:
        with opener.open(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (401, 403):
            raise AuthError(
                f"{where} refused the credentials (HTTP {exc.code})",
                hint="run `claude` once to refresh your login, then try again",
            ) from None
        if exc.code == 404:
            raise SessionNotFound(f"not found (HTTP 404 from {where})") from None
        raise CannotConnect(f"{where} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLError):
            raise CannotConnect(f"TLS failure talking to {where}: {reason.reason}") from None
        raise CannotConnect(f"cannot reach {where}: {reason}") from None
    except TimeoutError:
        raise CannotConnect(f"{where} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise CannotConnect(f"cannot reach {where}: {exc.strerror or exc}") from None
    except http.client.HTTPException as exc:  # BadStatusLine and the like: not an HTTP server
        raise CannotConnect(
            f"{where} did not answer in HTTP ({type(exc).__name__})",
            hint="check --base-url: it should be the sessions API",
        ) from None
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise SesstailError(f"{where} answered with invalid JSON") from None
