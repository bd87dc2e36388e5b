from __future__ import annotations

from edge.link import LinkMonitor


def test_breaker_opens_after_consecutive_connection_failures_and_probes() -> None:
    now = [100.0]
    link = LinkMonitor(lambda: now[0], failures_to_open=3, probe_interval=5)
    assert link.permit()
    link.failure("refused")
    link.failure("HTTP 500", connection=False)  # the platform answered: does not count
    link.failure("refused")
    assert link.state.value == "unknown"
    link.success()
    assert link.state.value == "up"
    for _ in range(3):
        link.failure("refused")
    assert link.down
    assert not link.up_again.is_set()
    assert not link.permit()  # every truck now decides offline at once
    assert link.seconds_to_probe() == 5
    now[0] += 5
    assert link.permit()  # one probe…
    assert not link.permit()  # …and only one per interval
    link.failure("refused")
    assert link.down
    now[0] += 5
    assert link.permit()
    link.success()
    assert link.state.value == "up"
    assert link.up_again.is_set()
    assert link.permit()
    assert link.seconds_to_probe() == 0
