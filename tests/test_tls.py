"""TLS end to end: the WebSocket (v1) and the HTTP client (v2 stream, REST) verify the server
against the operating system's trust store, through one TLS context (``netconfig``, on
``truststore``), with no bundle exported to sesstail: a CA installed in the system works.

On Linux the system store is what OpenSSL's default paths name; a test puts its own CA in a
hashed certificate directory and points ``SSL_CERT_DIR`` (OpenSSL's variable, which sesstail
never reads itself) at it, as an installed corporate CA would be found. The server is the
embedded one behind a small TLS front on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ORG, SESSION, TOKEN, session
from sesstail.errors import ExitCode
from sesstail.server import Faults, SessionsServer
from sesstail.server.thread import server_thread

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="OpenSSL's default paths")

# A test CA and a certificate it signed for 127.0.0.1 (valid for a century; test-only keys).
TEST_CA = """\
-----BEGIN CERTIFICATE-----
MIIDMzCCAhugAwIBAgIUfBGk0wMR+z4lov/Oe57bwsSpUTowDQYJKoZIhvcNAQEL
BQAwIDEeMBwGA1UEAwwVc2Vzc3RhaWwgdGVzdCByb290IENBMCAXDTI2MTIwNzAw
MjcwN1oYDzIxMjYxMTEzMDAyNzA3WjAgMR4wHAYDVQQDDBVzZXNzdGFpbCB0ZXN0
IHJvb3QgQ0EwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDWl2fgp1p/
CC1d9CrHb9Xv+DuyjrLJTe5q9lh+ns1aQ1EC/K2pZRpDcvKNIlJuYPMH+WH/9V5e
2+BXp/uH+tQ4yxSPoHUrqbrQY5r12hLNWCJiQdH4gK2q8Tu409+W2Jypqvbsr0CL
Ntjk15nk0CimoBjl8Yis2XtbDb8hHq6+DOulgafGNRxpOJmpgUulYqkLXJTez87N
lKJXxyOU6W9i7TLw4UX5jCPdMwBK5j9J+TVwyv3bC5O/d4amKRKakdH9jA+2PW5N
TaZt7NWL36eie5OsjkwDb1vAxII5FGcj4RJsfsn0mcAKdT2/N9qLQHVSPMqhqZ7t
5Hd+a4TfEOZ/AgMBAAGjYzBhMB0GA1UdDgQWBBRM04GqwwnM0cZPWApfGxYO344G
ZDAfBgNVHSMEGDAWgBRM04GqwwnM0cZPWApfGxYO344GZDAPBgNVHRMBAf8EBTAD
AQH/MA4GA1UdDwEB/wQEAwIBBjANBgkqhkiG9w0BAQsFAAOCAQEAl5XfiFRMZZUN
rG72aJD1LHSM1fcgiCWn2Y92KTRhulw7jpVMEnKdTwupPyTjKn5d8QEslaSg4BZe
+VMGSvQFoiPHwJQFa+82z4Su27EdDkn/thk3zyat2sHwnHRnng/O0UIU+OdSH/hU
PbCOv9PIt/mxbNTFqADPteG65sWAXGZqMXM3d25ATRTO7F9nUGMWgO4ke2TkxbC8
e3UuZypG5Y5QZfUU8OzOOtLqdp16dbirnYtP7OKFNf5XTXGo3iCxxteCCFM2JexU
QMkEeyqcVolnNCMT5ygFgxe1oxHepAmPOpIcCM2UTdbycEnf1sgtjcpq0WWYkejs
2MOqMNKMSg==
-----END CERTIFICATE-----
"""
CA_HASH = "d02ae50f"  # openssl x509 -hash of TEST_CA: its file name in a certificate directory
LEAF_CERT = """\
-----BEGIN CERTIFICATE-----
MIIDNzCCAh+gAwIBAgIUOnBX8+yUScUEBgGutWs9jXHmQC0wDQYJKoZIhvcNAQEL
BQAwIDEeMBwGA1UEAwwVc2Vzc3RhaWwgdGVzdCByb290IENBMCAXDTI2MTIwNzAw
MjcwN1oYDzIxMjYxMTEzMDAyNzA3WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwggEi
MA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDaigAWcU+a0bYGii81z7ii6sZ5
VcyvsWFjpCW/YTu2oCKtJRzWiw//vYDfOGndbLckwlYSCOg/8heQx6tqp0a3ZLDG
cKB4GrvC2wAr5XC8cBAZyx9CYiicBJMQpeBEkS+Xs33+3VcC0ISh+3YrOX8l3vYw
d5uE1mjfNrA0A478ryGRZk2hRj2E0UtNWWY6AerbTpeMMjthKePgLxit/JhKqWPD
iKv4PHdPzlI9tu4y7/UnYIGt6ELqHHsaPewBAf8dM4+WN+QbHuI1Q1qrXg79AGGL
gFNutmUEzyl1P3jtoHekW6aP5vsHJMCREMm7GlrmkD27M92hayfsR1sbV4qTAgMB
AAGjczBxMA8GA1UdEQQIMAaHBH8AAAEwCQYDVR0TBAIwADATBgNVHSUEDDAKBggr
BgEFBQcDATAdBgNVHQ4EFgQUMVLz3sySlYIXYplfpipHUKSWO2EwHwYDVR0jBBgw
FoAUTNOBqsMJzNHGT1gKXxsWDt+OBmQwDQYJKoZIhvcNAQELBQADggEBAAIInkVF
jKggSinowTy7A6MltesSJLAbrGCyU+LXx4KoVA0L5+9ByyLXOGdITRszGgszko6g
5ycEN2AGWGEzQf+N450V1tIQxKmc0lR4UgZ+QxVUuXt2A5oNcLXnLKmiC6ztaYRa
X52kHJQN5sQ9cq5yJzQr2YPGklyC1/2B97AVdMTQW7v2WBCj95UmWOBZ4G3Ks7++
/ZwwZ79hdb/RetaO6zSNBjRjNcPpAdvZQ5BEy6haYuru2MtoA4eb0CnSTN6g3SgT
Ewq4V4QQeW3ounh4ykrSwAr/J38MSBnvtds8KnH1F7CPKKFyj2QoadwI+ml2RpBh
fcEmjAZst7smUQc=
-----END CERTIFICATE-----
"""
LEAF_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDaigAWcU+a0bYG
ii81z7ii6sZ5VcyvsWFjpCW/YTu2oCKtJRzWiw//vYDfOGndbLckwlYSCOg/8heQ
x6tqp0a3ZLDGcKB4GrvC2wAr5XC8cBAZyx9CYiicBJMQpeBEkS+Xs33+3VcC0ISh
+3YrOX8l3vYwd5uE1mjfNrA0A478ryGRZk2hRj2E0UtNWWY6AerbTpeMMjthKePg
Lxit/JhKqWPDiKv4PHdPzlI9tu4y7/UnYIGt6ELqHHsaPewBAf8dM4+WN+QbHuI1
Q1qrXg79AGGLgFNutmUEzyl1P3jtoHekW6aP5vsHJMCREMm7GlrmkD27M92hayfs
R1sbV4qTAgMBAAECggEAKhBu9OLpjiS4cyjM7oAli2JCQp+TruunEb1KMLyf+EZ5
djdTBi6tLS4GLLEYm3CuDcrEM2N4hLpt88WjBnvdHjao2gFaudN3eYmazlgy62ps
hvJ0eVwYcfNldUpgUQJbFUmMwm5LLbUCGoWi2K4P/bOdUnXrPtXgSLqnjtNyhcs6
zYq+M3KYquUXjcoLzsTjKE6jqo2OqjdlZvIU7M9T/ofJh9SOj2APmryZFDhydEkN
OcAR4Ayt68D/FhwAYQ0a23j9N+0rucTarMd+0c4KLA302fb1M2Phsq1dtzvBdIt1
dnyf077A/zo1o3/HVUiyQKuRSPvcRAXVQPrQ1XNoFQKBgQDuVzeHIzMygiFgUN/b
u13Ontwzc2ymoVCMl/62Y1UyWiEcddr3n6tIsbn4JA0NxnrrKtX7y8EciTZYFjRd
dQsxCb/ddZgVsGmZbfdKF2SwPeZpd5N2yJCEARY0n8CtwGpCHkIQ1/Sf3PWkxBmq
zagQUet2xZyUi8EDp8YoS3BKzwKBgQDquzEAtl/VZMYCU60wAcxDgFMZGJMQibP8
u59IocV3x+2i3ji2D+wCP6BqXAjw2291OX0LjuphO5cGANGllFiLEsulhsl6KCwb
f+i+T008aC3ejKij0YZiw4K4+XeYdzdI1bOpVd+w1jPrx9KLSWDOpbHBlJJwthPO
tiFFo7+k/QKBgQDQugzlCkyh5Ri5stn5IuOKOdF6NZFndEqIdewZanCIQipRNF1p
Eqn8ZbkJuPi9oZ6wKLlxZAVgqkGvbvK5DfGZJoKivYNNK0uvlIBGoKoLNop8vr2j
/w2grRr3RxiEkcf802bkPVv8TJPLkfkwfh66/CMLxw/Tf3ivbNS7ISXcPQKBgQDd
3atWqgrxD3xdTKwg+UIR92QUD3dKJW47jzfiFg4oxo9l5zehVnFUOsGsZmuJBVBX
c8wutZnx57o60WFXaV07rrtQLJOZZAk0wPTDlP9C/pGEjl0D4pJsHbIclqelM+HM
dTmI8AMsCXsv/EKUpvnauSDIAV9dK6yTMPFH+pu1HQKBgQDGgzs/Z/smQFPLY/+L
YayUPayfXA0azXlLHapBqyF7HzOmXQ2bfI1pOd+ctd88v9m5g1yim/EnrTfOiWtx
GmlIr+Q9TIKtYgnM+Hv3ihE4k5TzXsuknZWng2cRKdw859RFf7WAYM8bSo6f7Ie4
8BL6lXB7g5oL9e75TWXan2J9tA==
-----END PRIVATE KEY-----
"""


