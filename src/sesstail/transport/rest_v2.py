"""The v2 REST calls (PROTOCOL §8): the session list, history by sequence number, and
events posted into a session (prompts, control requests and their answers).

Headers: those of every request (``transport.http``) plus ``x-organization-uuid``,
``Content-Type: application/json`` (on GETs too, as the official client sends it) and
``anthropic-client-platform``; no ``anthropic-beta``. Retries, the deadline and paging bounds
are ``rest_v1``'s ``RestCaller`` and ``Pager``. Paths take the id in either form
(``session_…`` or ``cse_…``); we send the form the user gave.
"""

from __future__ import annotations

import sys
import uuid as uuid_module
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sesstail.errors import SessionNotActive, SessionNotFound, SesstailError
from sesstail.protocol import Message, encode, sequence_number, user_form, worker_payload
from sesstail.transport.http import HttpStatusError
from sesstail.transport.rest_v1 import Pager, RestCaller

PAGE_MAX = 500
PLATFORM = {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")


@dataclass(frozen=True)
class EventsPage:
    data: list[dict[str, Any]]  # envelopes, in the order asked for
    next_cursor: int | None
    resume_cursor: int | None


@dataclass(frozen=True)
class V2Api(RestCaller):
    """The v2 calls."""

    def headers(self) -> dict[str, str]:
        return {
            "x-organization-uuid": self.org_uuid,
            "Content-Type": "application/json",
            "anthropic-client-platform": PLATFORM,
        }

    def _session_call(self, session_id: str, method: str, tail: str = "", **kw: Any) -> Any:
        path = f"/v1/code/sessions/{quote(session_id, safe='')}{tail}"
        try:
            return self.call(method, path, **kw)
        except SessionNotFound:
            raise SessionNotFound(
                f"session {session_id} not found",
                hint="check the id with `sesstail ls`, or the org with --org",
            ) from None
        except HttpStatusError as exc:
            if exc.status == 409:
                raise SessionNotActive(
                    f"session {session_id} is not running (HTTP 409"
                    + (": session_not_active)" if "session_not_active" in exc.body else ")"),
                    hint="start it again from claude.ai/code, then retry",
                ) from None
            raise

    # -- history ------------------------------------------------------------------------------

    def events_page(
        self, session_id: str, limit: int, *, descending: bool, cursor: int | None = None
    ) -> EventsPage:
        query: dict[str, str | int | None] = {
            "limit": max(1, min(PAGE_MAX, limit)),
            "sort_order": "desc" if descending else "asc",
            "cursor": cursor,
        }
        answer = self._session_call(session_id, "GET", "/events", query=query)
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise SesstailError("the session service answered with something not a page")
        data = [item for item in answer["data"] if isinstance(item, dict)]
        return EventsPage(
            data,
            sequence_number(answer.get("next_cursor")) if "next_cursor" in answer else None,
            sequence_number(answer.get("resume_cursor")),
        )

    def latest_sequence(self, session_id: str) -> int:
        """The sequence number of the session's newest durable event (0 when it has none)."""
        page = self.events_page(session_id, 1, descending=True)
        numbers = [sequence_number(item.get("sequence_num")) for item in page.data]
        known = [n for n in numbers if n is not None]
        if known:
            return max(known)
        return page.resume_cursor or 0

    def last_events(
        self, session_id: str, limit: int, since: float | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The last ``limit`` durable events, oldest first, and the newest sequence number.
        With ``since`` (epoch seconds), only those created at or after it: paging back stops
        at the first page that reaches before it."""
        from sesstail.times import reaches_before, since_filter

        newest_first: list[dict[str, Any]] = []
        cursor: int | None = None
        pager = Pager("the history")
        while len(newest_first) < limit:
            page = self.events_page(
                session_id, limit - len(newest_first), descending=True, cursor=cursor
            )
            newest_first.extend(page.data)
            if (
                page.next_cursor is None
                or not page.data
                or (since is not None and reaches_before(page.data, since))
                or not pager.another(str(page.next_cursor))
            ):
                break
            cursor = page.next_cursor
        events = list(reversed(newest_first[:limit]))
        numbers = [sequence_number(e.get("sequence_num")) for e in events]
        top = max((n for n in numbers if n is not None), default=None)
        if top is None:
            top = self.latest_sequence(session_id) if not events else 0
        if since is not None:
            events = since_filter(events, since)
        return events, top

    # -- posting ------------------------------------------------------------------------------

    def post(self, session_id: str, payloads: list[dict[str, Any]]) -> list[int | None]:
        """Post events; their sequence numbers, where the answer gives them."""
        body = {"session_id": session_id, "events": [{"payload": p} for p in payloads]}
        answer = self._session_call(session_id, "POST", "/events", body=body)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            return [None] * len(payloads)
        return [
            sequence_number(r.get("sequence_num")) if isinstance(r, dict) else None for r in results
        ]

    def send_prompt(self, session_id: str, text: str, prompt_uuid: str | None = None) -> str:
        """Post a user prompt; retries reuse its uuid, so it is delivered once. Its uuid."""
        prompt_uuid = prompt_uuid or str(uuid_module.uuid4())
        self.post(session_id, [prompt_payload(session_id, text, prompt_uuid)])
        return prompt_uuid

    def post_control(self, session_id: str, obj: dict[str, Any]) -> None:
        """A control request or answer, with a fresh ``uuid`` of its own (PROTOCOL §8)."""
        self.post(session_id, [{**obj, "uuid": obj.get("uuid") or str(uuid_module.uuid4())}])

    # -- sessions -----------------------------------------------------------------------------

    def sessions(self, limit: int, statuses: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` sessions, newest activity first, following ``next_cursor``."""
        cursor: str | None = None
        given = 0
        pager = Pager("the session list")
        while given < limit:
            query: list[tuple[str, str]] = [("limit", str(min(100, max(limit - given, 1))))]
            query += [("statuses", s) for s in statuses or []]
            if cursor is not None:
                query.append(("cursor", cursor))
            answer = self.call("GET", "/v1/code/sessions", query)
            if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
                raise SesstailError("the session service answered with something not a page")
            items = [i for i in answer["data"] if isinstance(i, dict)]
            for item in items:
                yield item
                given += 1
                if given >= limit:
                    return
            nxt = answer.get("next_cursor")
            if not isinstance(nxt, str | int) or not items or not pager.another(str(nxt)):
                return
            cursor = str(nxt)


def prompt_payload(session_id: str, text: str, prompt_uuid: str) -> dict[str, Any]:
    return {
        "type": "user",
        "uuid": prompt_uuid,
        "session_id": session_id,
        "parent_tool_use_id": None,
        "message": {"role": "user", "content": text},
    }


# What `ls` shows for a v2 status, and which v2 statuses a `--status` asks for.
V1_STATUS = {"active": "running", "paused": "idle", "archived": "archived"}
V2_STATUSES = {
    "running": ["active"],
    "requires_action": ["active"],
    "idle": ["paused", "idle"],
    "archived": ["archived"],
}


def as_v1_resource(item: dict[str, Any]) -> dict[str, Any]:
    """A v2 session list item in the shape the table and ``ls --json`` users know (v1's),
    every field treated as optional; the v2 fields stay too."""
    raw_id = item.get("id")
    config = item.get("config") if isinstance(item.get("config"), dict) else {}
    status = item.get("status")
    bucket = item.get("status_bucket")
    shown = status if isinstance(status, str) else "unknown"
    if isinstance(bucket, str) and "action" in bucket:
        shown = "requires_action"
    else:
        shown = V1_STATUS.get(shown, shown)
    model = config.get("model") if isinstance(config, dict) else None
    return {
        **item,
        "id": user_form(raw_id) if isinstance(raw_id, str) else raw_id,
        "session_status": shown,
        "updated_at": item.get("last_event_at") or item.get("updated_at"),
        "session_context": {"model": model} if isinstance(model, str) else {},
    }


def envelope_messages(
    envelopes: list[dict[str, Any]], received_at: float, *, backfill: bool = False
) -> list[Message]:
    """History envelopes as messages, after the source rules."""
    out: list[Message] = []
    for envelope in envelopes:
        payload = worker_payload(envelope)
        if payload is not None:
            out.append(Message(encode(payload), payload, received_at, backfill))
    return out
