"""The status page's password, sessions, CSRF tokens and lock-out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.config.model import load_config
from edge.web.auth import (
    FIRST_DELAY_SECONDS,
    LOCKOUT_SECONDS,
    MAX_FAILURES,
    MAX_USER,
    SESSION_SECONDS,
    Guard,
    hash_password,
    verify_password,
    write_password_hash,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
STORED = hash_password("correct horse battery")


def test_hashes_are_salted_and_verified() -> None:
    assert STORED.startswith("scrypt$16384$8$1$")
    assert hash_password("correct horse battery") != STORED  # a new salt each time
    assert verify_password("correct horse battery", STORED)
    assert not verify_password("wrong", STORED)
    assert not verify_password("x", "md5$abc")
    assert not verify_password("x", "not a hash")


async def test_sessions_need_their_csrf_token_and_expire() -> None:
    now = [1000.0]
    guard = Guard(STORED, clock=lambda: now[0])
    session = await guard.login("张三", "correct horse battery")
    assert session is not None
    token = guard.token_of(session)
    assert guard.check(token, session.csrf) is session
    assert guard.check(token, "forged") is None
    assert guard.check(token, None) is None
    assert guard.check(token, "中文") is None  # non-ASCII: refused, no TypeError
    assert guard.check(token, "\udcff\udcfe") is None  # undecodable bytes, as aiohttp gives them
    assert guard.check("stolen?", session.csrf) is None
    now[0] += SESSION_SECONDS + 1
    assert guard.check(token, session.csrf) is None  # expired
    session2 = await guard.login("张三", "correct horse battery")
    assert session2 is not None
    guard.logout(guard.token_of(session2))
    assert not guard.sessions


async def test_repeated_failures_make_the_account_wait_longer_each_time() -> None:
    now = [0.0]
    guard = Guard(STORED, clock=lambda: now[0])
    for _ in range(MAX_FAILURES - 1):
        assert await guard.login("张三", "guess") is None
    assert not guard.locked("张三")
    assert await guard.login("张三", "guess") is None
    assert guard.wait_seconds("张三") == FIRST_DELAY_SECONDS
    assert await guard.login(" 张三 ", "correct horse battery") is None  # even the right one
    assert await guard.login("李四", "correct horse battery") is not None  # others may
    now[0] += FIRST_DELAY_SECONDS
    assert await guard.login("张三", "guess") is None
    assert guard.wait_seconds("张三") == 2 * FIRST_DELAY_SECONDS  # doubled
    for _ in range(30):
        now[0] += guard.wait_seconds("张三")
        assert await guard.login("张三", "guess") is None
    assert guard.wait_seconds("张三") == LOCKOUT_SECONDS  # capped
    now[0] += LOCKOUT_SECONDS
    assert await guard.login("张三", "correct horse battery") is not None
    assert not guard.locked("张三")  # a success forgets the failures


async def test_over_long_names_and_passwords_are_refused_without_hashing() -> None:
    guard = Guard(STORED)
    assert await guard.login("x" * (MAX_USER + 1), "correct horse battery") is None
    assert await guard.login("张三", "y" * 100_000) is None


async def test_without_a_password_nothing_can_be_done() -> None:
    guard = Guard(None)
    assert not guard.enabled
    assert await guard.login("张三", "") is None


@pytest.mark.parametrize("start", ["example", "no-web"])
def test_the_hash_goes_into_the_config_keeping_the_rest(tmp_path: Path, start: str) -> None:
    text = EXAMPLE.read_text("utf-8")
    if start == "no-web":  # a config without a [web] section
        text = re.sub(r"(?ms)^\[web\]\n.*?(?=^\[)", "", text)
        assert not re.search(r"(?m)^\[web\]", text)  # (comments may name it)
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    write_password_hash(path, STORED)
    write_password_hash(path, STORED)  # again: replaced, not added twice
    written = path.read_text("utf-8")
    assert written.count("password_hash =") == 1
    assert "# Camera / 相机" in written  # comments kept
    assert load_config(path).web.password_hash == STORED


def test_set_password_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    answers = iter(
        [
            "long enough secret",
            "long enough secret",
            "short",
            "long enough secret",
            "different one here",
        ]
    )
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": next(answers))
    assert main(["set-password", "--config", str(path)]) == 0
    stored = load_config(path).web.password_hash
    assert stored is not None
    assert verify_password("long enough secret", stored)
    assert "long enough secret" not in path.read_text("utf-8")
    assert main(["set-password", "--config", str(path)]) == 2  # too short
    assert main(["set-password", "--config", str(path)]) == 2  # the two entries differ
    assert "differ" in capsys.readouterr().err
    for stop in (EOFError, KeyboardInterrupt):  # Ctrl-D, no terminal (< /dev/null); Ctrl-C

        def stopped(_prompt: str = "", stop: type[BaseException] = stop) -> str:
            raise stop

        monkeypatch.setattr("getpass.getpass", stopped)
        assert main(["set-password", "--config", str(path)]) == 2  # no traceback
        assert "no password set (none typed)" in capsys.readouterr().err
    assert verify_password("long enough secret", load_config(path).web.password_hash or "")
