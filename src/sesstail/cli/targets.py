"""Who and where: a session (``Target``) or an account (``Account``), resolved from the
options, the credentials and the environment before anything is sent."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sesstail.credentials import Token
    from sesstail.transport.stream import StreamSettings


@dataclass(frozen=True)
class Target:
    """A session to talk to, with everything needed to reach it."""

    session_id: str
    base_url: str
    org_uuid: str
    env: dict[str, str]
    api: str = "auto"

    def token(self) -> Token:
        """The access token, read afresh (PROTOCOL §6)."""
        from sesstail.credentials import load_token

        return load_token(self.env)

    def stream_settings(self, **overrides: Any) -> StreamSettings:
        from sesstail.protocol import subscribe_url
        from sesstail.transport.stream import StreamSettings

        return StreamSettings(
            url=subscribe_url(self.base_url, self.session_id, self.org_uuid),
            get_token=self.token,
            env=self.env,
            api=self.api,
            **overrides,
        )


def resolve_target(session_id: str, base_url: str, org: str | None, api: str = "auto") -> Target:
    """Validate the arguments (exit 2, nothing sent), then find a token (exit 3) and the org.

    Every command that talks to a session starts here.
    """
    from sesstail.protocol import validate_session_id

    session = validate_session_id(session_id)
    account = resolve_account(base_url, org, api)
    return account.target(session)


def resolve_targets(
    session_ids: list[str], base_url: str, org: str | None, api: str = "auto"
) -> list[Target]:
    """Sessions of one account: every id validated before any credential is looked up;
    for one id, the same as ``resolve_target``."""
    from sesstail.protocol import validate_session_id

    sessions = list(dict.fromkeys(validate_session_id(s) for s in session_ids))
    account = resolve_account(base_url, org, api)
    return [account.target(s) for s in sessions]


@dataclass(frozen=True)
class Account:
    """The sessions service and who we are to it: what a command about no one session
    (``ls``), or about several, needs."""

    base_url: str
    org_uuid: str
    env: dict[str, str]
    api: str = "auto"

    def token(self) -> Token:
        """The access token, read afresh (PROTOCOL §6)."""
        from sesstail.credentials import load_token

        return load_token(self.env)

    def target(self, session_id: str) -> Target:
        """A session of this account; ``session_id`` must be validated already."""
        return Target(session_id, self.base_url, self.org_uuid, self.env, self.api)


def resolve_account(base_url: str, org: str | None, api: str = "auto") -> Account:
    """Validate the base URL and org (exit 2), then find a token (exit 3) and the org:
    ``resolve_target`` without a session."""
    from sesstail.credentials import load_token, resolve_org
    from sesstail.protocol import validate_base_url, validate_org

    base = validate_base_url(base_url)
    if org:
        validate_org(org)
    env = dict(os.environ)
    token = load_token(env)
    org_uuid = resolve_org(org, env, lambda: _fetch_profile(base, token, env))
    return Account(base, org_uuid, env, api)


def _fetch_profile(base: str, token: Token, env: dict[str, str]) -> dict[str, Any]:
    import time

    from sesstail.errors import CannotConnect
    from sesstail.protocol import http_url
    from sesstail.transport.http import HttpStatusError, OverLimit, request_json

    url = http_url(base, "/api/oauth/profile")
    for attempt in range(1, 4):  # unreachable or 5xx: retried like every REST call
        try:
            answer = request_json("GET", url, token.value, env=env)
            return answer if isinstance(answer, dict) else {}
        except HttpStatusError as exc:
            if not exc.worth_retrying or attempt == 3:
                raise
        except OverLimit:  # too big or too slow: it would be again
            raise
        except CannotConnect as exc:
            if "TLS failure" in exc.message or "redirected" in exc.message or attempt == 3:
                raise
        time.sleep(0.5 * attempt)
    return {}
