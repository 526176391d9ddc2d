"""The transport behind ``top``'s seam, for either API generation (``api``: v1, v2 or auto).

:func:`v1_transport` (named for the first generation it served) builds the four callables of
:class:`~sesstail.top.follow.Transport`: the sessions list by the API asked for
(``transport.listing``), a :class:`~sesstail.transport.stream.SessionStream` per followed
session, and a short-lived stream per control request (``control.request``) or prompt answer
(``control.send_once``), as ``sesstail interrupt`` and ``sesstail allow`` do (§4).

Each followed session starts with its last ``HISTORY_PAGE`` messages (``attach.Backfilled``:
exact on v2, subscribe-then-read on v1), marked ``backfill`` so they fill the view but never
notify; then the live stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sesstail.credentials import Token
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
    api: str = "auto"
    # Passed on to StreamSettings (tests shorten the retry delays).
    stream_options: Mapping[str, Any] = field(default_factory=dict)
    on_status: Callable[[str, bool], None] = lambda text, verbose: None

    def _api(self) -> Any:
        from sesstail.sessions_api import SessionsApi

        env = dict(self.env) if self.env is not None else None
        return SessionsApi(self.base_url, self.org_uuid, self.get_token, env)

    def _stream(self, session_id: str) -> Any:
        from sesstail.protocol import subscribe_url
        from sesstail.transport.stream import SessionStream, StreamSettings

        settings = StreamSettings(
            url=subscribe_url(self.base_url, session_id, self.org_uuid),
            get_token=self.get_token,
            env=dict(self.env) if self.env is not None else None,
            api=self.api,
            **self.stream_options,
        )
        return SessionStream(settings, self.on_status)

    # -- the four callables -------------------------------------------------------------

    def list_sessions(self) -> list[dict[str, Any]]:
        from sesstail.transport.listing import list_sessions

        env = dict(self.env) if self.env is not None else None
        return list_sessions(
            self.base_url, self.org_uuid, self.get_token, env, self.api, self.list_limit
        )

    def open_stream(self, session_id: str) -> Any:
        """The session's last messages (marked ``backfill``: they fill the row and the
        watch pane but never notify), then its live stream."""
        from sesstail.attach import Backfilled

        return Backfilled(self._stream(session_id), HISTORY_PAGE)

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


def v1_transport(
    base_url: str,
    org_uuid: str,
    get_token: Callable[[], Token],
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> Transport:
    """The v1 transport for ``top``; ``options`` are :class:`V1Wiring` fields."""
    return V1Wiring(base_url, org_uuid, get_token, env, **options).transport()
