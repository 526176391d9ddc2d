"""The session list, by the API asked for (PROTOCOL §7, §8, §9).

``auto`` asks v2's list first and falls back to v1's when the v2 routes are not there. v2 items
keep their fields, with ``id`` in the ``session_…`` form and v1's ``session_status`` and
``session_context.model`` added, so the table, ``--json`` readers and ``top`` read the same
either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sesstail.credentials import Token
from sesstail.errors import SessionNotFound
from sesstail.transport.http import HttpStatusError

_NOT_V2 = (404, 405, 426, 501)


def list_sessions(
    base_url: str,
    org_uuid: str,
    get_token: Callable[[], Token],
    env: Mapping[str, str] | None,
    api: str,
    limit: int,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` sessions, most recently active first; ``status`` in v1's words."""
    if api != "v1":
        from sesstail.transport.rest_v2 import V2_STATUSES, V2Api, as_v1_resource

        v2 = V2Api(base_url, org_uuid, get_token, env)
        wanted = V2_STATUSES.get(status, [status]) if status else None
        kept: list[dict[str, Any]] = []
        try:
            # Read on (the pages are bounded) until enough match: v2's statuses are coarser.
            for item in v2.sessions(limit if status is None else 100_000, wanted):
                resource = as_v1_resource(item)
                if status is None or resource["session_status"] == status:
                    kept.append(resource)
                    if len(kept) >= limit:
                        break
        except (SessionNotFound, HttpStatusError) as exc:
            not_v2 = isinstance(exc, SessionNotFound) or exc.status in _NOT_V2
            if api == "v2" or not not_v2:
                raise
        else:
            return kept
    from sesstail.transport.rest_v1 import SessionsApi

    return list(SessionsApi(base_url, org_uuid, get_token, env).sessions(limit, status))
