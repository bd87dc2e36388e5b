"""The weighing-indicator driver over a real serial link (a pty) against the scale simulator:
every protocol with a scripted truck, noise and split frames, command-mode polling, and a port
unplugged mid-stream that comes back (issue 16)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.scale import NET_DISPLAY, Polling, ScaleIndicator, WeightSample
from drivers.serial_link import Framing, SerialLink, parse_framing
from drivers.weighing import (
    A12Parser,
    CommandReplyParser,
    FrameParser,
    ToledoParser,
    YaohuaEqualsParser,
    YaohuaTf0Parser,
    encode_tf0,
)
from edge.cli.drivers import EXIT_FAILED, EXIT_UNTESTABLE, watch_scale
from edge.config.errors import ConfigError
from edge.config.model import Config, parse_config
from edge.domain.weighing import StableDetector
from edge.sim.scale import PROTOCOLS, Protocol, ScaleSim, TruckStep, truck_script
from tests.helpers import eventually, make_config, write_config
from tests.test_config import EXAMPLE

PARSERS: dict[Protocol, type[FrameParser]] = {
    "yaohua-tf0": YaohuaTf0Parser,
    "yaohua-equals": YaohuaEqualsParser,
    "yaohua-a12": A12Parser,
    "toledo": ToledoParser,
    "command": CommandReplyParser,
}


def _scale(path: Path, protocol: Protocol, **kw: object) -> ScaleIndicator:
    link = SerialLink(str(path), baudrate=9600, name="scale", backoff_initial=0.05)
    polling = Polling(interval=0.05) if protocol == "command" else None
    return ScaleIndicator(link, PARSERS[protocol](), polling=polling, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_truck_drives_on_settles_and_leaves(tmp_path: Path, protocol: Protocol) -> None:
    path = tmp_path / "scale"
    samples: list[WeightSample] = []
    async with ScaleSim(path, protocol, period=0.02, noise=True, split=True) as sim:
        scale = _scale(path, protocol)
        scale.on_sample(samples.append)
        scale.start()
        try:
            await eventually(lambda: scale.health.connected, timeout=5)
            await sim.drive(truck_script(Decimal(35680), ramp=0.2, vibrate=0.2, settle=0.3))
            await eventually(lambda: scale.current_kg() == 0, timeout=5)
        finally:
            await scale.aclose()
    weights = [s.kg for s in samples]
    assert Decimal(35680) in weights  # the settled weight was read
    assert max(w for w in weights if w is not None) <= Decimal(35680 + 80)  # never invented
    assert scale.frames >= 10
    if protocol == "toledo":  # the indicator's own motion flag came through
        assert any(s.stable is False for s in samples)
        assert samples[-1].stable is True


async def test_a_weight_off_the_division_settles_at_the_division(tmp_path: Path) -> None:
    """A truck of 15010 kg on a 20 kg division (``edge sim scale --kg 15010``): the indicator
    shows 15020, steady, while it stands — not in motion until it leaves."""
    path = tmp_path / "scale"
    samples: list[WeightSample] = []
    async with ScaleSim(path, "toledo", period=0.02) as sim:
        scale = _scale(path, "toledo")
        scale.on_sample(samples.append)
        scale.start()
        try:
            await eventually(lambda: scale.health.connected, timeout=5)
            await sim.drive(truck_script(Decimal(15010), ramp=0.1, vibrate=0.1, settle=0.4))
        finally:
            await scale.aclose()
    steady = [s for s in samples if s.kg == Decimal(15020) and s.stable]
    assert len(steady) >= 10  # the settle step (20 frames) is steady
    assert sim.shown(Decimal(15010)) == Decimal(15020) == sim.shown(Decimal(15029))
    assert sim.shown(Decimal(15009)) == Decimal(15000)


async def test_port_unplugged_mid_stream_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "scale"
    async with ScaleSim(path, "yaohua-tf0", period=0.02) as sim:
        sim.set_weight(Decimal(15200))
        scale = _scale(path, "yaohua-tf0", silence_after=0.3)
        scale.start()
        try:
            await eventually(lambda: scale.current_kg() == Decimal(15200), timeout=5)
            sim.port.unplug()  # the USB adapter pulled out while the truck stands on the scale
            await eventually(lambda: not scale.health.connected, timeout=5)
            assert scale.current_kg() is None  # a stale weight is never shown as live
            assert scale.health.last_error
            sim.set_weight(Decimal(35680))
            sim.port.plug()
            await eventually(lambda: scale.current_kg() == Decimal(35680), timeout=10)
            health = scale.health
            assert health.connected
            assert health.reconnects >= 1
            assert health.to_json()["commands"] == scale.frames
        finally:
            await scale.aclose()


async def test_a_pty_refusing_toledos_parity_is_named(tmp_path: Path) -> None:
    """Toledo's usual 7E1 on a virtual serial port (the simulator's pty takes only 8N1): the
    scale's health names the cause for the guard (in Chinese) and the technician (English)."""
    path = tmp_path / "scale"
    async with ScaleSim(path, "toledo", period=0.02):
        link = SerialLink(str(path), name="scale", framing="7E1", backoff_initial=0.05)
        scale = ScaleIndicator(link, ToledoParser())
        scale.start()
        try:
            await eventually(lambda: link.health.last_error is not None, timeout=5)
            error = scale.health.last_error or ""
            assert error.startswith("串口不支持校验位设置（虚拟串口请用 8N1）")
            assert "refuses framing 7E1" in error
            assert 'set framing = "8N1"' in error
            assert not scale.health.connected
        finally:
            await scale.aclose()


