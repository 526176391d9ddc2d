"""Where the token and the organization come from (PROTOCOL §6), and secrets staying secret."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from sesstail.credentials import (
    EXPIRY_MARGIN_S,
    Token,
    config_dir,
    global_config_file,
    keychain_service,
    load_token,
    resolve_org,
)
from sesstail.errors import AuthError, ExitCode, SesstailError, UsageError
from sesstail.secrets import Secret, redact

NOW = 1_775_000_000.0
FILE_TOKEN = "sk-ant-oat01-FILE-abcdefghijklmnop"
ENV_TOKEN = "sk-ant-oat01-ENV-qrstuvwxyz012345"
KEYCHAIN_TOKEN = "sk-ant-oat01-KEYCHAIN-6789abcdefgh"
SCOPES = ["user:inference", "user:profile", "user:sessions:claude_code"]
ORG_A = "11111111-1111-4111-8111-111111111111"
ORG_B = "22222222-2222-4222-8222-222222222222"
ORG_C = "33333333-3333-4333-8333-333333333333"
ORG_D = "44444444-4444-4444-8444-444444444444"


@pytest.fixture(autouse=True)
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty home directory, so the real ~/.claude is never read."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def store(access_token: str = FILE_TOKEN, expires_in_s: float | None = 3600) -> dict[str, Any]:
    oauth: dict[str, Any] = {
        "accessToken": access_token,
        "refreshToken": "sk-ant-ort01-REFRESH-zzzzzzzzzzzz",
        "scopes": SCOPES,
        "subscriptionType": "max",
    }
    if expires_in_s is not None:
        oauth["expiresAt"] = int((NOW + expires_in_s) * 1000)
    return {"claudeAiOauth": oauth}


def write_credentials(directory: Path, payload: dict[str, Any] | str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".credentials.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def no_keychain(env: Mapping[str, str]) -> str | None:
    raise AssertionError("the Keychain must not be read here")


def linux_load(env: Mapping[str, str]) -> Token:
    return load_token(env, now=NOW, platform="linux", keychain=no_keychain)


def all_text(exc: SesstailError) -> str:
    return f"{exc}\n{exc.message}\n{exc.hint}\n{exc!r}\n{exc.args!r}"


# --- token sources -----------------------------------------------------------------------------


def test_env_token_wins_over_the_file(tmp_path: Path) -> None:
    """CLAUDE_CODE_OAUTH_TOKEN is used even when a credentials file exists."""
    write_credentials(tmp_path / "cfg", store())
    env = {
        "CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"),
        "CLAUDE_CODE_OAUTH_TOKEN": f"  {ENV_TOKEN}\n",
    }
    token = linux_load(env)
    assert token.value.reveal() == ENV_TOKEN
    assert token.source == "CLAUDE_CODE_OAUTH_TOKEN"


def test_blank_env_token_falls_through_to_the_file(tmp_path: Path) -> None:
    """A blank CLAUDE_CODE_OAUTH_TOKEN is ignored and the file is read."""
    write_credentials(tmp_path / "cfg", store())
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"), "CLAUDE_CODE_OAUTH_TOKEN": "   "}
    assert linux_load(env).value.reveal() == FILE_TOKEN


def test_file_under_claude_config_dir(tmp_path: Path, fake_home: Path) -> None:
    """With CLAUDE_CONFIG_DIR set, the file there is read (not the one under ~/.claude)."""
    path = write_credentials(tmp_path / "cfg", store())
    write_credentials(fake_home / ".claude", store("sk-ant-oat01-HOME-wrongwrongwrong"))
    token = linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})
    assert token.value.reveal() == FILE_TOKEN
    assert token.source == str(path)
    assert token.scopes == tuple(SCOPES)
    assert token.expires_at == pytest.approx(NOW + 3600)


def test_file_under_home_claude_by_default(fake_home: Path) -> None:
    """Without CLAUDE_CONFIG_DIR, ~/.claude/.credentials.json is read."""
    path = write_credentials(fake_home / ".claude", store())
    token = linux_load({})
    assert token.value.reveal() == FILE_TOKEN
    assert token.source == str(path)
    assert config_dir({}) == fake_home / ".claude"


def test_config_dir_expands_tilde(fake_home: Path) -> None:
    """CLAUDE_CONFIG_DIR=~/x means a directory under the home."""
    assert config_dir({"CLAUDE_CONFIG_DIR": "~/alt"}) == fake_home / "alt"


def test_token_without_expiry_or_scopes_is_accepted(tmp_path: Path) -> None:
    """A stored token with no expiresAt and no scopes is used as is."""
    write_credentials(tmp_path / "cfg", {"claudeAiOauth": {"accessToken": FILE_TOKEN}})
    token = linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})
    assert token.value.reveal() == FILE_TOKEN
    assert token.expires_at is None
    assert token.scopes == ()


# --- expiry ------------------------------------------------------------------------------------


@pytest.mark.parametrize("expires_in_s", [-3600, -1, 0, 1, EXPIRY_MARGIN_S - 1, EXPIRY_MARGIN_S])
def test_expired_or_expiring_within_five_minutes_is_auth_error(
    tmp_path: Path, expires_in_s: float
) -> None:
    """A token expired or expiring within 5 minutes raises AuthError (exit 3) saying so."""
    write_credentials(tmp_path / "cfg", store(expires_in_s=expires_in_s))
    with pytest.raises(AuthError) as info:
        linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})
    err = info.value
    assert err.exit_code == 3
    # Only a token whose time has come is called expired; one about to expire says so.
    expected = "expired" if expires_in_s <= 0 else "expires within 5 minutes"
    assert f"{expected} (" in err.message
    assert err.hint is not None
    assert "claude" in err.hint
    assert FILE_TOKEN not in all_text(err)


@pytest.mark.parametrize("expires_in_s", [EXPIRY_MARGIN_S + 1, 3600, 86400 * 30])
def test_token_valid_beyond_the_margin_is_returned(tmp_path: Path, expires_in_s: float) -> None:
    """A token valid for more than 5 more minutes is returned with its scopes."""
    write_credentials(tmp_path / "cfg", store(expires_in_s=expires_in_s))
    token = linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})
    assert token.value.reveal() == FILE_TOKEN
    assert token.scopes == tuple(SCOPES)


def test_expires_at_is_read_as_milliseconds(tmp_path: Path) -> None:
    """expiresAt in epoch milliseconds: a value in seconds would be read as long expired."""
    payload = store()
    payload["claudeAiOauth"]["expiresAt"] = int(NOW + 3600)  # seconds: 1970 when read as ms
    write_credentials(tmp_path / "cfg", payload)
    with pytest.raises(AuthError, match="expired"):
        linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})


# --- malformed stores and no source --------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"claudeAiOauth": {"accessToken": "' + FILE_TOKEN,
        "[1, 2]",
        '"just a string"',
        json.dumps({"claudeAiOauth": {}}),
        json.dumps({"claudeAiOauth": {"accessToken": 12345}}),
        json.dumps({"claudeAiOauth": "oops"}),
        json.dumps({"claudeAiOauth": {"refreshToken": FILE_TOKEN}}),
    ],
)
def test_malformed_credentials_file_is_auth_error(tmp_path: Path, content: str) -> None:
    """A file that is not JSON, not an object or without an accessToken raises AuthError."""
    write_credentials(tmp_path / "cfg", content)
    with pytest.raises(AuthError) as info:
        linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})
    assert info.value.exit_code == 3
    assert FILE_TOKEN not in all_text(info.value)


def test_no_source_is_auth_error_saying_how_to_log_in() -> None:
    """With no env token, no file and no Keychain, AuthError explains how to log in."""
    with pytest.raises(AuthError) as info:
        linux_load({})
    err = info.value
    assert err.exit_code == 3
    assert "no Claude Code credentials" in err.message
    assert err.hint is not None
    assert "claude" in err.hint
    assert "CLAUDE_CODE_OAUTH_TOKEN" in err.hint


def test_file_without_claude_ai_oauth_counts_as_no_source(tmp_path: Path) -> None:
    """A credentials file holding other entries only is treated as not logged in."""
    write_credentials(tmp_path / "cfg", {"mcpOAuth": {"x": {"accessToken": "t"}}})
    with pytest.raises(AuthError, match="no Claude Code credentials"):
        linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})


# --- macOS Keychain ----------------------------------------------------------------------------


class FakeKeychain:
    """Our own seam: records which service was asked for and returns a fixed secret."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret
        self.services: list[str] = []

    def __call__(self, env: Mapping[str, str]) -> str | None:
        self.services.append(keychain_service(env))
        return self.secret


