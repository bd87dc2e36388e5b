"""``/metrics`` in the Prometheus text format (prometheus_client): what happened — plate
events, verdicts by reason code, the time from plate to barrier command, forwarding errors by
class — counted as it happens, and what is — backlog, send rate, link, clock offset, cameras
and drivers — read from the daemon's health at each scrape. One registry per daemon."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from edge.ops.health import CameraReport, DevicesReport, HealthReport, ReplicaReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0)
#: The event loop's lag (``edge.ops.looplag``): 0.1 is issue 19's bound for a stall.
LOOP_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _HealthCollector(Collector):
    """Gauges from the daemon's ``/healthz`` report, read at each scrape."""

    def __init__(self, health: Callable[[], HealthReport]) -> None:
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self.health()
        outbox = report.outbox
        backlog = GaugeMetricFamily(
            "edge_outbox_entries", "Outbox entries by state", labels=["state"]
        )
        for state in ("pending", "held", "dead"):
            backlog.add_metric([state], getattr(outbox, state))
        yield backlog
        age = outbox.oldest_unsent_age_seconds
        yield GaugeMetricFamily(
            "edge_outbox_oldest_unsent_age_seconds",
            "Age of the oldest entry not yet sent",
            value=age if age is not None else 0.0,
        )
        filings = GaugeMetricFamily(
            "edge_filing_outbox_entries",
            "Filings of the electronic ledger by state (pending: waiting; dead: refused)",
            labels=["state"],
        )
        for state in ("pending", "dead"):
            filings.add_metric([state], getattr(outbox.filings, state))
        yield filings
        filing_age = outbox.filings.oldest_unsent_age_seconds
        yield GaugeMetricFamily(
            "edge_filing_outbox_oldest_unsent_age_seconds",
            "Age of the oldest filing not yet sent",
            value=filing_age if filing_age is not None else 0.0,
        )
        yield GaugeMetricFamily(
            "edge_sent_per_minute", "Entries the platform acknowledged in the last minute",
            value=outbox.sent_per_minute,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "edge_platform_link_up", "1 while the platform link is up", value=report.link == "up"
        )
        reason = GaugeMetricFamily(
            "edge_platform_link_down_reason",
            "1 for the reason the platform link is down (none while it is up)",
            labels=["reason"],
        )
        if report.link == "down" and report.link_reason:
            reason.add_metric([report.link_reason], 1)
        yield reason
        ledger = report.ledger
        if ledger is not None:
            yield GaugeMetricFamily(
                "edge_ledger_writable",
                "1 while the ledger can be written (0: passes are not being recorded)",
                value=ledger.writable,
            )
        offset = report.clock_offset_seconds
        if offset is not None:
            yield GaugeMetricFamily(
                "edge_platform_clock_offset_seconds", "Platform clock minus ours", value=offset
            )
        yield from self._cameras(report.cameras)
        yield from self._devices(report.devices)
        if report.replica is not None:
            yield from self._replica(report.replica)

    @staticmethod
    def _replica(replica: ReplicaReport) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "edge_replica_lag_seconds",
            "Seconds the ledger's replica may be behind (since its last confirmed sync)",
            value=replica.lag_seconds,
        )
        yield GaugeMetricFamily(
            "edge_replica_last_sync_timestamp_seconds",
            "Unix time of the last sync the replica confirmed (0: none yet)",
            value=replica.last_sync_at or 0.0,
        )
        yield GaugeMetricFamily(
            "edge_replica_errors", "Replica syncs not confirmed", value=replica.errors
        )
        yield GaugeMetricFamily(
            "edge_replica_alarm", "1 while the replica lags past its bound", value=replica.alarm
        )
        if replica.photos_lag_seconds is not None:
            yield GaugeMetricFamily(
                "edge_replica_photos_lag_seconds",
                "Seconds since the last photo round the replica took whole",
                value=replica.photos_lag_seconds,
            )
            yield GaugeMetricFamily(
                "edge_replica_photos_errors", "Photo rounds that failed",
                value=replica.photos_errors,
            )  # fmt: skip

    @staticmethod
    def _cameras(cameras: Mapping[str, CameraReport]) -> Iterator[GaugeMetricFamily]:
        connected = GaugeMetricFamily(
            "edge_camera_connected", "1 when connected (cameras we connect to)", labels=["lane"]
        )
        reconnects = GaugeMetricFamily(
            "edge_camera_reconnects", "Camera reconnections", labels=["lane"]
        )
        rejected = GaugeMetricFamily(
            "edge_camera_rejected", "Malformed or refused camera messages", labels=["lane"]
        )
        for lane, camera in cameras.items():
            if camera.connected is not None:
                connected.add_metric([lane], camera.connected)
            reconnects.add_metric([lane], camera.reconnects)
            rejected.add_metric([lane], camera.rejected)
        yield from (connected, reconnects, rejected)

    @staticmethod
    def _devices(devices: Mapping[str, DevicesReport]) -> Iterator[GaugeMetricFamily]:
        connected = GaugeMetricFamily(
            "edge_driver_connected", "1 when the device is reachable", labels=["lane", "part"]
        )
        reconnects = GaugeMetricFamily(
            "edge_driver_reconnects", "Device reconnections", labels=["lane", "part"]
        )
        failures = GaugeMetricFamily(
            "edge_driver_failures", "Device commands that failed", labels=["lane", "part"]
        )
        for lane, parts in devices.items():
            for part, health in parts.parts().items():
                connected.add_metric([lane, part], health.connected)
                reconnects.add_metric([lane, part], health.reconnects)
                failures.add_metric([lane, part], health.failures)
        yield from (connected, reconnects, failures)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "edge_plate_events", "Plate events taken by a lane", ["lane", "source"],
            registry=self.registry,
        )  # fmt: skip
        self.verdicts = Counter(
            "edge_verdicts", "Passes by verdict and reason code", ["lane", "verdict", "code"],
            registry=self.registry,
        )  # fmt: skip
        self.decision_seconds = Histogram(
            "edge_decision_seconds", "From plate received to barrier command", ["lane"],
            buckets=DECISION_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.plate_reads = Counter(
            "edge_plate_reads", "Camera reads by what they are as plates (ok, unusual: fits no "
            "known pattern, no-plate, unreadable: not a plate) and duplicates merged",
            ["lane", "kind"], registry=self.registry,
        )  # fmt: skip
        self.forward_errors = Counter(
            "edge_forward_errors", "Failed sends to the platform, by error class", ["error"],
            registry=self.registry,
        )  # fmt: skip

        self.loop_lag = Histogram(
            "edge_loop_lag_seconds", "How late the event loop ran the lag probe's timer",
            buckets=LOOP_LAG_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.loop_lag_max = Gauge(
            "edge_loop_lag_max_seconds", "The event loop's worst lag since the start",
            registry=self.registry,
        )  # fmt: skip
        self._loop_lag_max = 0.0

    def observe_loop_lag(self, lag: float) -> None:
        self.loop_lag.observe(lag)
        if lag > self._loop_lag_max:
            self._loop_lag_max = lag
            self.loop_lag_max.set(lag)

    def watch(self, health: Callable[[], HealthReport]) -> None:
        self.registry.register(_HealthCollector(health))

    def render(self) -> bytes:
        return generate_latest(self.registry)
