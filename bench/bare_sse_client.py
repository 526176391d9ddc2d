"""The v2 baseline: the least a client can do to print a session's event stream as JSON lines.

``python bench/bare_sse_client.py STREAM_URL TOKEN ORG`` reads the server-sent events with
httpx and httpx-sse, takes each ``client_event``'s ``payload`` (orjson in, orjson out) and
writes it, plus a newline, to stdout, until the session says it ended. No sequence numbers,
no dedup, no source rules, no reconnects: a floor, not a rival.
"""

from __future__ import annotations

import asyncio
import sys

import httpx
import orjson
from httpx_sse import aconnect_sse


async def follow(url: str, token: str, org: str) -> None:
    out = sys.stdout.buffer
    headers = {"Authorization": f"Bearer {token}", "x-organization-uuid": org}
    async with (
        httpx.AsyncClient(timeout=60.0, trust_env=False) as client,
        aconnect_sse(client, "GET", url, headers=headers) as source,
    ):
        async for event in source.aiter_sse():
            if event.event == "client_event":
                out.write(orjson.dumps(orjson.loads(event.data)["payload"]) + b"\n")
            elif event.event == "session_update" and '"ended"' in event.data:
                break
    out.flush()


def main() -> None:
    url, token, org = sys.argv[1], sys.argv[2], sys.argv[3]
    asyncio.run(follow(url, token, org))


if __name__ == "__main__":
    main()
