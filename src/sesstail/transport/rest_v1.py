"""The v1 REST calls around sessions (PROTOCOL §7): list, one session, history pages, a prompt.

Every call goes through ``transport.http.request_json`` and is retried here when the failure
is worth retrying: unreachable, a timeout, 408, 429 or 5xx. 401/403 (exit 3) and 404 (exit 4)
are answers, not accidents, and are not retried. Posting a prompt is retried with the same
event ``uuid``, which the service ignores when it repeats, so a prompt is never delivered
twice. Paging is bounded (``MAX_PAGES`` requests, ``PAGING_DEADLINE`` seconds) and stops on a
cursor that does not move, so a server that says ``has_more`` forever cannot hold us.
``RestCaller`` (retries, deadline) is shared with the v2 calls.
"""

from __future__ import annotations

import random
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sesstail.credentials import Token
from sesstail.errors import CannotConnect, ControlTimeout, SessionNotFound, SesstailError
from sesstail.protocol import Message, encode, http_url
from sesstail.transport.http import HttpStatusError, OverLimit, request_json

BETA = "ccr-byoc-2025-07-29"
PAGE_MAX = 100
MAX_PAGES = 200  # requests one listing may make
PAGING_DEADLINE = 30.0  # seconds one listing may take


@dataclass(frozen=True)
class Page:
    """One page of a listing: its items, and how to ask for the next one."""

    data: list[dict[str, Any]]
    has_more: bool
    first_id: str | None
    last_id: str | None


