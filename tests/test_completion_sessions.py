"""TAB completion of session ids (from the cache `ls` writes) and of message types, run as the
shell runs it: the CLI in a subprocess with the completion variables set."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ORG, SESSION, TOKEN, session, tcp_server
from sesstail import completion
from sesstail.server import Faults, ServedSession, SessionsServer
from sesstail.server.thread import server_thread

OTHER = "session_01OtherOne"
HOSTILE_TITLE = "fix $(rm -rf ~)`id`; echo 'x' \"y\" a:b\n\r\x1b[31mred\x07 & | > <"


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def _env(shell: str, words: str, cword: int) -> dict[str, str]:
    env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN}
    if shell == "bash":
        env.update(_SESSTAIL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    else:
        env.update(_SESSTAIL_COMPLETE=f"complete_{shell}", _TYPER_COMPLETE_ARGS=words)
        if shell == "fish":
            env.update(_TYPER_COMPLETE_FISH_ACTION="get-args")  # as completions/sesstail.fish
    return env


def complete(words: str, shell: str = "bash") -> tuple[list[str], float]:
    """What TAB offers after ``words`` (the last word is the one being completed)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sesstail"],
        env=_env(shell, words, cword),
        capture_output=True,
        text=True,
        timeout=30,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return [line for line in done.stdout.splitlines() if line.strip()], took


