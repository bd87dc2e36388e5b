"""``edge demo``: the whole job on simulators, printed line by line.

Starts a simulated city platform, the real daemon with a generated config, and simulated
cameras that drive a stream of trucks through an entrance and an exit lane. Partway through,
the platform goes down for a few trucks and comes back, to show offline decisions and
store-and-forward catching up.

With ``--scale [PROTOCOL]`` a truck scale (地磅) stands beside both lanes: an indicator
simulated on a pty speaking ``PROTOCOL`` (:data:`edge.sim.DEMO_SCALES`; default Mettler
Toledo). A truck let in drives onto it loaded (weighed in), a truck leaving drives onto it
empty (weighed out); the completed weighing's goods record (default goods 石灰石) reaches the
platform simulator after the exit's pass record.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import secrets
import shutil
import signal
import tempfile
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from drivers import olm_led
from drivers.virtual import VirtualBarrier
from edge.config.model import SiteConfig, parse_config
from edge.daemon import Daemon
from edge.domain.goods import tonnes_text
from edge.domain.plates import PlateColor
from edge.ledger.rows import StoredWeighing
from edge.ops.logsetup import setup_logging
from edge.sim import DemoCamera, ScaleProtocol
from edge.sim.camera import CameraFormat, CameraSim, PushResult
from edge.sim.dahua_camera import DahuaCameraSim
from edge.sim.mqtt_broker import MosquittoBroker
from edge.sim.onvif_camera import OnvifCameraSim
from edge.sim.platform import DEMO_VEHICLES, CityPlatformSim, PlatformSim
from edge.sim.province import ProvincePlatformSim
from edge.sim.pty import VirtualSerialPort
from edge.sim.scale import ScaleSim, truck_script
from edge.web.auth import hash_password

PlatformMode = Literal["city", "province"]
#: The demo site's time zone (its config sets none: the default, China's).
DEMO_ZONE = ZoneInfo(str(SiteConfig.model_fields["timezone"].default))

#: How long the demo waits for the breaker's probe to find the platform back.
LINK_BACK_SECONDS = 5.0

_CONFIG = """\
[site]
enterprise_code = "4110020001"
enterprise_name = "许昌示例建材有限公司"

[platform]
base_url = "{base_url}"
username = "gate01"
password = "sim-password"
verify_deadline_seconds = 1.0
breaker_probe_seconds = 1
{platform_extra}

[decision]
duplicate_window_seconds = 5  # the demo compresses time
offline_policy = "cache"
offline_cache_miss = "deny"

[[lanes]]
id = "in-1"
name = "1号门 入口"
gate_code = "01"
direction = "in"
confirm_timeout_seconds = 5
{gate_secret}
[lanes.camera]
{in_camera}
[lanes.barrier]
driver = "{in_barrier}"
[lanes.led]
driver = "{in_led}"
[lanes.detector]
driver = "{in_detector}"

[[lanes]]
id = "out-1"
name = "1号门 出口"
gate_code = "01"
direction = "out"
confirm_timeout_seconds = 5
{gate_secret}
[lanes.camera]
kind = "generic-push"
{push_rate}
[lanes.barrier]
driver = "virtual"
[lanes.led]
driver = "virtual"
[lanes.detector]
driver = "virtual"
pass_after_seconds = 0.3

[storage]
database = "edge.db"
photo_dir = "photos"

[forwarder]
backoff_initial_seconds = 0.5
backoff_max_seconds = 3

[web]
port = 0
password_hash = "{password_hash}"

[photo_web]
port = 0  # the province platform's photo fetches: any free port, so demos can run side by side

[logging]
format = "console"
"""


#: The demo's truck scale beside both lanes (``--scale``): an indicator on ``{port}``.
_SCALE = """
[scales.main]
port = "{port}"
protocol = "{protocol}"
framing = "8N1"
stable_seconds = 0.5
lanes = ["in-1", "out-1"]

