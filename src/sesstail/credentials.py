"""Where the access token and the organization come from (PROTOCOL §6).

The token is read afresh before every connection attempt, from the first source that has
one: ``CLAUDE_CODE_OAUTH_TOKEN``, Claude Code's credentials file, the macOS Keychain. We never
refresh it ourselves: rotating refresh tokens behind Claude Code's back can log the user out.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sesstail.errors import AuthError, CannotConnect, SessionNotFound, SesstailError, UsageError
from sesstail.protocol import validate_org
from sesstail.secrets import Secret

EXPIRY_MARGIN_S = 5 * 60
REFRESH_HINT = "run `claude` once to refresh your login, then try again"
REFUSED_LOGIN_HINT = (
    "the token was refused: check CLAUDE_CODE_OAUTH_TOKEN, or run `claude` once to refresh "
    "your login"
)
ORG_HINT = "pass --org UUID or set CLAUDE_CODE_ORGANIZATION_UUID"


@dataclass(frozen=True)
class Token:
    value: Secret = field(repr=False)
    source: str
    expires_at: float | None = None  # epoch seconds
    scopes: tuple[str, ...] = ()


def config_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("CLAUDE_CONFIG_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".claude"


def global_config_file(env: Mapping[str, str]) -> Path:
    configured = env.get("CLAUDE_CONFIG_DIR")
    # Beside ~/.claude/, not inside it, unless a config dir is set.
    return (
        Path(configured).expanduser() / ".claude.json"
        if configured
        else Path.home() / ".claude.json"
    )


def keychain_service(env: Mapping[str, str]) -> str:
    configured = env.get("CLAUDE_CONFIG_DIR")
    if not configured:
        return "Claude Code-credentials"
    digest = hashlib.sha256(configured.encode()).hexdigest()[:8]
    return f"Claude Code-credentials-{digest}"


def _token_from_store(payload: Any, source: str, now: float) -> Token | None:
    if not isinstance(payload, dict):
        raise AuthError(f"{source} is not a JSON object", hint=REFRESH_HINT)
    oauth = payload.get("claudeAiOauth")
    if oauth is None:
        return None
    if (
        not isinstance(oauth, dict)
        or not isinstance(oauth.get("accessToken"), str)
        or not oauth["accessToken"].strip()
    ):
        raise AuthError(f"{source} has no usable claudeAiOauth.accessToken", hint=REFRESH_HINT)
    expires_ms = oauth.get("expiresAt")
    expires_at = expires_ms / 1000 if isinstance(expires_ms, int | float) else None
    if expires_at is not None and now >= expires_at - EXPIRY_MARGIN_S:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires_at))
        state = "expired" if now >= expires_at else "expires within 5 minutes"
        raise AuthError(f"the access token in {source} {state} ({when})", hint=REFRESH_HINT)
    scopes = oauth.get("scopes")
    return Token(
        Secret(oauth["accessToken"]),
        source,
        expires_at,
        tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
    )


def _read_keychain(env: Mapping[str, str]) -> str | None:
    try:
        done = subprocess.run(
            [
                "security",
                "find-generic-password",
                "-a",
                env.get("USER", ""),
                "-w",
                "-s",
                keychain_service(env),
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def load_token(
    env: Mapping[str, str] | None = None,
    *,
    now: float | None = None,
    platform: str = sys.platform,
    keychain: Callable[[Mapping[str, str]], str | None] = _read_keychain,
) -> Token:
    """The access token from the first source that has one, or an ``AuthError``."""
    env = os.environ if env is None else env
    now = time.time() if now is None else now
    direct = env.get("CLAUDE_CODE_OAUTH_TOKEN", "").strip()
    if direct:
        return Token(Secret(direct), "CLAUDE_CODE_OAUTH_TOKEN")

    path = config_dir(env) / ".credentials.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    except OSError as exc:
        raise AuthError(f"cannot read {path}: {exc.strerror}") from None
    if text is not None:
        try:
            payload = json.loads(text)
        except ValueError:
            raise AuthError(f"{path} is not valid JSON", hint=REFRESH_HINT) from None
        token = _token_from_store(payload, str(path), now)
        if token is not None:
            return token

    if platform == "darwin":
        secret = keychain(env)
        if secret is not None:
            try:
                payload = json.loads(secret)
            except ValueError:
                raise AuthError("the Keychain entry is not valid JSON", hint=REFRESH_HINT) from None
            token = _token_from_store(payload, "the macOS Keychain", now)
            if token is not None:
                return token

    raise AuthError(
        "no Claude Code credentials found",
        hint=f"log in with `claude` (it writes {path}), or set CLAUDE_CODE_OAUTH_TOKEN",
    )


def org_from_config(env: Mapping[str, str]) -> str | None:
    path = global_config_file(env)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    account = payload.get("oauthAccount") if isinstance(payload, dict) else None
    org = account.get("organizationUuid") if isinstance(account, dict) else None
    return org if isinstance(org, str) and org else None


def resolve_org(
    option: str | None,
    env: Mapping[str, str],
    fetch_profile: Callable[[], dict[str, Any]],
) -> str:
    """The organization UUID: the option, the env, the global config, else the profile."""
    if option:
        return validate_org(option)
    from_env = env.get("CLAUDE_CODE_ORGANIZATION_UUID", "").strip()
    if from_env:
        return validate_org(from_env)
    from_config = org_from_config(env)
    if from_config:
        return validate_org(from_config)
    try:
        profile = fetch_profile()
    except AuthError as exc:
        # 403: the token works but may lack the profile scope (a long-lived token): --org
        # helps. 401: the token itself was refused, and --org would not change that.
        hint = ORG_HINT if "HTTP 403" in exc.message else REFUSED_LOGIN_HINT
        raise AuthError(f"cannot look up your organization: {exc.message}", hint=hint) from None
    except SessionNotFound as exc:  # a 404 here is no news about the session
        raise SesstailError(
            f"cannot look up your organization: the profile endpoint is missing ({exc.message})",
            hint=ORG_HINT,
        ) from None
    except CannotConnect as exc:
        # The service cannot be reached at all: --org would not help, the address might.
        raise CannotConnect(
            f"cannot look up your organization: {exc.message}",
            hint=exc.hint or "check --base-url (or SESSTAIL_BASE_URL) and the network",
        ) from None
    organization = profile.get("organization")
    org = organization.get("uuid") if isinstance(organization, dict) else None
    if not isinstance(org, str):
        raise SesstailError(
            "the profile endpoint did not name an organization",
            hint=ORG_HINT,
        )
    try:
        return validate_org(org)
    except UsageError:
        raise SesstailError("the profile endpoint returned an invalid organization id") from None
