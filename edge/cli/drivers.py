"""``edge drivers test``: a technician checks a lane's wiring on site, without the platform
and without the daemon running (stop the service first: a serial port has one owner).

    edge drivers test --config /etc/edge-gate/config.toml --lane in-1 barrier-open
    edge drivers test --config … --lane in-1 led "测试|第二行"
    edge drivers test --config … --lane in-1 watch-detector --seconds 60
    edge drivers test --config … --lane in-1 barrier-state
    edge drivers test --config … --lane in-1 watch-scale --seconds 60

Each prints what it did and the driver's health; the exit status is 0 when the device took
the command, 1 when it did not, 2 when this lane's device cannot be tested from here.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from drivers.base import Actuation, ArmStateBarrier, DisplayLine, DriverError, DriverHealth
from drivers.presence import Change
from drivers.scale import NET_DISPLAY, NET_DISPLAY_SAID, ScaleIndicator, WeightSample
from edge.config.model import Config
from edge.domain.weighing import StableDetector
from edge.gate.devices import DeviceBuilder, LaneDevices

Out = Callable[[str], None]
LINK_WAIT_SECONDS = 3.0
EXIT_FAILED, EXIT_UNTESTABLE = 1, 2


def _health(name: str, health: DriverHealth) -> str:
    state = "已连接 connected" if health.connected else "未连接 NOT connected"
    error = f", last error: {health.last_error}" if health.last_error else ""
    return f"{name}: {state}, reconnects {health.reconnects}{error}"


async def _barrier_open(devices: LaneDevices, lane: str, out: Out) -> int:
    if devices.barrier.via_camera_reply():
        out("this lane's barrier opens through the camera's reply to a plate push; test it by")
        out("driving up to the camera (or with the camera's own web page) / 请用相机页面测试")
        return EXIT_UNTESTABLE
    await devices.barrier.open(Actuation(lane, None))
    out("抬杆命令已发出 barrier OPEN sent")
    return 0


async def _barrier_state(devices: LaneDevices, out: Out) -> int:
    barrier = devices.barrier
    if not isinstance(barrier, ArmStateBarrier):
        out("this barrier does not report its arm's state")
        return EXIT_UNTESTABLE
    state = await barrier.state()
    if state is None:
        out("no arm state: no limit switch input configured (barrier.open_input) or signal")
        return EXIT_UNTESTABLE
    out(f"道闸状态 barrier arm: {'抬起 open' if state == 'open' else '落下 closed'}")
    return 0


async def _led(devices: LaneDevices, lane: str, text: str, out: Out) -> int:
    display = devices.display
    if display is None:
        out("this lane has no LED display configured")
        return EXIT_UNTESTABLE
    if display.via_camera_reply():
        out("this LED is written through the camera's push reply; it shows at the next plate")
        return EXIT_UNTESTABLE
    lines = [DisplayLine(part) for part in text.split("|")]
    await display.show(lines, Actuation(lane, None))
    out(f"LED 已发送 sent: {' | '.join(line.text for line in lines)}")
    return 0


async def _watch(devices: LaneDevices, seconds: float, out: Out) -> int:
    detector = devices.detector
    if detector is None:
        out("this lane has no vehicle detector configured")
        return EXIT_UNTESTABLE
    started = time.monotonic()

    def show(change: Change) -> None:
        at = change.at - started
        out(f"{at:7.2f} s  {'有车 vehicle present' if change.present else '无车 vehicle gone'}")

    detector.presence.on_change(show)
    out(f"watching the loop for {seconds:g} s (Ctrl-C to stop) / 观察地感 …")
    out(f"   now   {'有车 vehicle present' if detector.presence.present else '无车 no vehicle'}")
    await asyncio.sleep(seconds)
    return 0


async def run_drivers_test(cfg: Config, args: argparse.Namespace, out: Out = print) -> int:
    if args.action == "watch-scale":
        return await watch_scale(cfg, args.lane, args.seconds, out)
    builder = DeviceBuilder(cfg)
    devices = builder.lane(cfg.lane(args.lane))
    devices.start()
    try:
        for link in devices.links:
            await link.wait_connected(LINK_WAIT_SECONDS)
        try:
            if args.action == "barrier-open":
                code = await _barrier_open(devices, args.lane, out)
            elif args.action == "barrier-state":
                code = await _barrier_state(devices, out)
            elif args.action == "led":
                code = await _led(devices, args.lane, args.text, out)
            else:
                code = await _watch(devices, args.seconds, out)
        except DriverError as exc:
            out(f"失败 FAILED: {exc}")
            code = EXIT_FAILED
        for name, part in (("barrier", devices.barrier), ("LED", devices.display)):
            if part is not None and part.via_camera_reply():  # no link of its own to report
                out(f"{name}: 经相机回复 through the camera's push reply (no link of its own)")
            elif part is not None:
                out(_health(name, part.health))
        if devices.detector is not None:
            out(_health("detector", devices.detector.health))
        return code
    finally:
        await devices.aclose()
        builder.close()


async def watch_scale(cfg: Config, lane: str, seconds: float, out: Out) -> int:
    """Print the live weight of the scale(s) this lane reads plates for, as it changes, and
    each stable weight as the daemon would take it."""
    scales = {name: sc for name, sc in cfg.scales.items() if lane in sc.lanes}
    if not scales:
        out("this lane has no scale ([scales.<name>] with lanes = [...] naming it)")
        return EXIT_UNTESTABLE
    started = time.monotonic()
    indicators: list[tuple[str, ScaleIndicator]] = []
    for name, sc in scales.items():
        indicator = sc.build(name)
        detector = StableDetector(sc.stable_rule())
        last: list[tuple[Decimal | None, bool | None]] = [(Decimal(-1), None)]

        def show(
            sample: WeightSample,
            name: str = name,
            detector: StableDetector = detector,
            last: list[tuple[Decimal | None, bool | None]] = last,
        ) -> None:
            at = sample.at - started
            if (sample.kg, sample.stable) != last[0]:  # a weight, or its motion, changed
                last[0] = (sample.kg, sample.stable)
                motion = {True: " 稳定 steady", False: " 动态 moving", None: ""}[sample.stable]
                shown = f"{sample.kg} kg" if sample.kg is not None else f"故障 {sample.fault}"
                if sample.fault == NET_DISPLAY:
                    shown = f"{NET_DISPLAY_SAID} ({sample.fault})"
                out(f"{at:7.2f} s  {name}: {shown}{motion}")
            stable = detector.feed(sample.kg, sample.at, moving=sample.stable is False)
            if stable is not None:
                refusal = detector.rule.refusal(stable.kg)
                taken = "" if refusal is None else f"，拒绝 refused: {refusal.reason}"
                out(f"{at:7.2f} s  {name}: 稳定重量 stable weight {stable.kg} kg{taken}")

        indicator.on_sample(show)
        indicator.start()
        indicators.append((name, indicator))
    out(f"watching the scale for {seconds:g} s (Ctrl-C to stop) / 观察地磅重量 …")
    try:
        await _watch_links(indicators, started, seconds, out)
    finally:
        for name, indicator in indicators:
            out(_health(f"scale {name}", indicator.health))
            await indicator.aclose()
    return 0 if all(indicator.frames for _, indicator in indicators) else EXIT_FAILED


#: How often ``watch-scale`` looks whether an indicator's port went or came back (s).
LINK_LOOK_SECONDS = 0.25


async def _watch_links(
    indicators: list[tuple[str, ScaleIndicator]], started: float, seconds: float, out: Out
) -> None:
    """For ``seconds``: say once when an indicator's port is lost and once when it is back
    (a technician unplugging the USB adapter sees both)."""
    up: dict[str, bool | None] = {name: None for name, _indicator in indicators}
    deadline = started + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(LINK_LOOK_SECONDS, left))
        for name, indicator in indicators:
            now = indicator.health.connected
            opening = up[name] is None and time.monotonic() - started < LINK_WAIT_SECONDS
            if now == up[name] or (opening and not now):
                continue  # no change, or still opening the port
            if up[name] is None and now:  # its first connect is no news
                up[name] = now
                continue
            up[name] = now
            said = "端口恢复 port back" if now else "端口断开 port lost"
            error = "" if now else f" ({indicator.health.last_error or 'no answer'})"
            out(f"{time.monotonic() - started:7.2f} s  {name}: {said}{error}")
