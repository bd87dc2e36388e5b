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


async def test_filings_count_in_the_backlog_the_alarm_healthz_and_metrics(tmp_path: Path) -> None:
    """The outbox of filings is not invisible: /healthz's ``outbox.filings`` (pending, dead,
    the oldest waiting one's age), /metrics' series, and the falling-behind alarm count it."""
    from edge.domain.filing import parse_entry
    from edge.ops.health import HealthReport, StorageReport
    from edge.ops.metrics import Metrics
    from tests.test_filing import TRUCK
    from tests.test_metrics import samples

    now = [1000.0]
    store = await Store.open(tmp_path / "edge.db", clock=lambda: now[0])
    link = LinkMonitor(lambda: now[0], failures_to_open=1)
    monitor = BacklogMonitor(store, link, SendRate(lambda: now[0]), alarm_age_seconds=300,
                             clock=lambda: now[0])  # fmt: skip
    try:
        await store.add_entry(parse_entry("vehicle", TRUCK), "clerk", file_to="city")
        dead = await store.add_entry(
            parse_entry("vehicle", {**TRUCK, "plate": "豫A99999", "vin": "LZZAELJD5KA654321"}),
            "clerk", file_to="province",
        )  # fmt: skip
        (row,) = await store.filing_outbox_of(dead)
        await store.filing_answered(row.id, "VehElecAccountAdd", accepted=False, answer="拒绝")
        now[0] += 400  # no pass waits; a filing has for 400 s while the link is up
        with capture_logs() as logs:
            snapshot = await monitor.check()
        assert (snapshot.pending, snapshot.oldest_unsent_age_seconds) == (0, None)
        assert snapshot.alarm
        assert logs[0]["event"] == "forwarding is falling behind"
        assert logs[0]["filings_pending"] == 1
        body = snapshot.to_json()
        assert body["filings"] == {"pending": 1, "dead": 1, "oldest_unsent_age_seconds": 400.0}
        report = HealthReport(
            ok=True, components={}, link="up", link_reason=None, link_error=None,
            clock_offset_seconds=None, outbox=snapshot, cameras={}, devices={},
            storage=StorageReport(True, None, 0.0, None, None), ledger=None,
        )  # fmt: skip
        assert report.to_json()["outbox"]["filings"]["dead"] == 1
        metrics = Metrics()
        metrics.watch(lambda: report)
        got = samples(metrics.render().decode())
        assert got[("edge_filing_outbox_entries", (("state", "pending"),))] == 1
        assert got[("edge_filing_outbox_entries", (("state", "dead"),))] == 1
        assert got[("edge_filing_outbox_oldest_unsent_age_seconds", ())] == 400
    finally:
        await store.close()
