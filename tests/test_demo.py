"""The demo's stream of trucks (``edge demo``) never runs out of plates, however long it runs;
with ``--scale`` trucks are weighed in and out and their goods records reach the platform."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest

from edge.config.model import parse_config
from edge.domain.goods import tonnes
from edge.domain.plates import PlateColor
from edge.sim import DEMO_SCALES
from edge.sim.demo import _INDICATORS, _PLATES, Demo, demo_config_text
from edge.web.auth import hash_password


def test_a_long_demo_never_runs_out_of_plates() -> None:
    demo = Demo("generic", seed=7)  # the default seed: it ran dry after ~45 trucks
    shutil.rmtree(demo.workdir)  # made by the constructor; nothing is started here
    arrivals = departures = 0
    for _ in range(5_000):
        inside_before = list(demo.inside)
        leaving, plate = demo.next_vehicle()
        if leaving is not None:
            assert leaving in inside_before
            departures += 1
        else:
            arrivals += 1
            if plate is not None:  # every truck is let in, the worst case for fresh plates
                assert plate not in inside_before
                demo.inside.append(plate)
        assert len(demo.inside) <= len(_PLATES)
    assert arrivals > 1_000
    assert departures > 1_000


@pytest.mark.parametrize("platform", ["city", "province"])
def test_the_demo_listens_on_free_ports_only(platform: str) -> None:
    """Two demos (or two test suites) side by side: the province demo's photo listener took
    the fixed 8089 and the second one failed with "address already in use"."""
    text = demo_config_text(
        "http://127.0.0.1:1/",
        "generic",
        platform,  # type: ignore[arg-type]
        password_hash=hash_password("demo"),
    )
    cfg = parse_config(text)
    assert (cfg.web.port, cfg.photo_web.port) == (0, 0)


async def test_the_demo_with_a_scale_weighs_trucks_in_and_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``edge demo --scale``: the scale simulator on a pty, a truck let in weighs in, a truck
    leaving weighs out, and the platform simulator gets the goods record of each completed
    weighing (石灰石, the net in tonnes) after the exit's pass record."""
    demo = await Demo.started("generic", seed=7, scale="toledo")
    try:
        for _ in range(12):  # truck 1 each time: the platform stays up
            await demo.truck(1)
            if demo.goods_received() >= 1 and demo.inside:
                break
        completed = [w for w in await demo.daemon.store.recent_weighings(100) if w.ysl]
    finally:
        await demo.finish()
    out = capsys.readouterr().out
    assert "过磅 weighed in: 一次过磅" in out
    assert "过磅 weighed out: 毛重" in out
    assert completed
    sent = {serial: records[0] for serial, records in demo.platform.goods.items()}
    for w in completed:
        assert w.second_serial is not None
        record = sent[w.second_serial]  # tied to the exit's pass
        assert (record["hwmc"], record["ysl"]) == ("石灰石", tonnes(w.net_kg or 0))
        assert w.second_serial in demo.platform.records
    assert f"platform received: {len(sent)} goods records" in out


@pytest.mark.parametrize("protocol", ["toledo", "yaohua", "yaohua-a12", "command"])
async def test_the_scale_narration_tells_each_weighing_once_in_order(
    capsys: pytest.CaptureFixture[str], protocol: str
) -> None:
    """Two trucks weigh in, then the first weighs out (its first weighing, older than the
    second truck's, is the one completed): the narration says each event once, in order — it
    read the newest row, and so repeated the second truck's weighing-in and missed the
    first's weighing-out. The weighing-out says gross and tare in kg and the net in tonnes
    as the goods record rounds them (``tonnes_text``: 16.38 t is 16.4 t). Each protocol the
    demo's scale can speak (``edge demo --scale PROTOCOL``) weighs alike."""
    first, second = _PLATES[0], _PLATES[1]
    demo = await Demo.started("generic", seed=7, scale=DEMO_SCALES[protocol])
    try:
        for plate in (first, second):
            await demo.entrance.push(plate, PlateColor.YELLOW)
            await demo._weigh(Decimal(30000))
        await demo.exit.push(first, PlateColor.YELLOW)
        await demo._weigh(Decimal(13620))
    finally:
        await demo.finish()
    out = capsys.readouterr().out
    assert f"地磅 truck scale: a {_INDICATORS[DEMO_SCALES[protocol]]} indicator" in out
    told = [line for line in out.splitlines() if "过磅 weighed" in line]
    weighed_out = f"{first} 过磅 weighed out: 毛重 30000 kg 皮重 13620 kg 净重 16.4 t 货物 石灰石"
    assert weighed_out in told[2]
    assert [line.split(" 过磅 ")[0].removeprefix(">>> ") for line in told] == [
        first, second, first,
    ]  # fmt: skip
    assert ["weighed in" in told[0], "weighed in" in told[1], "weighed out" in told[2]] == [
        True, True, True,
    ]  # fmt: skip


async def test_the_demo_keeps_weighing_when_a_camera_re_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``edge demo --scale command`` (the default camera, seed 7): the camera refines some
    reads after the pass is confirmed (豫G90872 then 豫G90878: two passes). Each such pair
    used to leave a read pending that held every later weighing as 待确认车牌; the re-read
    rule supersedes the first read, so held weighings stay few and most trucks let in and
    out get their goods record."""
    demo = await Demo.started("vzenith", seed=7, scale="command")
    try:
        for n in range(1, 31):
            await demo.truck(n)
        weighings = await demo.daemon.store.recent_weighings(1000)
    finally:
        await demo.finish()
    out = capsys.readouterr().out
    assert "进厂 entry (re-read): 相机抬杆 open" in out  # the stray read happened
    held = [w for w in weighings if w.held]
    assert len(weighings) >= 12
    assert len(held) <= len(weighings) // 10, [w.candidate_reads for w in held]
    completed = [w for w in weighings if w.ysl]
    assert len(completed) >= 6