def test_keychain_used_on_darwin_when_no_file(tmp_path: Path) -> None:
    """On macOS with no env token and no file, the Keychain entry supplies the token."""
    keychain = FakeKeychain(json.dumps(store(KEYCHAIN_TOKEN)))
    token = load_token({}, now=NOW, platform="darwin", keychain=keychain)
    assert token.value.reveal() == KEYCHAIN_TOKEN
    assert token.scopes == tuple(SCOPES)
    assert keychain.services == ["Claude Code-credentials"]


@pytest.mark.parametrize("platform", ["linux", "win32", "freebsd14"])
def test_keychain_not_used_off_darwin(platform: str) -> None:
    """Off macOS the Keychain is never consulted, even when nothing else has a token."""
    keychain = FakeKeychain(json.dumps(store(KEYCHAIN_TOKEN)))
    with pytest.raises(AuthError):
        load_token({}, now=NOW, platform=platform, keychain=keychain)
    assert keychain.services == []


def test_file_wins_over_keychain_on_darwin(fake_home: Path) -> None:
    """On macOS a credentials file is preferred to the Keychain."""
    write_credentials(fake_home / ".claude", store())
    keychain = FakeKeychain(json.dumps(store(KEYCHAIN_TOKEN)))
    token = load_token({}, now=NOW, platform="darwin", keychain=keychain)
    assert token.value.reveal() == FILE_TOKEN
    assert keychain.services == []