def ls(srv: SessionsServer, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sesstail", "ls", "--base-url", srv.base_url, "--org", ORG, *args],
        env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


def two_sessions() -> SessionsServer:
    titled = ServedSession.from_objects(OTHER, [])
    titled.title = HOSTILE_TITLE
    return SessionsServer(
        [session(4), titled], speed=0, token=TOKEN, org=ORG, faults=Faults(end_with_close=True)
    )


def test_ls_fills_the_cache_and_tab_offers_its_ids(cache_home: Path) -> None:
    with server_thread(two_sessions()) as srv:
        ls(srv)
        base = f"--base-url {srv.base_url}"
        every, _ = complete(f"sesstail watch {base} ses")
        one, _ = complete(f"sesstail interrupt {base} session_01O")
        none, _ = complete(f"sesstail interrupt {base} session_01Z")
    assert sorted(every) == sorted([SESSION, OTHER])
    assert one == [OTHER]
    assert none == []
    files = list((cache_home / "sesstail").glob("sessions-*.tsv"))
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o077 == 0  # titles may be private: the owner's only


def test_a_listing_filtered_by_status_leaves_the_cache_alone(cache_home: Path) -> None:
    with server_thread(two_sessions()) as srv:
        ls(srv)
        ls(srv, "--status", "archived")
        offered, _ = complete(f"sesstail watch --base-url {srv.base_url} ses")
    assert sorted(offered) == sorted([SESSION, OTHER])


def test_titles_reach_zsh_without_anything_a_shell_acts_on(cache_home: Path) -> None:
    with server_thread(two_sessions()) as srv:
        ls(srv)
        out, _ = complete(f"sesstail interrupt --base-url {srv.base_url} session_01O", "zsh")
    text = "\n".join(out)
    assert text.startswith("_arguments '*: :((")  # typer's wrapper
    assert text.endswith("))'")
    text = text.removeprefix("_arguments '*: :((").removesuffix("))'")
    assert OTHER in text
    for kept in ("fix", "rm -rf", "red"):
        assert kept in text
    for bad in ["$", "`", ";", "'x'", '"y"', "\x1b", "\r", "\x07", "&", "|", ">", "<", "(", ")"]:
        assert bad not in text.replace(f'"{OTHER}"', ""), bad


def test_an_unreachable_service_costs_tab_nothing(cache_home: Path) -> None:
    """No cache, a service that accepts and never answers: TAB answers at once, with nothing,
    and starts one background refresh, not one per TAB."""

    def hold(conn: socket.socket) -> None:
        time.sleep(20)

    with tcp_server(hold) as (port, _):
        words = f"sesstail watch --base-url http://127.0.0.1:{port} ses"
        first, took = complete(words)
        stamps = list((cache_home / "sesstail").glob("*.refresh"))
        assert len(stamps) == 1
        before = stamps[0].stat().st_mtime_ns
        second, _ = complete(words)
        assert stamps[0].stat().st_mtime_ns == before  # no second refresh within RETRY_AFTER
    assert first == second == []
    assert took < 10  # the refresh's connection would hold it for a minute if it waited


def test_a_stale_cache_is_offered_and_refreshed_behind_the_scenes(cache_home: Path) -> None:
    with server_thread(two_sessions()) as srv:
        completion.remember(srv.base_url, [{"id": "session_01Gone", "title": "old"}])
        path = completion.cache_file(srv.base_url)
        old = time.time() - completion.FRESH_FOR - 5
        os.utime(path, (old, old))
        offered, _ = complete(f"sesstail watch --base-url {srv.base_url} --org {ORG} ses")
        assert offered == ["session_01Gone"]  # what the cache held, without waiting
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "session_01Gone" in path.read_text():
            time.sleep(0.1)
        fresh, _ = complete(f"sesstail watch --base-url {srv.base_url} ses")
    assert sorted(fresh) == sorted([SESSION, OTHER])


def test_a_fresh_cache_starts_no_refresh(cache_home: Path) -> None:
    completion.remember("http://127.0.0.1:9", [{"id": SESSION, "title": "t"}])
    offered, _ = complete("sesstail watch --base-url http://127.0.0.1:9 ses")
    assert offered == [SESSION]
    assert list((cache_home / "sesstail").glob("*.refresh")) == []


def test_watch_offers_local_sessions_too(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "claude"
    project = config / "projects" / "-home-me-proj"
    project.mkdir(parents=True)
    ids = ["0b1e2d3c-0000-4000-8000-000000000001", "0b1e2d3c-0000-4000-8000-000000000002"]
    for n, sid in enumerate(ids):
        (project / f"{sid}.jsonl").write_text("{}\n")
        os.utime(project / f"{sid}.jsonl", (1000 + n, 1000 + n))
    (project / "notes.jsonl").write_text("{}\n")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    completion.remember("http://127.0.0.1:9", [{"id": SESSION, "title": "t"}])
    watch, _ = complete("sesstail watch --base-url http://127.0.0.1:9 ")
    local_only, _ = complete("sesstail watch --base-url http://127.0.0.1:9 0b1")
    interrupt, _ = complete("sesstail interrupt --base-url http://127.0.0.1:9 ")
    assert watch == [SESSION, ids[1], ids[0]]  # remote, then local newest first
    assert local_only == [ids[1], ids[0]]
    assert interrupt == [SESSION]  # a local session has no control channel


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("sesstail watch X -t res", "result/success"),
        ("sesstail watch X --type syst", "system/init"),
        ("sesstail watch X -x keep", "keep_alive"),
        ("sesstail watch X --until resu", "result"),
        ("sesstail history X -t assis", "assistant"),
    ],
)
def test_type_options_complete_the_known_types(words: str, expected: str) -> None:
    offered, _ = complete(words)
    assert expected in offered
    prefix = words.rsplit(" ", 1)[1]
    assert all(value.startswith(prefix) for value in offered)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_command_names_and_a_commands_values_complete_in_every_shell(shell: str) -> None:
    """TAB on the command's name sees every command; after it, only that command is built."""
    names = " ".join(complete("sesstail wa", shell)[0])
    after = " ".join(complete("sesstail wait X --until ", shell)[0])
    assert "watch" in names
    assert "wait" in names
    assert "result" in after
    assert "watch" not in after