async def test_open_but_silent_port_is_not_a_working_scale(tmp_path: Path) -> None:
    path = tmp_path / "scale"
    async with ScaleSim(path, "command", period=0.02):  # a command-mode indicator, not asked
        link = SerialLink(str(path), name="scale", backoff_initial=0.05)
        scale = ScaleIndicator(link, YaohuaTf0Parser(), silence_after=0.2)
        scale.start()
        try:
            await eventually(lambda: link.connected, timeout=5)
            assert not scale.health.connected
            assert "no valid weight frame" in (scale.health.last_error or "")
        finally:
            await scale.aclose()


async def test_command_mode_polls_for_gross(tmp_path: Path) -> None:
    path = tmp_path / "scale"
    async with ScaleSim(path, "command", split=True) as sim:
        await sim.drive([TruckStep(0.05, Decimal(20480))])
        scale = _scale(path, "command")
        scale.start()
        try:
            await eventually(lambda: scale.current_kg() == Decimal(20480), timeout=5)
            assert scale.latest is not None
            assert scale.latest.kind == "gross"
        finally:
            await scale.aclose()


async def test_a_net_display_is_weighed_as_gross_with_its_tare_or_refused(tmp_path: Path) -> None:
    """A clerk pressed 去皮 on the indicator: a Toledo frame sends the net with its tare, the
    load is net + tare (gross); an A12 ``WN`` line has no tare, so no weight is taken (the
    health and the page say why) until the tare is cleared."""
    path = tmp_path / "scale"
    async with ScaleSim(path, "toledo", period=0.02) as sim:
        sim.set_weight(Decimal(35680))
        sim.tare_taken = Decimal(15000)
        scale = _scale(path, "toledo")
        scale.start()
        try:
            await eventually(lambda: scale.current_kg() == Decimal(35680), timeout=5)
            assert scale.latest is not None
            assert (scale.latest.kind, scale.latest.tare_kg) == ("gross", Decimal(15000))
            assert not scale.net_display
        finally:
            await scale.aclose()
    async with ScaleSim(tmp_path / "a12", "yaohua-a12", period=0.02) as sim:
        sim.set_weight(Decimal(35680))
        sim.tare_taken = Decimal(15000)
        scale = _scale(tmp_path / "a12", "yaohua-a12")
        samples: list[WeightSample] = []
        scale.on_sample(samples.append)
        scale.start()
        try:
            await eventually(lambda: scale.net_display, timeout=5)
            assert scale.current_kg() is None  # neither 20680 nor anything as the load
            assert scale.health.last_error == NET_DISPLAY
            sim.tare_taken = None
            await eventually(lambda: scale.current_kg() == Decimal(35680), timeout=5)
            assert not scale.net_display
            assert scale.health.last_error != NET_DISPLAY
        finally:
            await scale.aclose()
    assert Decimal(20680) not in [s.kg for s in samples]
    assert any(s.fault == NET_DISPLAY for s in samples)