def test_keychain_service_name_with_config_dir(tmp_path: Path) -> None:
    """With CLAUDE_CONFIG_DIR the service is suffixed with 8 hex digits of its SHA-256."""
    cfg = str(tmp_path / "cfg")
    keychain = FakeKeychain(json.dumps(store(KEYCHAIN_TOKEN)))
    load_token({"CLAUDE_CONFIG_DIR": cfg}, now=NOW, platform="darwin", keychain=keychain)
    expected = "Claude Code-credentials-" + hashlib.sha256(cfg.encode()).hexdigest()[:8]
    assert keychain.services == [expected]
    assert keychain_service({"CLAUDE_CONFIG_DIR": cfg}) == expected
    assert keychain_service({}) == "Claude Code-credentials"


def test_keychain_service_known_value() -> None:
    """The suffix for a fixed path is a fixed value (sha256 of the path as given, 8 hex)."""
    # printf '%s' /Users/dev/.claude-work | sha256sum  ->  4298c2ba...
    assert keychain_service({"CLAUDE_CONFIG_DIR": "/Users/dev/.claude-work"}) == (
        "Claude Code-credentials-4298c2ba"
    )


def test_keychain_expired_token_is_auth_error() -> None:
    """An expired token in the Keychain raises AuthError without the token."""
    keychain = FakeKeychain(json.dumps(store(KEYCHAIN_TOKEN, expires_in_s=-10)))
    with pytest.raises(AuthError) as info:
        load_token({}, now=NOW, platform="darwin", keychain=keychain)
    assert "expired" in info.value.message
    assert KEYCHAIN_TOKEN not in all_text(info.value)


