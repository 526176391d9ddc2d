"""Today's transport behind ``top``'s seam: the one module to re-point at a new API generation.

:func:`v1_transport` builds the four callables of :class:`~sesstail.top.follow.Transport`
from the v1 pieces: the sessions list from :class:`~sesstail.sessions_api.SessionsApi`
(PROTOCOL §7), a :class:`~sesstail.connection.SessionStream` per followed session (§1–3),
and a short-lived stream per control request (``control.request``) or prompt answer
(``control.send_once``), as ``sesstail interrupt`` and ``sesstail allow`` do (§4).

A service that replays history on attach (the embedded server does; v2 without a sequence
number does) would make old results and prompts look new: before subscribing, the stream reads
the session's latest history page and marks the messages found there ``backfill``, as
``wait --until result`` does, so they fill the view but never notify.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sesstail.credentials import Token
from sesstail.errors import SesstailError
from sesstail.protocol import Message
from sesstail.top.follow import Transport

HISTORY_PAGE = 100


@dataclass(frozen=True)
class V1Wiring:
    base_url: str
    org_uuid: str
    get_token: Callable[[], Token]
    env: Mapping[str, str] | None = field(default=None, repr=False)
    list_limit: int = 100
    control_timeout: float = 10.0
    # Passed on to StreamSettings (tests shorten the retry delays).
    stream_options: Mapping[str, Any] = field(default_factory=dict)
    on_status: Callable[[str, bool], None] = lambda text, verbose: None

    def _api(self) -> Any:
        from sesstail.sessions_api import SessionsApi

        env = dict(self.env) if self.env is not None else None
        return SessionsApi(self.base_url, self.org_uuid, self.get_token, env)

    def _stream(self, session_id: str) -> Any:
        from sesstail.connection import SessionStream, StreamSettings
        from sesstail.protocol import subscribe_url

        settings = StreamSettings(
            url=subscribe_url(self.base_url, session_id, self.org_uuid),
            get_token=self.get_token,
            env=dict(self.env) if self.env is not None else None,
            **self.stream_options,
        )
        return SessionStream(settings, self.on_status)

    # -- the four callables -------------------------------------------------------------

    def list_sessions(self) -> list[dict[str, Any]]:
        return list(self._api().sessions(self.list_limit))

    def open_stream(self, session_id: str) -> HistoryMarkedStream:
        api = self._api()

        def history_uuids() -> set[str]:
            items = api.history(session_id, HISTORY_PAGE)
            return {u for u in (item.get("uuid") for item in items) if isinstance(u, str)}

        return HistoryMarkedStream(self._stream(session_id), history_uuids)

    async def send_control(
        self, session_id: str, subtype: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        from sesstail.control import request

        return await request(self._stream(session_id), subtype, fields, self.control_timeout)

    async def answer_prompt(self, session_id: str, response: dict[str, Any]) -> None:
        from sesstail.control import send_once

        await send_once(self._stream(session_id), response, self.control_timeout)

    def transport(self) -> Transport:
        return Transport(
            list_sessions=self.list_sessions,
            open_stream=self.open_stream,
            send_control=self.send_control,
            answer_prompt=self.answer_prompt,
        )


class HistoryMarkedStream:
    """A stream whose messages already in the session's history come marked ``backfill``."""

    def __init__(self, stream: Any, history_uuids: Callable[[], set[str]]) -> None:
        self._stream = stream
        self._history_uuids = history_uuids

    async def messages(self) -> AsyncIterator[Message]:
        try:
            known = await asyncio.to_thread(self._history_uuids)
        except SesstailError:
            known = set()  # no history to compare with: everything counts as new
        messages = self._stream.messages()
        try:
            async for msg in messages:
                uuid = msg.obj.get("uuid")
                if known and isinstance(uuid, str) and uuid in known:
                    known.discard(uuid)
                    yield msg._replace(backfill=True)
                else:
                    yield msg
        finally:
            with contextlib.suppress(Exception):
                await messages.aclose()


def v1_transport(
    base_url: str,
    org_uuid: str,
    get_token: Callable[[], Token],
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> Transport:
    """The v1 transport for ``top``; ``options`` are :class:`V1Wiring` fields."""
    return V1Wiring(base_url, org_uuid, get_token, env, **options).transport()