def test_units_and_framing() -> None:
    link = SerialLink("/dev/null", framing="7e1")
    assert link.framing == Framing(7, "E", 1)
    assert parse_framing("8N1") == Framing()
    for bad in ("8X1", "9N1", "8N3", "8N"):
        with pytest.raises(ValueError, match="8N1 or 7E1"):
            parse_framing(bad)
    scale = ScaleIndicator(link, YaohuaTf0Parser(), unit="t", clock=lambda: 100.0)
    scale._bytes(encode_tf0(Decimal("35.680"), 3))  # an indicator showing tonnes
    assert scale.latest is not None
    assert scale.latest.kg == Decimal(35680)
    assert scale.current_kg() is None  # the link is not up
    assert ScaleIndicator(SerialLink("/dev/null"), ToledoParser()).current_kg() is None


# -- config and the technician's watch-scale --------------------------------------------------
def _scale_config(tmp_path: Path, port: Path, **scale: object) -> Config:
    section = {"port": str(port), "protocol": "toledo", "lanes": ["in-1"], **scale}
    return make_config(tmp_path, "http://127.0.0.1:9", scales={"main": section})


def test_scale_config_builds_each_protocol(tmp_path: Path) -> None:
    for protocol, parser in PARSERS.items():
        cfg = _scale_config(tmp_path, tmp_path / "s", protocol=protocol)
        indicator = cfg.scales["main"].build("main")
        assert isinstance(indicator.parser, parser)
        framing = indicator.link.framing
        assert framing == (Framing(7, "E", 1) if protocol == "toledo" else Framing())
        assert (indicator.polling is not None) == (protocol == "command")
    cfg = _scale_config(tmp_path, tmp_path / "s", framing="8n1", division_kg=10)
    assert cfg.scales["main"].build("main").link.framing == Framing()
    assert cfg.scales["main"].stable_rule().band_kg == Decimal(10)
    assert cfg.weighing.max_hours_between == 24


def test_scale_config_errors_name_the_key(tmp_path: Path) -> None:
    def parse(scales: str) -> Config:
        path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", extra=scales)
        return parse_config(path.read_text("utf-8"))

    main = '[scales.main]\nport = "/dev/ttyUSB9"\nprotocol = "toledo"\n'
    with pytest.raises(ConfigError, match=r"scales\.main\.lanes.*no lane 'nope'"):
        parse(main + 'lanes = ["nope"]\n')
    second = '[scales.second]\nport = "/dev/ttyUSB9"\nprotocol = "yaohua-tf0"\n'
    with pytest.raises(ConfigError, match="opened by another driver"):
        parse(main + second)
    with pytest.raises(ConfigError, match=r"scales\.second\.protocol"):
        parse(main + second.replace("yaohua-tf0", "keli").replace("USB9", "USB8"))
    assert parse(main + 'lanes = ["in-1"]\n').scales["main"].lanes == ["in-1"]