@dataclass(frozen=True)
class RestCaller:
    """One request, retried on failures worth retrying, within an optional overall deadline
    (``deadline``: a ``time.monotonic()`` value; a command's ``--timeout`` covers its REST
    calls too)."""

    base_url: str
    org_uuid: str
    get_token: Callable[[], Token]
    env: Mapping[str, str] | None = field(default=None, repr=False)
    attempts: int = 3
    retry_delay: float = 0.5
    timeout: float = 15.0
    sleep: Callable[[float], None] = time.sleep
    deadline: float | None = None

    def headers(self) -> dict[str, str]:
        return {"anthropic-beta": BETA, "x-organization-uuid": self.org_uuid}

    def _left(self) -> float | None:
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ControlTimeout("the time given with --timeout ran out")
        return left

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int | None] | list[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> Any:
        """One request, retried on failures worth retrying; the decoded JSON answer."""
        if isinstance(query, list):
            params: list[tuple[str, str]] = query
        else:
            params = [(k, str(v)) for k, v in (query or {}).items() if v is not None]
        url = http_url(self.base_url, path) + (f"?{urlencode(params)}" if params else "")
        attempt = 0
        while True:
            attempt += 1
            left = self._left()
            try:
                # The token is read afresh for every attempt, as for every connection.
                token = self.get_token()
                return request_json(
                    method,
                    url,
                    token.value,
                    headers=self.headers(),
                    body=body,
                    timeout=self.timeout if left is None else max(0.01, min(self.timeout, left)),
                    deadline=60.0 if left is None else max(0.01, min(60.0, left)),
                    env=self.env,
                )
            except CannotConnect as exc:
                if isinstance(exc, OverLimit):
                    self._left()  # the time --timeout gave ran out: exit 7 says that
                if not _worth_retrying(exc) or attempt >= self.attempts:
                    if attempt > 1:
                        raise CannotConnect(
                            f"{exc.message} (after {attempt} attempts)", hint=exc.hint
                        ) from None
                    raise
                base = self.retry_delay * 2 ** (attempt - 1)
                pause = base * random.uniform(0.8, 1.2)
                left = self._left()
                self.sleep(pause if left is None else min(pause, left))


class Pager:
    """Bounds a listing: at most ``MAX_PAGES`` requests and ``PAGING_DEADLINE`` seconds, and
    stops on a cursor that does not advance."""

    def __init__(self, what: str, report: Callable[[str], None] | None = None) -> None:
        self.what = what
        self.report = report
        self.pages = 0
        self.started = time.monotonic()
        self.cursors: set[str] = set()

    def another(self, cursor: str | None) -> bool:
        """Whether to ask for the page after ``cursor``."""
        if cursor is None or cursor in self.cursors:
            return False
        self.cursors.add(cursor)
        self.pages += 1
        if self.pages >= MAX_PAGES or time.monotonic() - self.started > PAGING_DEADLINE:
            if self.report is not None:
                self.report(
                    f"stopped reading {self.what} after {self.pages} pages: the service "
                    "kept saying there was more"
                )
            return False
        return True


@dataclass(frozen=True)
class SessionsApi(RestCaller):
    """The v1 calls."""

    def _session_call(self, session_id: str, method: str, tail: str = "", **kw: Any) -> Any:
        try:
            return self.call(method, f"/v1/sessions/{quote(session_id, safe='')}{tail}", **kw)
        except SessionNotFound:
            raise SessionNotFound(
                f"session {session_id} not found",
                hint="check the id with `sesstail ls`, or the org with --org",
            ) from None

    # -- sessions ---------------------------------------------------------------------------

    def sessions_page(self, limit: int, after_id: str | None = None) -> Page:
        return _page(self.call("GET", "/v1/sessions", {"limit": limit, "after_id": after_id}))

    def sessions(self, limit: int, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` sessions, following ``has_more``; ``status`` filters here, since
        the service is not known to filter (PROTOCOL §7 names no such parameter)."""
        after: str | None = None
        given = 0
        pager = Pager("the session list")
        while given < limit:
            want = PAGE_MAX if status else min(PAGE_MAX, limit - given)
            page = self.sessions_page(want, after)
            for item in page.data:
                if status is None or item.get("session_status") == status:
                    yield item
                    given += 1
                    if given >= limit:
                        return
            if not page.has_more or not page.data or not pager.another(page.last_id):
                return
            after = page.last_id

    def session(self, session_id: str) -> dict[str, Any]:
        answer = self._session_call(session_id, "GET")
        if not isinstance(answer, dict):
            raise SesstailError("the session service answered with something not a session")
        return answer

    # -- history ----------------------------------------------------------------------------

    def history_page(
        self,
        session_id: str,
        limit: int,
        *,
        before_id: str | None = None,
        after_id: str | None = None,
        latest: bool = False,
    ) -> Page:
        query: dict[str, str | int | None] = {
            "limit": limit,
            "before_id": before_id,
            "after_id": after_id,
            "anchor_to_latest": "true" if latest else None,
        }
        return _page(self._session_call(session_id, "GET", "/events", query=query))

    def history(
        self, session_id: str, limit: int, since: float | None = None
    ) -> list[dict[str, Any]]:
        """The last ``limit`` messages, oldest first, paging back with ``before_id``. With
        ``since`` (epoch seconds), only those made at or after it by their own time (v1
        messages carry one only sometimes: see ``times.since_filter``)."""
        from sesstail.times import reaches_before, since_filter

        pages: list[list[dict[str, Any]]] = []
        count = 0
        before: str | None = None
        pager = Pager("the history")
        while count < limit:
            want = min(PAGE_MAX, limit - count)
            page = self.history_page(session_id, want, before_id=before, latest=before is None)
            pages.append(page.data)
            count += len(page.data)
            if (
                not page.has_more
                or not page.data
                or (since is not None and reaches_before(page.data, since))
                or not pager.another(page.first_id)
            ):
                break
            before = page.first_id
        newest_last = [item for page_items in reversed(pages) for item in page_items]
        newest_last = newest_last[-limit:] if limit else []
        return since_filter(newest_last, since) if since is not None else newest_last

    def history_after(
        self, session_id: str, after_id: str | None, max_pages: int = 20
    ) -> tuple[list[dict[str, Any]], bool]:
        """What the session said after ``after_id`` (from its start when None), oldest first,
        and whether that is all of it (False: more pages than ``max_pages``)."""
        out: list[dict[str, Any]] = []
        cursor = after_id
        for _ in range(max_pages):
            page = self.history_page(session_id, PAGE_MAX, after_id=cursor)
            out.extend(page.data)
            if not page.has_more or not page.data or page.last_id in (None, cursor):
                return out, True
            cursor = page.last_id
        return out, False

    # -- prompts ----------------------------------------------------------------------------

    def send_prompt(self, session_id: str, text: str, prompt_uuid: str | None = None) -> str:
        """Post a user prompt; retries reuse its uuid, so it is delivered once. Its uuid."""
        prompt_uuid = prompt_uuid or str(uuid_module.uuid4())
        event = prompt_event(session_id, text, prompt_uuid)
        self._session_call(session_id, "POST", "/events", body={"events": [event]})
        return prompt_uuid


def prompt_event(session_id: str, text: str, prompt_uuid: str) -> dict[str, Any]:
    return {
        "uuid": prompt_uuid,
        "session_id": session_id,
        "type": "user",
        "parent_tool_use_id": None,
        "message": {"role": "user", "content": text},
    }


def as_messages(objs: list[dict[str, Any]], received_at: float | None = None) -> list[Message]:
    """History items as messages for the renderers; anything without a string type is left
    out, as the stream would skip it."""
    now = time.time() if received_at is None else received_at
    return [Message(encode(o), o, now) for o in objs if type(o.get("type")) is str]


def _page(answer: Any) -> Page:
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        raise SesstailError("the session service answered with something not a page")
    data = [item for item in answer["data"] if isinstance(item, dict)]
    first, last = answer.get("first_id"), answer.get("last_id")
    return Page(
        data,
        answer.get("has_more") is True,
        first if isinstance(first, str) else None,
        last if isinstance(last, str) else None,
    )


def _worth_retrying(exc: CannotConnect) -> bool:
    if isinstance(exc, HttpStatusError):
        return exc.worth_retrying
    if isinstance(exc, OverLimit):  # too big or too slow: it would be again
        return False
    # TLS failures and refused redirects will not mend by themselves; everything else
    # (refused, reset, timeout) may.
    return not (exc.message.startswith("TLS failure") or "redirected" in exc.message)
