"""The status page's password, sessions, CSRF tokens and lock-out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.auth import (
    LOCKOUT_SECONDS,
    MAX_FAILURES,
    SESSION_SECONDS,
    Guard,
    hash_password,
    verify_password,
    write_password_hash,
)
from edge.cli import main
from edge.config import load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
STORED = hash_password("correct horse battery")


def test_hashes_are_salted_and_verified() -> None:
    assert STORED.startswith("scrypt$16384$8$1$")
    assert hash_password("correct horse battery") != STORED  # a new salt each time
    assert verify_password("correct horse battery", STORED)
    assert not verify_password("wrong", STORED)
    assert not verify_password("x", "md5$abc")
    assert not verify_password("x", "not a hash")


def test_sessions_need_their_csrf_token_and_expire() -> None:
    now = [1000.0]
    guard = Guard(STORED, clock=lambda: now[0])
    session = guard.login("张三", "correct horse battery", "10.0.0.7")
    assert session is not None
    token = guard.token_of(session)
    assert guard.check(token, session.csrf) is session
    assert guard.check(token, "forged") is None
    assert guard.check(token, None) is None
    assert guard.check("stolen?", session.csrf) is None
    now[0] += SESSION_SECONDS + 1
    assert guard.check(token, session.csrf) is None  # expired
    session2 = guard.login("张三", "correct horse battery", "10.0.0.7")
    assert session2 is not None
    guard.logout(guard.token_of(session2))
    assert not guard.sessions


def test_repeated_failures_lock_the_address_out() -> None:
    now = [0.0]
    guard = Guard(STORED, clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        assert guard.login("张三", "guess", "10.0.0.9") is None
    assert guard.locked("10.0.0.9")
    assert guard.login("张三", "correct horse battery", "10.0.0.9") is None  # even the right one
    assert guard.login("张三", "correct horse battery", "10.0.0.8") is not None  # others may
    now[0] += LOCKOUT_SECONDS + 1
    assert guard.login("张三", "correct horse battery", "10.0.0.9") is not None


def test_without_a_password_nothing_can_be_done() -> None:
    guard = Guard(None)
    assert not guard.enabled
    assert guard.login("张三", "", "127.0.0.1") is None


@pytest.mark.parametrize("start", ["example", "no-web"])
def test_the_hash_goes_into_the_config_keeping_the_rest(tmp_path: Path, start: str) -> None:
    text = EXAMPLE.read_text("utf-8")
    if start == "no-web":  # a config without a [web] section
        text = re.sub(r"(?ms)^\[web\]\n.*?(?=^\[)", "", text)
        assert "[web]" not in text
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
