"""The status page's password, sessions, CSRF tokens and the account's lock-out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import threading
import time
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.config.model import load_config
from edge.web import auth
from edge.web.auth import (
    BUSY_SECONDS,
    FIRST_DELAY_SECONDS,
    LOCKOUT_SECONDS,
    MAX_FAILURES,
    MAX_USER,
    SESSION_SECONDS,
    Guard,
    Session,
    Wait,
    hash_password,
    verify_password,
    write_password_hash,
)
from tests.helpers import eventually

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
    assert isinstance(session, Session)
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
    assert isinstance(session2, Session)
    guard.logout(guard.token_of(session2))
    assert not guard.sessions


async def test_repeated_failures_make_the_account_wait_longer_each_time() -> None:
    """There is one password, so one account: its failures count whatever user name is typed
    (a guesser changing the name every few tries was never locked out: 392 guesses in 20 s)."""
    now = [0.0]
    guard = Guard(STORED, clock=lambda: now[0])
    for n in range(MAX_FAILURES - 1):
        assert await guard.login(f"guesser{n}", "guess") is None
    assert not guard.locked()
    assert await guard.login("张三", "guess") is None
    assert guard.wait_seconds() == FIRST_DELAY_SECONDS
    assert await guard.login(" 张三 ", "correct horse battery") == Wait(FIRST_DELAY_SECONDS)
    assert await guard.login("李四", "correct horse battery") == Wait(FIRST_DELAY_SECONDS)
    now[0] += FIRST_DELAY_SECONDS
    assert await guard.login("王五", "guess") is None
    assert guard.wait_seconds() == 2 * FIRST_DELAY_SECONDS  # doubled
    for n in range(30):
        now[0] += guard.wait_seconds()
        assert await guard.login(f"name{n}", "guess") is None
    assert guard.wait_seconds() == LOCKOUT_SECONDS  # capped
    now[0] += LOCKOUT_SECONDS
    session = await guard.login("张三", "correct horse battery")  # the delay passed: works
    assert isinstance(session, Session)
    assert session.user == "张三"
    assert not guard.locked()
    assert guard.failures == 0  # a success forgets the failures


async def test_a_browser_that_logged_in_before_is_not_held_by_the_accounts_lock_out() -> None:
    """A per-account lock-out alone let one guesser keep the guards out indefinitely (60 of 60
    tries refused over 90 s). A browser that logged in before (its device cookie) is held by
    its own failures only, on the account's schedule; a cookie the daemon did not give is no
    device. (Fails without: the guard's browser waits with the account.)"""
    now = [0.0]
    guard = Guard(STORED, clock=lambda: now[0])
    first = await guard.login("张三", "correct horse battery")
    assert isinstance(first, Session)
    device = first.device
    assert device
    for n in range(MAX_FAILURES + 3):  # a stranger locks the account out
        now[0] += guard.wait_seconds()
        assert await guard.login(f"guesser{n}", "guess") is None
    assert guard.wait_seconds() == 8 * FIRST_DELAY_SECONDS
    assert await guard.login("张三", "correct horse battery", "forged") == Wait(
        8 * FIRST_DELAY_SECONDS
    )
    again = await guard.login("张三", "correct horse battery", device)  # the guard's browser
    assert isinstance(again, Session)
    assert again.device == device  # the same cookie, still known
    assert guard.wait_seconds() == 8 * FIRST_DELAY_SECONDS  # the stranger still waits
    for _ in range(MAX_FAILURES):  # the browser's own failures hold it, not the account
        assert await guard.login("张三", "typo", device) is None
    assert guard.wait_seconds(device) == FIRST_DELAY_SECONDS
    assert await guard.login("张三", "correct horse battery", device) == Wait(FIRST_DELAY_SECONDS)
    assert guard.failures == MAX_FAILURES + 3  # not counted against the account


async def test_guessing_is_bounded_whatever_names_and_however_many_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bound the module states: a guesser who tries again as soon as it may, under a new
    name each time and many at once, gets at most 8 guesses in 20 s, 16 in an hour, 108 in a
    day. A try while the account waits, or while another check runs, is refused at once
    without running scrypt: concurrent guesses never queue scrypt work."""
    checked: list[float] = []
    now = [0.0]

    def fake_verify(password: str, _stored: str) -> bool:
        checked.append(now[0])
        time.sleep(0.01)
        return password == "correct horse battery"

    monkeypatch.setattr(auth, "verify_password", fake_verify)
    guard = Guard(STORED, clock=lambda: now[0])
    names = itertools.count()
    while now[0] < 86400:
        tries = await asyncio.gather(
            *(guard.login(f"guesser{next(names)}", "guess") for _ in range(32))
        )
        assert tries.count(None) == 1  # one checked, the others refused unchecked
        waits = [t for t in tries if isinstance(t, Wait)]
        assert len(waits) == 31
        now[0] += guard.wait_seconds()
    assert sum(t < 20 for t in checked) == 8
    assert sum(t < 3600 for t in checked) == 16
    assert sum(t < 86400 for t in checked) == 108
    assert isinstance(await guard.login("张三", "correct horse battery"), Session)  # its turn


async def test_the_check_runs_in_a_thread_and_counts_even_when_its_request_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """scrypt runs off the event loop; a try whose request is cancelled mid-check still
    counts, and no other check starts until its thread has ended."""
    threads: list[int] = []
    release = threading.Event()

    def slow_verify(_password: str, _stored: str) -> bool:
        threads.append(threading.get_ident())
        release.wait(5)
        return False

    monkeypatch.setattr(auth, "verify_password", slow_verify)
    guard = Guard(STORED)
    first = asyncio.create_task(guard.login("张三", "guess"))
    await eventually(lambda: bool(threads))
    assert threads[0] != threading.get_ident()
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert await guard.login("李四", "guess") == Wait(BUSY_SECONDS)  # its thread still runs
    release.set()
    await eventually(lambda: guard.failures > 0)
    assert guard.failures == 1
    assert await guard.login("李四", "guess") is None  # checked now
    assert len(threads) == 2


async def test_over_long_names_and_passwords_are_refused_without_hashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth, "verify_password", None)  # never called
    guard = Guard(STORED)
    assert await guard.login("x" * (MAX_USER + 1), "correct horse battery") is None
    assert await guard.login("张三", "y" * 100_000) is None
    assert await guard.login("  ", "correct horse battery") is None
    assert guard.failures == 0  # nothing checked, nothing guessed


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
