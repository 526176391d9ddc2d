"""Proxy and TLS settings from the environment, shared by the WebSocket and HTTP clients
(PROTOCOL §1: the proxy variables and ``no_proxy``, the trust store plus
``NODE_EXTRA_CA_CERTS`` / ``SSL_CERT_FILE``, the ``CLAUDE_CODE_CLIENT_*`` certificate)."""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from sesstail.errors import UsageError


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_entry(entry: str) -> tuple[str, str]:
    """A ``no_proxy`` entry as (host or network, port or "")."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest.removeprefix(":")
    if entry.count(":") > 1:  # a bare IPv6 address or network has no port
        return entry, ""
    host, _, port = entry.partition(":")
    return host, port


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = _split_entry(entry)
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip("*").lstrip(".")
        if host == name or host.endswith("." + name):
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                return True
        except ValueError:
            pass
    return False


_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def choose_proxy(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """The proxy for ``url``: ``https_proxy``, then ``http_proxy`` (either case), unless
    ``no_proxy`` names the host. Loopback is never proxied."""
    env = os.environ if env is None else env
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_loopback(host):
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 443)
    if _bypassed(host, port, no_proxy):
        return None
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        value = env.get(name)
        if value:
            return value if "://" in value else f"http://{value}"
    return None


def tls_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """The operating system's trust store (through ``truststore``, as pip does: a corporate CA
    installed in the system or the macOS Keychain works without exporting a bundle), plus
    extra CAs and a client certificate from the environment. The WebSocket and every HTTP
    request use it."""
    import truststore

    env = os.environ if env is None else env
    context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for name in ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"):
        path = env.get(name)
        if path:
            try:
                context.load_verify_locations(cafile=path)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"cannot load CA bundle from {name}={path}: {exc}") from None
    cert = env.get("CLAUDE_CODE_CLIENT_CERT")
    if cert:
        key = env.get("CLAUDE_CODE_CLIENT_KEY") or None
        passphrase = env.get("CLAUDE_CODE_CLIENT_KEY_PASSPHRASE") or None
        try:
            context.load_cert_chain(cert, key, passphrase)
        except (OSError, ssl.SSLError) as exc:
            # The passphrase is a secret too: name the files, never echo it.
            raise UsageError(
                f"cannot load the client certificate (CLAUDE_CODE_CLIENT_CERT={cert}): "
                f"{type(exc).__name__}"
            ) from None
    return context


_TLS_VARIABLES = (
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "CLAUDE_CODE_CLIENT_CERT",
    "CLAUDE_CODE_CLIENT_KEY",
    "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE",
)
_shared: dict[tuple[str | None, ...], ssl.SSLContext] = {}


def shared_tls_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """``tls_context``, built once per process for the same settings: building one loads the
    trust store (tens of milliseconds), and every connection and HTTP client uses one."""
    source = os.environ if env is None else env
    key = tuple(source.get(name) for name in _TLS_VARIABLES)
    context = _shared.get(key)
    if context is None:
        context = _shared[key] = tls_context(env)
    return context
