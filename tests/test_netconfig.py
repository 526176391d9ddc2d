"""Proxy and TLS settings from the environment, and the small REST client that uses them."""

from __future__ import annotations

import contextlib
import gc
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import ORG, SESSION, tcp_server
from sesstail import __version__
from sesstail.cli import app
from sesstail.errors import (
    AuthError,
    CannotConnect,
    ExitCode,
    SessionNotFound,
    SesstailError,
    UsageError,
)
from sesstail.netconfig import choose_proxy, is_loopback, tls_context
from sesstail.protocol import ANTHROPIC_VERSION
from sesstail.rest import request_json
from sesstail.secrets import Secret

PROXY = "http://proxy.corp:3128"
TOKEN = "sk-ant-oat01-REST-never-in-errors-0123456789"

# A self-signed CA (CN=sesstail-test-ca, valid until 2126) and its key, encrypted with
# PASSPHRASE (PKCS#8, AES-256-CBC). Test material only.
PASSPHRASE = "correct-horse-battery"
TEST_CA_CN = "sesstail-test-ca"
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUPmcs0+TLvt1md4aPhyUAZ8G2xkMwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc2Vzc3RhaWwtdGVzdC1jYTAgFw0yNjExMjYwMjE1MjJaGA8y
MTI2MTEwMjAyMTUyMlowGzEZMBcGA1UEAwwQc2Vzc3RhaWwtdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABCwCnAvvqb3UjZZMWqytYACJSavRYBy+jrYD
YsWdf/Rrt1cJ76Dl59GjQMjn9mRqMXkeRoBICR89r7uQpJWukZyjUzBRMB0GA1Ud
DgQWBBRaDGDKvvjcEXKW3/VoGpI+uPFjGzAfBgNVHSMEGDAWgBRaDGDKvvjcEXKW
3/VoGpI+uPFjGzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCICVB
TInMT9M4sblXm/JBaILvkxNwGkh+j/pUNGMg/Q+pAiEAyXY5NDaekIC98+udEVeZ
PXFECqQhbKQQgzj1zxavlec=
-----END CERTIFICATE-----
"""
TEST_ENCRYPTED_KEY = """-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAh+Nh+sqLRrGwICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEJu5pULQJDqFgA6m1WInQJsEgZDj
jxb3PCJeF0B4kCiiF7yUMUEqdRJa1R167WRVGWX9onXR1Yc5beliyMJYa+E6m7nA
0aH9Ht2JFFplW6UAlRIP8apUakSjfgfZE6IkxSmga6L6e36pEkXb8RiwMqB8CY19
ax5yX7HdsRt5eR091JVKVFMzT5qzM/uwIHPH4rHznOAVhdQ+VvQu4vrTB+S0ZaQ=
-----END ENCRYPTED PRIVATE KEY-----
"""


def all_text(exc: BaseException) -> str:
    hint = getattr(exc, "hint", None)
    return f"{exc}\n{exc!r}\n{exc.args!r}\n{hint}"


# --- is_loopback -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]
)
def test_loopback_hosts(host: str) -> None:
    """localhost, 127.0.0.0/8 and ::1 are loopback."""
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["", "example.com", "10.0.0.1", "::2", "0.0.0.0", "localhost.example.com", "128.0.0.1"]
)
def test_non_loopback_hosts(host: str) -> None:
    """Other names and addresses are not loopback."""
    assert not is_loopback(host)


# --- choose_proxy ------------------------------------------------------------------------------

ALL_FOUR = {
    "https_proxy": "http://lower-https:1",
    "HTTPS_PROXY": "http://upper-https:2",
    "http_proxy": "http://lower-http:3",
    "HTTP_PROXY": "http://upper-http:4",
}


def test_proxy_variable_order() -> None:
    """https_proxy, then HTTPS_PROXY, then http_proxy, then HTTP_PROXY."""
    env = dict(ALL_FOUR)
    url = "wss://api.anthropic.com/v1/sessions/ws/x/subscribe"
    expected = [
        "http://lower-https:1",
        "http://upper-https:2",
        "http://lower-http:3",
        "http://upper-http:4",
    ]
    for name, proxy in zip(list(env), expected, strict=True):
        assert choose_proxy(url, env) == proxy
        del env[name]
    assert choose_proxy(url, env) is None


def test_empty_proxy_variable_is_skipped() -> None:
    """An empty https_proxy does not hide a set http_proxy."""
    assert choose_proxy("https://api.anthropic.com", {"https_proxy": "", "http_proxy": PROXY}) == (
        PROXY
    )


def test_no_proxy_variables_means_direct() -> None:
    """With no proxy variable set, there is no proxy."""
    assert choose_proxy("https://api.anthropic.com", {}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("proxy.corp:3128", "http://proxy.corp:3128"),
        ("10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("https://proxy.corp:443", "https://proxy.corp:443"),
        ("socks5://proxy.corp:1080", "socks5://proxy.corp:1080"),
    ],
)
def test_proxy_without_scheme_gets_http(value: str, expected: str) -> None:
    """A proxy given without scheme is an http:// proxy; a scheme is kept."""
    assert choose_proxy("https://api.anthropic.com", {"https_proxy": value}) == expected


