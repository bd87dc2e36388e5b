from __future__ import annotations

from structlog.testing import capture_logs

from edge.uplink.breaker import LinkFailure, LinkMonitor, classify
from edge.uplink.platform.errors import (
    InvalidMessageError,
    InvalidReplyError,
    PermanentError,
    PlatformAuthError,
    PlatformServerError,
    PlatformUnavailableError,
)

REFUSED = LinkFailure.NO_CONNECTION


def test_breaker_opens_after_consecutive_connection_failures_and_probes() -> None:
    now = [100.0]
    link = LinkMonitor(lambda: now[0], failures_to_open=3, probe_interval=5)
    assert link.permit()
    link.failure("refused", REFUSED)
    link.failure("HTTP 500", LinkFailure.SERVER_ERROR)  # answered at once: does not count
    link.failure("refused", REFUSED)
    assert link.state.value == "down"  # the state says so at once…
    assert not link.down  # …the breaker only after three failures that make callers wait
    link.success()
    assert link.state.value == "up"
    for _ in range(3):
        link.failure("refused", REFUSED)
    assert link.down
    assert not link.up_again.is_set()
    assert not link.permit()  # every truck now decides offline at once
    assert link.seconds_to_probe() == 5
    now[0] += 5
    assert link.permit()  # one probe…
    assert not link.permit()  # …and only one per interval
    link.failure("refused", REFUSED)
    assert link.down
    now[0] += 1
    link.success()  # any success closes it at once, probe or not
    assert link.state.value == "up"
    assert link.up_again.is_set()
    assert link.permit()
    assert link.seconds_to_probe() == 0


def test_each_failure_kind_is_logged_once_with_the_platforms_words_and_once_when_cleared() -> None:
    now = [0.0]
    link = LinkMonitor(lambda: now[0])
    with capture_logs() as logs:
        for _ in range(5):
            link.failure("GetAuthorizationOrg refused: 用户名或密码错误", LinkFailure.AUTH_REFUSED)
        link.failure("reply is not JSON: '<html>'", LinkFailure.UNREADABLE_REPLY)
        assert link.to_json() | {"since": 0} == {
            "state": "down",
            "reason": "unreadable-reply",
            "error": "reply is not JSON: '<html>'",
            "breaker_open": False,
            "since": 0,
        }
        now[0] = 30
        link.success()
        link.success()
    failing = [e for e in logs if e["event"] == "platform call failing"]
    cleared = [e for e in logs if e["event"] == "platform failure cleared"]
    assert [e["reason"] for e in failing] == ["auth-refused", "unreadable-reply"]
    assert "用户名或密码错误" in failing[0]["error"]
    assert [(e["reason"], e["lasted_seconds"]) for e in cleared] == [
        ("auth-refused", 30),
        ("unreadable-reply", 30),
    ]
    assert link.to_json()["reason"] is None


def test_classify() -> None:
    assert classify(PlatformAuthError("x")) is LinkFailure.AUTH_REFUSED
    assert classify(InvalidReplyError("x")) is LinkFailure.UNREADABLE_REPLY
    assert classify(PlatformServerError("502", "bad gateway")) is LinkFailure.SERVER_ERROR
    assert classify(PlatformUnavailableError("x", timeout=True)) is LinkFailure.TIMEOUT
    assert classify(PlatformUnavailableError("x")) is LinkFailure.NO_CONNECTION
    assert classify(PermanentError("952", "格式")) is None  # the platform answered
    assert classify(InvalidMessageError("ours")) is None
