from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from edge.domain.codes import GateSignal
from edge.ledger.store import Store
from edge.uplink.backlog import BacklogMonitor, SendRate
from edge.uplink.breaker import LinkFailure, LinkMonitor
from tests.test_store import PHOTO, new_pass


async def test_backlog_figures_and_the_falling_behind_alarm(tmp_path: Path) -> None:
    now = [1000.0]
    store = await Store.open(tmp_path / "edge.db", clock=lambda: now[0])
    link = LinkMonitor(lambda: now[0], failures_to_open=1)
    rate = SendRate(lambda: now[0])
    monitor = BacklogMonitor(store, link, rate, alarm_age_seconds=300, clock=lambda: now[0])
    try:
        empty = await monitor.check()
        assert (empty.pending, empty.oldest_unsent_age_seconds, empty.alarm) == (0, None, False)
        recorded = await store.record_pass(new_pass(), [PHOTO])
        await store.finalise(recorded.id, GateSignal.PASSED, now[0], "barrier")
        record = await store.due_entries(10)
        now[0] += 200
        snapshot = await monitor.check()
        assert (snapshot.pending, snapshot.oldest_unsent_age_seconds) == (2, 200.0)
        now[0] += 200  # 400 s old while the link is down: an outage, not an alarm
        link.failure("refused", LinkFailure.NO_CONNECTION)
        assert not (await monitor.check()).alarm
        link.success()
        with capture_logs() as logs:
            assert (await monitor.check()).alarm
            assert (await monitor.check()).alarm  # logged once, not at every check
            await store.mark_sent(record[0].id)
            await store.mark_dead((await store.due_entries(10))[0].id, "952")
            rate.sent(1)
            cleared = await monitor.check()
        assert [e["event"] for e in logs] == [
            "forwarding is falling behind",
            "forwarding has caught up",
        ]
        assert (cleared.pending, cleared.dead, cleared.alarm) == (0, 1, False)
        assert cleared.sent_per_minute == 1
        assert cleared.link == "up"
        now[0] += 61
        assert rate.per_minute() == 0
    finally:
        await store.close()