def test_os_environ_is_used_when_env_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit env, the process environment is read."""
    monkeypatch.setenv("https_proxy", PROXY)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert choose_proxy("https://api.anthropic.com") == PROXY


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("api.example.com", "https://api.example.com/v1"),
        ("API.Example.COM", "https://api.example.com/v1"),
        ("other.org, api.example.com ,x", "https://api.example.com/v1"),
        (".example.com", "https://api.example.com/v1"),
        ("example.com", "https://api.example.com/v1"),
        ("example.com", "https://example.com/v1"),
        ("*.example.com", "https://deep.api.example.com"),
        ("*", "https://anything.anywhere"),
        ("10.0.0.0/8", "https://10.20.30.40/v1"),
        ("192.168.1.7", "http://192.168.1.7:8080/"),
        ("api.example.com:8443", "wss://api.example.com:8443/v1"),
    ],
)
def test_no_proxy_bypasses(no_proxy: str, url: str) -> None:
    """no_proxy by host, domain suffix, wildcard, CIDR, address and host:port."""
    assert choose_proxy(url, {"https_proxy": PROXY, "no_proxy": no_proxy}) is None


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("example.com", "https://notexample.com"),
        (".example.com", "https://example.org"),
        ("10.0.0.0/8", "https://11.0.0.1"),
        ("api.example.com:8443", "https://api.example.com:9443/v1"),
        ("api.example.com:8443", "https://api.example.com/v1"),
        ("", "https://api.example.com"),
        (" , ,", "https://api.example.com"),
    ],
)
def test_no_proxy_does_not_bypass_others(no_proxy: str, url: str) -> None:
    """no_proxy entries do not match other hosts, other networks or other ports."""
    assert choose_proxy(url, {"https_proxy": PROXY, "no_proxy": no_proxy}) == PROXY


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("fd00::/8", "https://[fd00::5]/v1"),
        ("fd00::5", "https://[fd00::5]/v1"),
        ("2001:db8::/32", "https://[2001:db8::1]:8443/v1"),
    ],
)
def test_no_proxy_ipv6_entries(no_proxy: str, url: str) -> None:
    """IPv6 addresses and networks in no_proxy bypass the proxy too."""
    assert choose_proxy(url, {"https_proxy": PROXY, "no_proxy": no_proxy}) is None


def test_upper_case_no_proxy_is_honoured() -> None:
    """NO_PROXY works like no_proxy."""
    assert (
        choose_proxy("https://api.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"})
        is None
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "ws://127.0.0.1:9/x",
        "http://127.3.4.5/",
        "wss://localhost/x",
        "http://LOCALHOST:80/",
        "https://[::1]:8443/x",
    ],
)
def test_loopback_is_never_proxied(url: str) -> None:
    """Loopback addresses go direct whatever the proxy variables say."""
    assert choose_proxy(url, dict(ALL_FOUR)) is None


# --- tls_context -------------------------------------------------------------------------------


def ca_common_names(context: ssl.SSLContext) -> set[str]:
    names: set[str] = set()
    for cert in context.get_ca_certs():
        subject: Any = cert.get("subject", ())
        for rdn in subject:
            for key, value in rdn:
                if key == "commonName":
                    names.add(value)
    return names


@pytest.fixture
def cert_files(tmp_path: Path) -> tuple[Path, Path]:
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    cert.write_text(TEST_CERT, encoding="ascii")
    key.write_text(TEST_ENCRYPTED_KEY, encoding="ascii")
    return cert, key


def test_tls_context_verifies_by_default() -> None:
    """The context checks certificates and host names."""
    context = tls_context({})
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def handshake_failure(client: ssl.SSLContext, cert: Path, key: Path) -> str:
    """Why ``client`` refuses a server presenting the test certificate ("" if it accepts)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key, PASSPHRASE)
    near, far = socket.socketpair()

    def serve() -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            server.wrap_socket(far, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client.wrap_socket(near, server_hostname="127.0.0.1").close()
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or exc)
    finally:
        near.close()
        far.close()
        thread.join(5)
    return ""