def test_completion_builds_only_the_command_named_before_the_cursor() -> None:
    from sesstail.cli import _app_for, app

    def built(env: dict[str, str]) -> list[str | None]:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            return [c.name for c in _app_for([]).registered_commands]

    bash = {"_SESSTAIL_COMPLETE": "complete_bash"}
    assert built({**bash, "COMP_WORDS": "sesstail\nwatch\nX\n-t\nres", "COMP_CWORD": "4"}) == [
        "watch"
    ]
    zsh = {"_SESSTAIL_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "sesstail ls --status "}
    assert built(zsh) == ["ls"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("_SESSTAIL_COMPLETE", "complete_bash")
        patch.setenv("COMP_WORDS", "sesstail wat")
        patch.setenv("COMP_CWORD", "1")
        assert _app_for([]) is app


def test_api_and_wait_states_complete() -> None:
    api, _ = complete("sesstail watch X --api ")
    states, _ = complete("sesstail wait X --until ")
    assert sorted(api) == ["auto", "v1", "v2"]
    assert sorted(states) == ["blocked", "idle", "result"]


def test_safe_title_keeps_words_and_drops_every_control_and_shell_character() -> None:
    every_control = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
    title = completion.safe_title(f"deploy{every_control}v1.2 to prod-eu #42 $HOME `x`")
    assert title == "deploy v1.2 to prod-eu #42 HOME x"
    assert completion.safe_title(None) == ""
    assert len(completion.safe_title("word " * 100)) == completion.TITLE_CHARS


def test_ids_not_in_session_id_shape_are_never_cached(cache_home: Path) -> None:
    completion.remember(
        "http://h", [{"id": "session_01Ok"}, {"id": "x;rm -rf"}, {"id": 5}, {"title": "no id"}]
    )
    pairs, age = completion.cached("http://h")
    assert [sid for sid, _ in pairs] == ["session_01Ok"]
    assert age < 60


# The command line run as the shell runs it (through the quick path of ``sesstail.__main__``),
# and typer's own answer (the command line without that path).
QUICK_PATH = ["-m", "sesstail"]
TYPER_PATH = ["-c", "from sesstail.cli import main; main()"]


def _answers(words: str, shell: str, path: list[str]) -> tuple[int, str]:
    """The exit code and output of TAB after ``words``, through ``path``."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    done = subprocess.run(
        [sys.executable, *path],
        env=_env(shell, words, cword),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, done.stdout


QUICK = [
    "sesstail watch ",
    "sesstail watch ses",
    "sesstail watch 0b1",
    "sesstail watch session_01A --json -n 5 ses",
    "sesstail watch --base-url=http://127.0.0.1:9 --org o ",
    "sesstail interrupt ",
    "sesstail interrupt -v --timeout 3 session_01O",
    "sesstail allow ",
    "sesstail history -t ",
    "sesstail watch X -x keep",
    "sesstail watch X --until resu",
    "sesstail replay rec.jsonl --type sys",
    "sesstail ls --api ",
    "sesstail wait X --api v",
]
LEFT_TO_TYPER = [
    "sesstail wa",
    "sesstail watch --",
    "sesstail watch X --color ",
    "sesstail wait X --until ",
    "sesstail allow session_01A ",
    "sesstail watch --timestamps ",
    "sesstail watch -vq ",
    "sesstail watch -- ",
]


@pytest.fixture
def sessions_known(cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh cache of two remote sessions (one with a hostile title) and a local one."""
    project = tmp_path / "claude" / "projects" / "-home-me-proj"
    project.mkdir(parents=True)
    (project / "0b1e2d3c-0000-4000-8000-000000000001.jsonl").write_text("{}\n")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    for base in ("https://api.anthropic.com", "http://127.0.0.1:9"):
        completion.remember(
            base, [{"id": SESSION, "title": "t: a"}, {"id": OTHER, "title": HOSTILE_TITLE}]
        )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("words", QUICK + LEFT_TO_TYPER)
@pytest.mark.usefixtures("sessions_known")
def test_the_quick_tab_answers_exactly_as_typer_does(words: str, shell: str) -> None:
    """TAB answered without building the command line prints, byte for byte, what typer
    prints; the lines it does not know are left to typer."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    quick = completion.quick_completions(shell, _env(shell, words, cword))
    assert (quick is not None) == (words in QUICK)
    assert _answers(words, shell, QUICK_PATH) == _answers(words, shell, TYPER_PATH)


@pytest.mark.usefixtures("sessions_known")
def test_fish_asks_whether_there_are_values_as_typer_answers() -> None:
    for words in ("sesstail interrupt ", "sesstail interrupt zzz"):
        env = {**_env("fish", words, 0), "_TYPER_COMPLETE_FISH_ACTION": "is-args"}
        quick = subprocess.run([sys.executable, *QUICK_PATH], env=env, timeout=30)
        slow = subprocess.run([sys.executable, *TYPER_PATH], env=env, timeout=30)
        assert quick.returncode == slow.returncode
    assert quick.returncode == 1  # nothing to offer: fish may complete file names