def test_command_mode_polled_slowly_still_weighs_and_stays_healthy(tmp_path: Path) -> None:
    """An indicator asked every 2 s (command mode) answers every 2 s: the stable weight is
    taken from its answers (a hold does not restart between them), the scale is not shown as
    silent between them, and what cannot work is a config error naming its key."""
    cfg = _scale_config(
        tmp_path, tmp_path / "s", protocol="command", poll_interval_seconds=2, stable_seconds=5
    )
    scale = cfg.scales["main"]
    detector = StableDetector(scale.stable_rule())
    taken = [detector.feed(Decimal(35680), at) for at in (0.0, 2.0, 4.1, 6.0)]
    assert taken[:3] == [None, None, None]
    assert taken[3] is not None
    assert taken[3].kg == Decimal(35680)
    assert scale.build("main").silence_after == 5.0  # 2.5 poll intervals, not the 2 s default
    assert _scale_config(tmp_path, tmp_path / "s").scales["main"].build("main").silence_after == 2
    continuous = _scale_config(tmp_path, tmp_path / "s", protocol="yaohua-tf0").scales["main"]
    assert continuous.stable_rule().max_gap_seconds == 1.0

    def parse(scales: str) -> Config:
        path = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", extra=scales)
        return parse_config(path.read_text("utf-8"))

    polled = '[scales.main]\nport = "/dev/ttyUSB9"\nprotocol = "command"\nlanes = ["in-1"]\n'
    with pytest.raises(ConfigError, match=r"scales\.main\.poll_interval_seconds.*three answers"):
        parse(polled + "poll_interval_seconds = 2\n")  # stable_seconds 3: two answers at most
    with pytest.raises(ConfigError, match=r"scales\.main\.silence_seconds.*two poll intervals"):
        parse(polled + "poll_interval_seconds = 1.5\nsilence_seconds = 2\n")
    assert parse(polled + "poll_interval_seconds = 1.5\n").scales["main"].silence_after() == 3.75
    continuous_cfg = polled.replace('"command"', '"yaohua-tf0"')
    with pytest.raises(
        ConfigError, match=r"scales\.main\.silence_seconds.*greater than or equal to 0\.5"
    ):
        parse(continuous_cfg + "silence_seconds = 0.01\n")  # flapped 10 times a second


def test_the_example_config_documents_a_scale() -> None:
    text = EXAMPLE.read_text("utf-8")
    start = text.index("# [scales.main]")
    block = text[start:]  # the file's last part
    keys = re.findall(r"^# ((?:\[[a-z.]+\])|(?:[a-z_]+ = .*))$", block, re.MULTILINE)
    toml = "\n".join(keys)
    enabled = text[:start] + toml.replace('"in-1", "out-1"', '"in-1"') + "\n"
    cfg = parse_config(enabled, base_dir=EXAMPLE.parent)
    assert cfg.scales["main"].protocol == "yaohua-tf0"
    assert [sensor.driver for sensor in cfg.scales["main"].position] == ["modbus-input"]
    assert cfg.weighing.preset_tare_kg == {"豫A12345": Decimal(15200)}
    assert cfg.scales["main"].capacity_kg == Decimal(150_000)
    assert cfg.weighing.goods_for("豫B00001", "in-1") == "原煤"
    assert cfg.weighing.goods == ["水泥熟料", "原煤", "石灰石"]
    assert (cfg.scales["main"].reread_seconds, cfg.scales["main"].drive_on_seconds) == (5, 120)
    # the ERP push API's block (README "ERP push API"): a token of at least 16 characters
    assert cfg.erp.token is not None
    assert len(cfg.erp.token.get_secret_value()) >= 16
    assert cfg.erp.report_direction == "out"


async def test_watch_scale_prints_live_and_stable_weights(tmp_path: Path) -> None:
    path = tmp_path / "scale"
    cfg = _scale_config(tmp_path, path, stable_seconds=0.3, framing="8N1")  # a pty: no parity
    out: list[str] = []
    async with ScaleSim(path, "toledo", period=0.02) as sim:
        watch = asyncio.create_task(watch_scale(cfg, "in-1", 60, out.append))
        await eventually(lambda: any("main: 0 kg" in line for line in out), timeout=5)
        sim.set_weight(Decimal(35680), moving=True)
        await eventually(lambda: any("35680 kg 动态 moving" in line for line in out), 5)
        sim.set_weight(Decimal(35680))  # the same weight, settled: said too
        await eventually(lambda: any("stable weight 35680 kg" in line for line in out), 5)
        sim.port.unplug()  # the technician pulls the USB adapter, and plugs it back
        await eventually(lambda: any("main: 端口断开 port lost" in line for line in out), 10)
        sim.port.plug()
        await eventually(lambda: any("main: 端口恢复 port back" in line for line in out), 10)
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
    assert any("35680 kg 稳定 steady" in line for line in out)
    assert "已连接 connected" in out[-1]
    assert await watch_scale(cfg, "in-1", 0, out.append) == EXIT_FAILED  # port gone: no frames
    assert await watch_scale(cfg, "out-1", 0, out.append) == EXIT_UNTESTABLE