@pytest.mark.parametrize("name", ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"])
def test_extra_ca_bundle_is_trusted(name: str, cert_files: tuple[Path, Path]) -> None:
    """An extra CA bundle is trusted beside the system's: the handshake gets past the chain
    (to the host name, which this test certificate, made for no host, cannot match)."""
    cert, key = cert_files
    assert "self-signed" in handshake_failure(tls_context({}), cert, key)
    with_bundle = handshake_failure(tls_context({name: str(cert)}), cert, key)
    assert "self-signed" not in with_bundle
    assert "mismatch" in with_bundle


@pytest.mark.parametrize("name", ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"])
def test_missing_ca_bundle_is_usage_error(name: str, tmp_path: Path) -> None:
    """A CA bundle path that does not exist raises UsageError naming the variable."""
    missing = tmp_path / "nope.pem"
    with pytest.raises(UsageError) as info:
        tls_context({name: str(missing)})
    assert info.value.exit_code == 2
    assert name in info.value.message


def test_garbage_ca_bundle_is_usage_error(tmp_path: Path) -> None:
    """A file that holds no certificate raises UsageError."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("not a certificate\n", encoding="ascii")
    with pytest.raises(UsageError):
        tls_context({"NODE_EXTRA_CA_CERTS": str(bundle)})


def test_client_certificate_with_right_passphrase_loads(cert_files: tuple[Path, Path]) -> None:
    """A client cert with its encrypted key and the right passphrase gives a context."""
    cert, key = cert_files
    env = {
        "CLAUDE_CODE_CLIENT_CERT": str(cert),
        "CLAUDE_CODE_CLIENT_KEY": str(key),
        "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE": PASSPHRASE,
    }
    assert isinstance(tls_context(env), ssl.SSLContext)


def test_bad_client_cert_path_is_usage_error_without_passphrase(tmp_path: Path) -> None:
    """A missing client cert raises UsageError that never shows the passphrase."""
    secret = "pass-phrase-that-must-not-leak-42"
    env = {
        "CLAUDE_CODE_CLIENT_CERT": str(tmp_path / "missing-cert.pem"),
        "CLAUDE_CODE_CLIENT_KEY": str(tmp_path / "missing-key.pem"),
        "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE": secret,
    }
    with pytest.raises(UsageError) as info:
        tls_context(env)
    assert info.value.exit_code == 2
    assert "missing-cert.pem" in info.value.message
    assert secret not in all_text(info.value)


def test_wrong_passphrase_is_usage_error_without_passphrase(cert_files: tuple[Path, Path]) -> None:
    """A wrong key passphrase raises UsageError that never shows the passphrase."""
    cert, key = cert_files
    secret = "wrong-pass-phrase-must-not-leak-7"
    env = {
        "CLAUDE_CODE_CLIENT_CERT": str(cert),
        "CLAUDE_CODE_CLIENT_KEY": str(key),
        "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE": secret,
    }
    with pytest.raises(UsageError) as info:
        tls_context(env)
    assert secret not in all_text(info.value)


# --- rest.request_json against a real local server ------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    requests: list[Seen] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    """Answers by path; echoes the token in error bodies to prove it is not copied to errors."""

    recorder: Recorder

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.recorder.requests.append(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        leaked = self.headers.get("Authorization", "")
        if self.path == "/ok":
            self._send(200, json.dumps({"data": [1, 2], "method": self.command}).encode())
        elif self.path == "/echo":
            self._send(201, body)
        elif self.path == "/empty":
            self._send(200, b"")
        elif self.path == "/not-json":
            self._send(200, f"<html>{leaked}</html>".encode())
        elif self.path == "/slow":
            time.sleep(0.6)
            self._send(200, b"{}")
        elif self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            self._send(code, json.dumps({"error": f"bad token {leaked}"}).encode(), leaked)
        else:
            self._send(404, b"{}")

    def _send(self, code: int, body: bytes, reason: str | None = None) -> None:
        try:
            self.send_response(code, reason)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout test)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def http_server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    handler = type("BoundHandler", (Handler,), {"recorder": recorder})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        # Anything the client left open is reported now, against this test, not a later one.
        gc.collect()


def test_request_sends_auth_version_and_user_agent(http_server: tuple[str, Recorder]) -> None:
    """A GET sends Bearer auth, anthropic-version and a sesstail User-Agent, and decodes JSON."""
    base, recorder = http_server
    answer = request_json(
        "GET", f"{base}/ok", Secret(TOKEN), headers={"x-organization-uuid": "org-1"}, env={}
    )
    assert answer == {"data": [1, 2], "method": "GET"}
    (seen,) = recorder.requests
    assert seen.method == "GET"
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["anthropic-version"] == ANTHROPIC_VERSION == "2023-06-01"
    assert seen.headers["user-agent"] == f"sesstail/{__version__}"
    assert seen.headers["x-organization-uuid"] == "org-1"


def test_request_posts_a_json_body(http_server: tuple[str, Recorder]) -> None:
    """A body is sent as JSON with a JSON content type; a 201 answer is decoded."""
    base, recorder = http_server
    body = {"events": [{"type": "user", "message": {"role": "user", "content": "hi"}}]}
    assert request_json("POST", f"{base}/echo", Secret(TOKEN), body=body, env={}) == body
    (seen,) = recorder.requests
    assert seen.method == "POST"
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == body


def test_empty_answer_is_none(http_server: tuple[str, Recorder]) -> None:
    """A 200 with an empty body decodes to None."""
    base, _ = http_server
    assert request_json("GET", f"{base}/empty", Secret(TOKEN), env={}) is None


def test_invalid_json_answer_is_sesstail_error(http_server: tuple[str, Recorder]) -> None:
    """A 200 that is not JSON raises SesstailError without quoting the body."""
    base, _ = http_server
    with pytest.raises(SesstailError) as info:
        request_json("GET", f"{base}/not-json", Secret(TOKEN), env={})
    assert TOKEN not in all_text(info.value)


@pytest.mark.parametrize(
    ("code", "error", "exit_code"),
    [
        (401, AuthError, 3),
        (403, AuthError, 3),
        (404, SessionNotFound, 4),
        (500, CannotConnect, 5),
        (502, CannotConnect, 5),
        (409, CannotConnect, 5),
    ],
)
def test_http_errors_map_to_our_errors(
    http_server: tuple[str, Recorder], code: int, error: type[SesstailError], exit_code: int
) -> None:
    """401/403 → AuthError, 404 → SessionNotFound, other failures → CannotConnect; no token."""
    base, _ = http_server
    with pytest.raises(error) as info:
        request_json("GET", f"{base}/status/{code}", Secret(TOKEN), env={})
    assert isinstance(info.value, error)
    assert info.value.exit_code == exit_code
    assert TOKEN not in all_text(info.value)


def test_auth_error_hint_says_how_to_refresh(http_server: tuple[str, Recorder]) -> None:
    """A 401 suggests running `claude` to refresh the login."""
    base, _ = http_server
    with pytest.raises(AuthError) as info:
        request_json("GET", f"{base}/status/401", Secret(TOKEN), env={})
    assert info.value.hint is not None
    assert "claude" in info.value.hint


def test_connection_refused_is_cannot_connect() -> None:
    """A port with nothing listening raises CannotConnect without the token."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        with pytest.raises(CannotConnect) as info:
            request_json("GET", f"http://127.0.0.1:{port}/ok", Secret(TOKEN), env={}, timeout=5)
    assert info.value.exit_code == 5
    assert TOKEN not in all_text(info.value)


def test_slow_server_is_cannot_connect(http_server: tuple[str, Recorder]) -> None:
    """No answer within the timeout raises CannotConnect."""
    base, _ = http_server
    with pytest.raises(CannotConnect) as info:
        request_json("GET", f"{base}/slow", Secret(TOKEN), env={}, timeout=0.1)
    assert TOKEN not in all_text(info.value)


def test_proxy_variables_do_not_capture_loopback_requests(
    http_server: tuple[str, Recorder],
) -> None:
    """With proxy variables pointing nowhere, a loopback request still goes direct."""
    base, recorder = http_server
    env = {"http_proxy": "http://192.0.2.1:9", "HTTP_PROXY": "http://192.0.2.1:9"}
    assert request_json("GET", f"{base}/ok", Secret(TOKEN), env=env, timeout=5) == {
        "data": [1, 2],
        "method": "GET",
    }
    assert len(recorder.requests) == 1


@contextmanager
def junk_server() -> Iterator[str]:
    """A TCP server that answers every connection with bytes that are not HTTP."""

    def junk(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"\x1b[31mJUNK\x1b[0m not http at all\r\n\r\n")

    with tcp_server(junk) as (port, _):
        yield f"http://127.0.0.1:{port}"


def test_a_server_that_does_not_speak_http_is_cannot_connect() -> None:
    """Junk instead of an HTTP answer: CannotConnect (exit 5), not an unexpected error."""
    with junk_server() as base, pytest.raises(CannotConnect) as info:
        request_json("GET", f"{base}/ok", Secret(TOKEN), env={}, timeout=5)
    assert "did not answer in HTTP (BadStatusLine)" in info.value.message
    assert "\x1b" not in info.value.message


def test_ls_against_a_server_that_does_not_speak_http_exits_5() -> None:
    """The command line: exit 5, one clean line and a hint, no escape sequences."""
    with junk_server() as base:
        result = CliRunner().invoke(
            app,
            ["ls", "--base-url", base, "--org", ORG],
            env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        )
    assert result.exit_code == ExitCode.CANNOT_CONNECT
    assert "did not answer in HTTP" in result.stderr
    assert "hint: check --base-url" in result.stderr
    assert "\x1b" not in result.stderr


def test_a_missing_profile_endpoint_is_not_a_missing_session(
    http_server: tuple[str, Recorder],
) -> None:
    """Without --org, a 404 from the profile endpoint says the org lookup failed (exit 1,
    with the --org hint), never "session not found" (exit 4)."""
    base, recorder = http_server
    result = CliRunner().invoke(
        app, ["watch", SESSION, "--base-url", base], env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
    )
    assert result.exit_code == ExitCode.ERROR
    assert "cannot look up your organization: the profile endpoint is missing" in result.stderr
    assert "hint: pass --org UUID" in result.stderr
    assert [r.path for r in recorder.requests] == ["/api/oauth/profile"]
