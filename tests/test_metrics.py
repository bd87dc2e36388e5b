"""/metrics in the Prometheus text format, parsed back with prometheus_client's own parser."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from edge.sim.platform import CityPlatformSim
from tests.helpers import camera, config_for, eventually, running_daemon, wait_records


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_events_verdicts_latency_and_show_state(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        cam = camera(daemon)
        await cam.push("豫A12345")
        await cam.push("豫B6789G")
        await cam.aclose()
        await wait_records(platform_sim, 2, photos=2)
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"http://127.0.0.1:{daemon.web.port}/metrics")
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(reply.text)
    lane = (("lane", "in-1"),)
    assert got[("edge_plate_events_total", (*lane, ("source", "generic-push")))] == 2
    assert (
        got[
            ("edge_verdicts_total", (("code", "platform-controlled"), *lane, ("verdict", "refuse")))
        ]
        == 1
    )
    assert got[("edge_decision_seconds_count", lane)] == 2
    assert got[("edge_decision_seconds_bucket", (*lane, ("le", "+Inf")))] == 2
    assert got[("edge_platform_link_up", ())] == 1
    assert got[("edge_driver_connected", (*lane, ("part", "barrier")))] == 1
    assert ("edge_outbox_entries", (("state", "dead"),)) in got
    assert ("edge_camera_rejected", lane) in got


async def test_forwarding_errors_are_counted_by_class(
    tmp_path: Path, platform_sim: CityPlatformSim
) -> None:
    async with running_daemon(config_for(tmp_path, platform_sim)) as daemon:
        await platform_sim.stop()
        cam = camera(daemon)
        await cam.push("豫A12345")
        await cam.aclose()
        await daemon.lanes["in-1"].drain()
        await eventually(lambda: b"edge_forward_errors_total{" in daemon.metrics.render())
        await platform_sim.start()
        await wait_records(platform_sim, 1, photos=1)
        text = daemon.metrics.render().decode()
    errors = {
        labels: value
        for (name, labels), value in samples(text).items()
        if name == "edge_forward_errors_total"
    }
    assert sum(errors.values()) >= 1
    assert all(dict(labels)["error"].endswith("Error") for labels in errors)