def test_keychain_garbage_is_auth_error() -> None:
    """A Keychain secret that is not JSON raises AuthError without echoing it."""
    keychain = FakeKeychain("garbage " + KEYCHAIN_TOKEN)
    with pytest.raises(AuthError) as info:
        load_token({}, now=NOW, platform="darwin", keychain=keychain)
    assert KEYCHAIN_TOKEN not in all_text(info.value)


def test_keychain_without_entry_is_no_source() -> None:
    """When the Keychain has no entry either, the error is "no credentials"."""
    keychain = FakeKeychain(None)
    with pytest.raises(AuthError, match="no Claude Code credentials"):
        load_token({}, now=NOW, platform="darwin", keychain=keychain)
    assert keychain.services == ["Claude Code-credentials"]


# --- the token stays secret ----------------------------------------------------------------------


def test_token_never_in_repr_or_str(tmp_path: Path) -> None:
    """repr(token), str(token) and repr of its value do not contain the token."""
    write_credentials(tmp_path / "cfg", store())
    token = linux_load({"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})
    for text in (repr(token), str(token), repr(token.value), str(token.value), f"{token}"):
        assert FILE_TOKEN not in text
    env_token = linux_load({"CLAUDE_CODE_OAUTH_TOKEN": ENV_TOKEN})
    assert ENV_TOKEN not in repr(env_token)
    assert ENV_TOKEN not in str(env_token)


def test_secret_hides_its_value() -> None:
    """Secret's repr and str never show the value; reveal() does."""
    secret = Secret("sk-ant-oat01-hidden-value-1234")
    assert "hidden-value" not in repr(secret)
    assert "hidden-value" not in str(secret)
    assert "hidden-value" not in f"{secret!r} {secret}"
    assert secret.reveal() == "sk-ant-oat01-hidden-value-1234"


def test_secret_equality_and_truth() -> None:
    """Secrets compare by value, and an empty one is falsy."""
    assert Secret("same-value-123") == Secret("same-value-123")
    assert Secret("same-value-123") != Secret("other-value-123")
    assert Secret("same-value-123") != "same-value-123"
    assert not Secret("")
    assert Secret("x")


def test_redact_scrubs_a_known_secret() -> None:
    """redact replaces every occurrence of a secret seen in this process."""
    value = "sk-ant-oat01-REDACT-me-please-42"
    Secret(value)
    text = f"HTTP 401 for Bearer {value} (again: {value})"
    cleaned = redact(text)
    assert value not in cleaned
    assert cleaned.startswith("HTTP 401 for Bearer ")
    assert redact("nothing secret here") == "nothing secret here"


# --- organization --------------------------------------------------------------------------------


def profile_returning(payload: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    def fetch() -> dict[str, Any]:
        return payload

    return fetch


def profile_must_not_be_called() -> dict[str, Any]:
    raise AssertionError("the profile endpoint must not be called")


def write_global_config(path: Path, org: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"oauthAccount": {"organizationUuid": org}}), encoding="utf-8")


def test_org_option_wins(tmp_path: Path) -> None:
    """--org is used over the env, the config file and the profile, and canonicalised."""
    write_global_config(tmp_path / "cfg" / ".claude.json", ORG_C)
    env = {"CLAUDE_CODE_ORGANIZATION_UUID": ORG_B, "CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    assert resolve_org(ORG_A.upper(), env, profile_must_not_be_called) == ORG_A


def test_org_env_wins_over_config_and_profile(tmp_path: Path) -> None:
    """CLAUDE_CODE_ORGANIZATION_UUID is used when there is no option."""
    write_global_config(tmp_path / "cfg" / ".claude.json", ORG_C)
    env = {
        "CLAUDE_CODE_ORGANIZATION_UUID": f" {ORG_B} ",
        "CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    assert resolve_org(None, env, profile_must_not_be_called) == ORG_B


def test_org_from_config_dir_global_config(tmp_path: Path) -> None:
    """With CLAUDE_CONFIG_DIR, $CLAUDE_CONFIG_DIR/.claude.json supplies the org."""
    write_global_config(tmp_path / "cfg" / ".claude.json", ORG_C)
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    assert global_config_file(env) == tmp_path / "cfg" / ".claude.json"
    assert resolve_org(None, env, profile_must_not_be_called) == ORG_C


def test_org_from_home_global_config_beside_dot_claude(fake_home: Path) -> None:
    """Without CLAUDE_CONFIG_DIR, ~/.claude.json (beside ~/.claude/) supplies the org."""
    write_global_config(fake_home / ".claude.json", ORG_C)
    write_global_config(fake_home / ".claude" / ".claude.json", ORG_D)
    assert global_config_file({}) == fake_home / ".claude.json"
    assert resolve_org(None, {}, profile_must_not_be_called) == ORG_C


def test_org_not_read_from_inside_dot_claude(fake_home: Path) -> None:
    """~/.claude/.claude.json is not the global config: the profile is asked instead."""
    write_global_config(fake_home / ".claude" / ".claude.json", ORG_D)
    fetch = profile_returning({"organization": {"uuid": ORG_A}})
    assert resolve_org(None, {}, fetch) == ORG_A


def test_org_from_profile_when_nothing_else() -> None:
    """With no option, env or config, the profile's organization.uuid is used."""
    fetch = profile_returning({"organization": {"uuid": ORG_A.upper(), "name": "Acme"}})
    assert resolve_org(None, {}, fetch) == ORG_A


def test_org_config_without_account_falls_back_to_profile(tmp_path: Path) -> None:
    """A global config with no oauthAccount (or not JSON) falls through to the profile."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / ".claude.json").write_text('{"theme": "dark"}', encoding="utf-8")
    fetch = profile_returning({"organization": {"uuid": ORG_A}})
    assert resolve_org(None, {"CLAUDE_CONFIG_DIR": str(cfg)}, fetch) == ORG_A
    (cfg / ".claude.json").write_text("{not json", encoding="utf-8")
    assert resolve_org(None, {"CLAUDE_CONFIG_DIR": str(cfg)}, fetch) == ORG_A


@pytest.mark.parametrize(
    ("option", "env"),
    [
        ("not-a-uuid", {}),
        (None, {"CLAUDE_CODE_ORGANIZATION_UUID": "acme"}),
        ("../../etc", {}),
    ],
)
def test_invalid_org_is_usage_error(option: str | None, env: dict[str, str]) -> None:
    """An org that is not a UUID, from the option or the env, raises UsageError (exit 2)."""
    with pytest.raises(UsageError) as info:
        resolve_org(option, env, profile_must_not_be_called)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "profile",
    [{}, {"organization": None}, {"organization": {}}, {"organization": {"uuid": 7}}],
)
def test_profile_without_organization_is_sesstail_error(profile: dict[str, Any]) -> None:
    """A profile that names no organization raises a plain SesstailError (exit 1) with a hint."""
    with pytest.raises(SesstailError) as info:
        resolve_org(None, {}, profile_returning(profile))
    assert type(info.value) is SesstailError
    assert info.value.exit_code == ExitCode.ERROR
    assert info.value.hint is not None
    assert "--org" in info.value.hint


def test_profile_with_invalid_organization_is_sesstail_error() -> None:
    """A profile org that is not a UUID raises SesstailError, not a usage error."""
    with pytest.raises(SesstailError) as info:
        resolve_org(None, {}, profile_returning({"organization": {"uuid": "acme"}}))
    assert type(info.value) is SesstailError


def test_profile_auth_failure_is_auth_error_with_org_hint() -> None:
    """An AuthError from the profile call stays an AuthError and suggests --org."""

    def fetch() -> dict[str, Any]:
        raise AuthError("api.anthropic.com refused the credentials (HTTP 403)")

    with pytest.raises(AuthError) as info:
        resolve_org(None, {}, fetch)
    assert "organization" in info.value.message
    assert info.value.hint is not None
    assert "--org" in info.value.hint
