"""The baseline: the least a client can do to print a session as JSON lines.

``python bench/bare_client.py WS_URL TOKEN`` reads every frame of the stream with a bare
``websockets`` client and writes it, plus a newline, to stdout, until the server closes.
No parsing, no dedup, no reconnects, no per-line flush: a floor, not a rival.
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.client import connect


async def follow(url: str, token: str) -> None:
    write = sys.stdout.write
    async with connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        max_size=None,
        proxy=None,
    ) as ws:
        async for message in ws:
            text = message if isinstance(message, str) else message.decode()
            write(text + "\n")
    sys.stdout.flush()


def main() -> None:
    url, token = sys.argv[1], sys.argv[2]
    asyncio.run(follow(url, token))


if __name__ == "__main__":
    main()