[weighing]
default_goods = "石灰石"
"""
_INDICATORS: dict[ScaleProtocol, str] = {
    "toledo": "Mettler Toledo continuous",
    "yaohua-tf0": "Yaohua 耀华 XK3190 tF=0",
    "yaohua-equals": "Yaohua 耀华 '=' reversed-digit",
    "yaohua-a12": "Yaohua 耀华 A12E text-line",
    "command": "Yaohua/Keli command-mode",
}
#: How long the demo waits for a stable weight to be recorded after the truck left the scale.
WEIGHED_SECONDS = 10.0

PULLED = ("onvif", "dahua-pull", "serial", "mqtt")
MQTT_TOPIC = "cameras/gate1/plates"


#: The demo compresses time (``--interval``, 0.02 s in the tests): above a gate's push rate.
_DEMO_PUSH_RATE = "max_pushes_per_second = 1000"


def _camera_section(camera: DemoCamera, address: str) -> str:
    if camera == "onvif":
        host, port = address.rsplit(":", 1)
        return (
            f'kind = "onvif"\nhost = "{host}"\nport = {port}\nusername = "admin"\n'
            'password = "sim-camera"\npull_timeout_seconds = 5'
        )
    if camera == "dahua-pull":
        return (
            f'kind = "dahua-pull"\nurl = "http://{address}"\n'
            'username = "admin"\npassword = "sim-camera"'
        )
    if camera == "serial":
        return f'kind = "serial"\nport = "{address}"'
    if camera == "mqtt":
        host, port = address.rsplit(":", 1)
        return f'kind = "mqtt"\nhost = "{host}"\nport = {port}\ntopic = "{MQTT_TOPIC}"'
    return f'kind = "{camera}-push"\n{_DEMO_PUSH_RATE}'


def demo_config_text(
    base_url: str,
    camera: DemoCamera,
    platform: PlatformMode = "city",
    address: str = "",
    password_hash: str = "",
) -> str:
    vzenith = camera == "vzenith"
    province = platform == "province"
    return _CONFIG.format(
        base_url=base_url,
        password_hash=password_hash,
        platform_extra=(
            'mode = "province"\norg_secret_code = "ORG-4110"\n'
            'company_secret_code = "COMPANY-4110020001"'
            if province
            else 'mode = "city"\norgan = "4110020001"'
        ),
        gate_secret='gate_secret_code = "GATE-01"' if province else "",
        push_rate=_DEMO_PUSH_RATE,
        in_camera=_camera_section(camera, address),
        in_barrier="camera-relay" if vzenith else "virtual",
        in_led="olm" if vzenith else "virtual",
        in_detector="none" if vzenith else "virtual",
    )


def _say(text: str) -> None:
    print(f">>> {text}", flush=True)  # noqa: T201 - the demo talks to a person


def _describe(direction: str, plate: str | None, result: PushResult) -> str:
    who, body = plate or "无牌车", result.body
    if result.serial_data:
        led = " | ".join(  # read the bytes as the lane's LED board does
            shown.text
            for frame in result.serial_data
            for shown in olm_led.decode(frame)
            if shown.cmd == olm_led.CMD_TEXT
        )
        action = "抬杆 open" if result.relay_opened else "不抬杆 no open"
        return f"{who} {direction}: 相机{action} LED「{led}」"
    if body.get("duplicate") or "Response_AlarmInfoPlate" in body:
        return f"{who} {direction}: 重复识别, 忽略 (duplicate read ignored)"
    if body == {"Result": True}:  # Dahua's reply says only that the push was taken
        return f"{who} {direction}: 大华相机推送已接收 (Dahua push taken)"
    verdict = "放行 open" if body.get("verdict") == "open" else "禁止 refuse"
    return f"{who} {direction}: {verdict} — {body.get('reason')} 流水号 {body.get('serial')}"


class Demo:
    def __init__(
        self,
        camera: DemoCamera,
        seed: int,
        platform: PlatformMode = "city",
        *,
        scale: ScaleProtocol | None = None,
    ) -> None:
        self.camera, self.rng, self.mode = camera, random.Random(seed), platform
        self.workdir = Path(tempfile.mkdtemp(prefix="edge-demo-"))
        #: Goods records held at the end for a clerk's check (not waited for: said).
        self.held_for_clerk = 0
        #: The truck scale's simulator (``--scale``), started with the demo.
        self.scale = ScaleSim(self.workdir / "ttyScale", scale, period=0.05) if scale else None
        self.platform: PlatformSim = (
            ProvincePlatformSim() if platform == "province" else CityPlatformSim()
        )
        self.inside: list[str] = []
        self._message_ids = itertools.count(1)
        self.recent: deque[str | None] = deque(
            maxlen=5
        )  # a refused truck does not come back at once
        self.daemon: Daemon
        #: The weighings as the scale tells of them (recorded, or given their plate), in order.
        self._weighings: asyncio.Queue[StoredWeighing] = asyncio.Queue()
        self._narrated: dict[int, tuple[str, str | None]] = {}

    @classmethod
    async def started(
        cls,
        camera: DemoCamera,
        seed: int,
        platform: PlatformMode = "city",
        *,
        scale: ScaleProtocol | None = None,
    ) -> Demo:
        """A demo started; its folder is removed when it cannot start."""
        demo = cls(camera, seed, platform, scale=scale)
        try:
            await demo.start()
        except BaseException:
            shutil.rmtree(demo.workdir, ignore_errors=True)
            raise
        return demo

    async def _start_pulled_camera(self) -> str:
        """Start the double of a camera the daemon pulls from; where the daemon finds it."""
        if self.camera == "onvif":
            self.onvif = OnvifCameraSim()
            await self.onvif.start()
            return f"127.0.0.1:{self.onvif.port}"
        if self.camera == "dahua-pull":
            self.dahua = DahuaCameraSim()
            await self.dahua.start()
            return f"127.0.0.1:{self.dahua.port}"
        if self.camera == "mqtt":
            self.broker = MosquittoBroker(self.workdir)  # raises BrokerMissingError
            await self.broker.start()
            return f"127.0.0.1:{self.broker.port}"
        self.serial = VirtualSerialPort(self.workdir / "ttyANPR", lambda _data: None)
        self.serial.plug()
        return str(self.serial.path)

    async def start(self) -> None:
        await self.platform.start()
        address = await self._start_pulled_camera() if self.camera in PULLED else ""
        config_path = self.workdir / "config.toml"
        password = secrets.token_urlsafe(9)  # for this run only: the page's actions work
        text = demo_config_text(
            self.platform.base_url, self.camera, self.mode, address, hash_password(password)
        )
        if self.scale is not None:
            await self.scale.__aenter__()
            text += _SCALE.format(port=self.scale.port.path, protocol=self.scale.protocol)
        config_path.write_text(text, "utf-8")
        text = config_path.read_text("utf-8")
        self.daemon = Daemon(parse_config(text, str(config_path), self.workdir))
        await self.daemon.start()
        for bridge in self.daemon.components.weighbridges.values():
            bridge.weighing_listeners.append(self._weighings.put_nowait)
        if self.camera in PULLED:  # until the daemon has reached the camera
            async with asyncio.timeout(15):
                while self.daemon.lanes["in-1"].camera.connected is not True:  # noqa: ASYNC110 - a health flag, no event to wait on
                    await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{self.daemon.web.port}/push"
        pushed: CameraFormat = "generic" if self.camera in PULLED else self.camera  # type: ignore[assignment]
        self.entrance = CameraSim(f"{base}/in-1", pushed)
        self.exit = CameraSim(f"{base}/out-1", "generic")
        _say(f"simulated platform at {self.platform.base_url}")
        _say(
            f"状态页 status page: http://127.0.0.1:{self.daemon.web.port}/ "
            f"(登录密码 password for this run: {password})"
        )
        _say(f"generated config and ledger in {self.workdir} (removed at the end)")
        if self.scale is not None:
            indicator = _INDICATORS[self.scale.protocol]
            _say(f"地磅 truck scale: a {indicator} indicator simulated on {self.scale.port.path}")

    def next_vehicle(self) -> tuple[str | None, str | None]:
        """(a plate leaving, None) — or (None, the plate arriving; None: a read without one).
        A truck inside leaves now and then, and always when every plate is either inside or
        was seen lately (so a long demo never runs out of plates)."""
        fresh = [p for p in _PLATES if p not in self.inside and p not in self.recent]
        if self.inside and (not fresh or self.rng.random() < 0.35):
            return self.inside.pop(self.rng.randrange(len(self.inside))), None
        plate = None if self.rng.random() < 0.08 else self.rng.choice(fresh)
        self.recent.append(plate)
        return None, plate

    async def truck(self, n: int) -> None:
        if n % 10 == 6:
            _say("平台断线 platform goes DOWN for a while")
            await self.platform.stop()
        if n % 10 == 9:
            _say("平台恢复 platform is BACK; the backlog is forwarded")
            await self.platform.start()
            try:  # the breaker's next probe finds it: the next truck is verified online
                await asyncio.wait_for(self.daemon.link.up_again.wait(), LINK_BACK_SECONDS)
                _say("平台链路恢复 link is up again: trucks are verified online")
            except TimeoutError:
                _say("the link is not back yet: trucks are still decided offline")
        leaving, plate = self.next_vehicle()
        if leaving is not None:
            _say(_describe("出厂 exit", leaving, await self.exit.push(leaving)))
            await self._weigh(Decimal(self.rng.randrange(12_000, 16_000, 20)))
            return
        color = PlateColor.NEW_ENERGY if plate and len(plate) == 8 else PlateColor.YELLOW
        if self.camera in PULLED:
            if await self._pulled_entry(plate) and plate:
                self.inside.append(plate)
                await self._weigh(Decimal(self.rng.randrange(28_000, 45_000, 20)))
            return
        barrier = self.daemon.lanes["in-1"].devices.barrier
        openings = barrier.opened if isinstance(barrier, VirtualBarrier) else 0
        result = await self.entrance.push(plate, color)
        opened = result.relay_opened or (
            isinstance(barrier, VirtualBarrier) and barrier.opened > openings
        )
        _say(_describe("进厂 entry", plate, result))
        if plate and self.rng.random() < 0.15:
            refined = plate[:-1] + "8"  # the camera refines its read: same vehicle, and the
            _say(  # exit camera reads it as refined (the weighings pair under that plate)
                _describe("进厂 entry (re-read)", refined, await self.entrance.push(refined, color))
            )
            plate = refined
        if plate and opened:
            self.inside.append(plate)
            await self._weigh(Decimal(self.rng.randrange(28_000, 45_000, 20)))

    async def _weigh(self, kg: Decimal) -> None:
        """With a scale: the truck just read drives over it at ``kg``; the demo then says what
        each weighing recorded (a first weighing, the completed one with its net and goods,
        one without its plate), each once and in the order the scale recorded them."""
        if self.scale is None:
            return
        await self.scale.drive(truck_script(kg, ramp=0.3, vibrate=0.3, settle=0.8))
        try:
            told = await asyncio.wait_for(self._weighings.get(), WEIGHED_SECONDS)
        except TimeoutError:
            _say(f"地磅 scale: {kg} kg not recorded")
            return
        self._narrate(told)
        while not self._weighings.empty():  # told meanwhile (a plate given late)
            self._narrate(self._weighings.get_nowait())

    def _narrate(self, w: StoredWeighing) -> None:
        """One line per change of a weighing (its state or plate; a photo added is none)."""
        if self._narrated.get(w.id) == (w.state, w.plate):
            return
        self._narrated[w.id] = (w.state, w.plate)
        if w.state == "open":
            _say(f"{w.plate} 过磅 weighed in: 一次过磅 {w.first_kg:g} kg (等待二次过磅)")
        elif w.state == "complete":
            held = [c for c in w.checks if c.hold]
            fate = "上报 goods record queued" if w.ysl else "未上报 " + (w.goods_error or "")
            if w.ysl and held:  # the clerk checks it first: 已核对 sends it
                fate = f"暂缓上报 held: {held[0].said}"
            _say(
                f"{w.plate} 过磅 weighed out: 毛重 {w.gross_kg:g} kg 皮重 {w.tare_kg:g} kg "
                f"净重 {tonnes_text(w.net_kg or 0)} t 货物 {w.goods or '未定'} → 货物台账 {fate}"
            )
        elif w.held:
            plates = "、".join(r.read.plate for r in w.candidate_reads)
            _say(f"待确认车牌 过磅 {w.first_kg:g} kg held: candidates {plates}")
        else:
            _say(f"{w.plate or '无牌车'} 过磅 {w.first_kg:g} kg: {w.state}")

    def goods_received(self) -> int:
        """Goods records the platform simulator received."""
        return sum(len(records) for records in self.platform.goods.values())

    async def _pulled_entry(self, plate: str | None) -> bool:
        """A camera the daemon pulls from reads ``plate``: wait for the pass it makes."""
        store = self.daemon.store
        before = await store.count_passes()
        text = plate or "无牌车"
        if self.camera == "onvif":
            self.onvif.plate(text)
        elif self.camera == "dahua-pull":
            self.dahua.plate(text)
        elif self.camera == "mqtt":  # the generic JSON, with its photo
            message = self.entrance.payload(
                plate, PlateColor.YELLOW, image=True, plate_id=next(self._message_ids)
            )
            await self.broker.publish(MQTT_TOPIC, json.dumps(message).encode())
        elif plate is None:
            _say("无牌车 进厂 entry (serial): the recogniser prints nothing without a plate")
            return False
        else:
            self.serial.write(f"PLATE:{text}\r\n".encode("gbk"))
        for _ in range(150):  # up to 3 s
            if await store.count_passes() > before:
                break
            await asyncio.sleep(0.02)
        row = await store.latest_pass("in-1")
        if row is None or await store.count_passes() == before:
            _say(f"{text} 进厂 entry ({self.camera}): 未记录 (no pass: unreadable or duplicate)")
            return False
        verdict = "放行 open" if row.verdict == "open" else "禁止 refuse"
        _say(f"{row.plate or '无牌车'} 进厂 entry ({self.camera}): {verdict} — "
             f"{row.reason} 流水号 {row.serial}")  # fmt: skip
        return bool(row.verdict == "open")

    async def finish(self) -> None:
        try:
            if self.platform.port and not self.platform.running:
                await self.platform.start()
            for lane in self.daemon.lanes.values():
                await lane.drain()
            passes = await self.daemon.store.count_passes()
            photos = await self.daemon.store.count_photos()
            weighed = [w for w in await self.daemon.store.recent_weighings(1000) if w.ysl]
            self.held_for_clerk = sum(1 for w in weighed if any(c.hold for c in w.checks))
            goods = len(weighed) - self.held_for_clerk  # those wait for a clerk's 已核对
            await self.platform.wait_for(
                lambda: (
                    self.platform.stats()["records"] >= passes
                    and self.platform.stats()["photos"] >= photos
                    and self.goods_received() >= goods
                ),
                15,
            )
        except TimeoutError:
            _say("some records are still waiting to be forwarded")
        finally:
            stats = self.platform.stats()
            _say(
                f"平台已收到 platform received: {stats['records']} pass records, "
                f"{stats['photos']} photos, {stats['duplicates']} duplicates, "
                f"{stats['rejected']} rejected"
            )
            if self.scale is not None:
                _say(f"平台已收到货物台账 platform received: {self.goods_received()} goods records")
                if self.held_for_clerk:
                    _say(f"{self.held_for_clerk} goods records wait for a clerk's check "
                         "(请核对的过磅 on the page, 已核对 sends them)")  # fmt: skip
            await self.entrance.aclose()
            await self.exit.aclose()
            await self.daemon.stop()
            await self.platform.stop()
            await self._stop_pulled_camera()
            if self.scale is not None:
                await self.scale.__aexit__(None, None, None)
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def _stop_pulled_camera(self) -> None:
        if self.camera == "onvif":
            await self.onvif.stop()
        elif self.camera == "dahua-pull":
            await self.dahua.stop()
        elif self.camera == "serial":
            self.serial.unplug()
        elif self.camera == "mqtt":
            await self.broker.stop()


_PLATES = [*DEMO_VEHICLES, "豫A3F21K", "豫G90872", "鲁H1234S", "豫P66Q21"]


async def run_demo(
    trucks: int | None,
    interval: float,
    camera: DemoCamera,
    seed: int,
    platform: PlatformMode = "city",
    *,
    scale: ScaleProtocol | None = None,
) -> None:
    setup_logging("info", "console", zone=DEMO_ZONE)  # the demo site's clock, as guards read it
    stop = asyncio.Event()  # SIGTERM or Ctrl-C: finish the truck at the gate, then the summary
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    demo = await Demo.started(camera, seed, platform, scale=scale)
    try:
        for n in itertools.count(1):
            if stop.is_set() or (trucks is not None and n > trucks):
                break
            await demo.truck(n)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        await demo.finish()