@contextmanager
def tls_front(target_port: int, cert: Path, key: Path) -> Iterator[int]:
    """A TLS listener on 127.0.0.1 that passes each connection's bytes on to ``target_port``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    ports: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            back_reader, back_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, back_writer), pipe(back_reader, writer))

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, ssl=context))
        ports.append(server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield ports[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(a certificate directory holding the CA, the server's certificate, its key)."""
    store = tmp_path / "system-certs"
    store.mkdir()
    (store / f"{CA_HASH}.0").write_text(TEST_CA, encoding="ascii")
    cert = tmp_path / "leaf.pem"
    key = tmp_path / "leaf.key"
    cert.write_text(LEAF_CERT, encoding="ascii")
    key.write_text(LEAF_KEY, encoding="ascii")
    return store, cert, key


@pytest.mark.parametrize("api", ["v1", "v2", "auto"])
@pytest.mark.parametrize("trusted", [True, False], ids=["ca-in-system-store", "unknown-ca"])
def test_tls_verifies_against_the_system_store_on_every_api(
    api: str, trusted: bool, certs: tuple[Path, Path, Path]
) -> None:
    """A CA found where the system keeps its certificates is trusted by the WebSocket and by
    the HTTP client alike; without it, the same server is refused (exit 5, no retry)."""
    store, cert, key = certs
    served = SessionsServer(
        [session(3)], speed=0, token=TOKEN, org=ORG, faults=Faults(end_with_close=True)
    )
    with (
        server_thread(served) as srv,
        tls_front(int(srv.base_url.rsplit(":", 1)[1]), cert, key) as port,
    ):
        env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
        env.pop("SSL_CERT_FILE", None)
        env.pop("SSL_CERT_DIR", None)
        if trusted:
            env["SSL_CERT_DIR"] = str(store)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "sesstail", "watch", SESSION, "--json", "--api", api),
                *("--base-url", f"https://127.0.0.1:{port}", "--org", ORG, "--retries", "1"),
                *("--retry-delay", "0.05"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    if trusted:
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 3
        v2 = any(p.startswith("/v1/code/") for p in srv.request_paths)
        assert v2 == (api != "v1"), srv.request_paths
    else:
        assert done.returncode == ExitCode.CANNOT_CONNECT, done.stderr
        assert "certificate verification failed" in done.stderr
