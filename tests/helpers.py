"""Builders shared by the tests: configs, daemons and simulators wired together."""

from __future__ import annotations

import asyncio
import copy
import socket
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from edge.config.model import Config
from edge.daemon import Daemon
from edge.domain.codes import Direction, GateSignal
from edge.domain.plates import PlateColor
from edge.domain.reports import PassReport
from edge.sim.camera import CameraFormat, CameraSim
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.province import ProvincePlatformSim
from edge.uplink.platform.city import CityPlatform
from edge.uplink.platform.province import ProvincePlatform

GENERIC_LANE: dict[str, Any] = {
    "id": "in-1",
    "gate_code": "01",
    "direction": "in",
    "confirm_timeout_seconds": 5,
    "camera": {"kind": "generic-push"},
    "barrier": {"driver": "virtual"},
    "led": {"driver": "virtual"},
    "detector": {"driver": "virtual", "pass_after_seconds": 0.01},
}

VZENITH_LANE: dict[str, Any] = {
    "id": "vz-1",
    "gate_code": "02",
    "direction": "in",
    "camera": {"kind": "vzenith-push", "comet_hold_seconds": 0.2},
    "barrier": {"driver": "camera-relay"},
    "led": {"driver": "olm"},
}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The push rate of the tests' lanes unless a test sets its own: pushes come back to back (the
#: product's default, 5 a second, is tried by the tests of the rate with their own setting).
TEST_PUSH_RATE = 1000


def config_data(
    tmp_path: Path, base_url: str, lanes: list[dict[str, Any]] | None = None, **sections: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "site": {"enterprise_code": "4110020001", "enterprise_name": "测试企业"},
        "platform": {
            "base_url": base_url,
            "organ": "4110020001",
            "username": "gate01",
            "password": "sim-password",
            "verify_deadline_seconds": 1.0,
            "breaker_probe_seconds": 0.1,
        },
        "lanes": copy.deepcopy(lanes if lanes is not None else [GENERIC_LANE]),
        "storage": {
            "database": str(tmp_path / "edge.db"),
            "photo_dir": str(tmp_path / "photos"),
            "fallback_journal": str(tmp_path / "fallback.jsonl"),
        },
        "forwarder": {"backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.2},
        "web": {"port": 0},
        "photo_web": {"port": 0},
    }
    for each in data["lanes"]:  # a test gate runs vehicles far faster than a real one does
        camera = each.get("camera", {})
        if str(camera.get("kind", "")).endswith("-push"):
            camera.setdefault("max_pushes_per_second", TEST_PUSH_RATE)
    for name, values in sections.items():
        if isinstance(values, list):
            data[name] = values
        else:
            data.setdefault(name, {}).update(values)
    return data


def make_config(tmp_path: Path, base_url: str, **kwargs: Any) -> Config:
    return Config(**config_data(tmp_path, base_url, **kwargs))


def config_for(
    tmp_path: Path, sim: PlatformSim, lanes: list[dict[str, Any]] | None = None, **sections: Any
) -> Config:
    """A daemon config for whichever simulator ``sim`` is (city or province mode)."""
    data = config_data(tmp_path, sim.base_url, lanes, **sections)
    if isinstance(sim, ProvincePlatformSim):
        data["platform"].update(
            mode="province",
            org_secret_code=sim.org_secret_code,
            company_secret_code=sim.company_secret_code,
        )
        for lane in data["lanes"]:
            lane.setdefault("gate_secret_code", "GATE-" + lane["gate_code"])
    return Config(**data)


def plate_of(record: dict[str, Any]) -> str:
    """The plate in a received pass record, whichever API carried it."""
    return str(record.get("cphm", record.get("license")))


def lifted_and_passed(record: dict[str, Any]) -> bool:
    """City bgzt 1, province gateSignal 0."""
    return record.get("bgzt") == "1" or record.get("gateSignal") == "0"


@asynccontextmanager
async def running_daemon(cfg: Config) -> AsyncIterator[Daemon]:
    """A started daemon, stopped on the way out together with the cameras :func:`camera` made
    for it (a test failing before its ``aclose`` left a socket that the garbage collector
    reported inside the next test, failing that one)."""
    daemon = Daemon(cfg)
    await daemon.start()
    try:
        yield daemon
    finally:
        try:
            for cam in _cameras.pop(daemon, []):
                await cam.aclose()
        finally:
            await daemon.stop()


_cameras: weakref.WeakKeyDictionary[Daemon, list[CameraSim]] = weakref.WeakKeyDictionary()


def camera(daemon: Daemon, lane: str = "in-1", fmt: CameraFormat = "generic") -> CameraSim:
    """A camera pushing to ``lane`` of ``daemon``; closed by :func:`running_daemon` at its end."""
    cam = CameraSim(f"http://127.0.0.1:{daemon.web.port}/push/{lane}", fmt)
    _cameras.setdefault(daemon, []).append(cam)
    return cam


async def wait_records(sim: PlatformSim, count: int, photos: int = 0, timeout: float = 10) -> None:
    await sim.wait_for(
        lambda: len(sim.records) >= count and sum(len(p) for p in sim.photos.values()) >= photos,
        timeout,
    )


async def wait_healthy(
    http: httpx.AsyncClient,
    port: int,
    timeout: float = 30,
    log: Path | None = None,
    proc: asyncio.subprocess.Process | None = None,
) -> None:
    """Wait until a daemon process on ``port`` answers ``/healthz`` with 200; else an
    AssertionError saying its last answer (which component was down, or no listener) and the
    end of its ``log`` if given — at once if ``proc`` has exited."""
    last = ["no answer"]

    async def up() -> bool:
        if proc is not None and proc.returncode is not None:
            last[0] = f"the daemon exited with {proc.returncode}"
            raise TimeoutError
        try:
            reply = await http.get(f"http://127.0.0.1:{port}/healthz")
        except httpx.TransportError as exc:
            last[0] = f"{type(exc).__name__}: {exc}"
            return False
        last[0] = f"{reply.status_code} {reply.text[:2000]}"
        return reply.status_code == 200

    try:
        await eventually(up, timeout)
    except TimeoutError:
        tail = await asyncio.to_thread(_tail, log)
        raise AssertionError(
            f"no healthy daemon on {port} within {timeout} s; last: {last[0]}\n{tail}"
        ) from None


def _tail(log: Path | None) -> str:
    """The last 4,000 characters of ``log``, if there is one."""
    return log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""


async def eventually(
    condition: Callable[[], Awaitable[bool] | bool], timeout: float = 5, every: float = 0.01
) -> None:
    """Wait until ``condition`` holds, re-checking it ``every`` seconds (bounded)."""
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return
            await asyncio.sleep(every)


SH = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2026, 11, 21, 8, 0, 0, tzinfo=SH)
#: A pass as the spec's examples would have it.
REPORT = PassReport(
    serial="411002000101A261121080000",
    enterprise_code="4110020001",
    enterprise_name="许昌示例建材有限公司",
    gate_code="01",
    plate="豫A12345",
    color=PlateColor.YELLOW,
    direction=Direction.IN,
    time_from=WHEN,
    time_to=WHEN,
    gate_signal=GateSignal.PASSED,
)


def city_client(sim: CityPlatformSim, **overrides: Any) -> CityPlatform:
    args: dict[str, Any] = {
        "base_url": sim.base_url,
        "organ": sim.organ,
        "username": sim.username,
        "password": sim.password,
        "zone": SH,
        "timeout": 2.0,
    }
    return CityPlatform(**{**args, **overrides})


def province_client(sim: ProvincePlatformSim, **overrides: Any) -> ProvincePlatform:
    args: dict[str, Any] = {
        "base_url": sim.base_url,
        "org_secret_code": sim.org_secret_code,
        "username": sim.username,
        "password": sim.password,
        "company_secret_code": sim.company_secret_code,
        "zone": SH,
        "timeout": 2.0,
    }
    return ProvincePlatform(**{**args, **overrides})


def write_config(
    path: Path,
    base_url: str,
    *,
    port: int = 0,
    password: str = "sim-password",
    platform_extra: str = "",
    state: str = "",
    extra: str = "",
    camera: str = "",
) -> Path:
    """A one-lane config file (generic push, virtual barrier) for a daemon process;
    ``camera``: more keys of the lane's camera (``"max_pushes_per_second = 1000"``)."""
    path.write_text(
        f"""
[site]
enterprise_code = "4110020001"
enterprise_name = "测试企业"
[platform]
base_url = "{base_url}"
organ = "4110020001"
username = "gate01"
password = "{password}"
{platform_extra}
[[lanes]]
id = "in-1"
gate_code = "01"
direction = "in"
camera = {{ kind = "generic-push", {camera or f"max_pushes_per_second = {TEST_PUSH_RATE}"} }}
barrier = {{ driver = "virtual" }}
[storage]
database = "{state}edge.db"
photo_dir = "{state}photos"
fallback_journal = "{state}fallback.jsonl"
[web]
port = {port}
[photo_web]
port = 0
{extra}
""",
        "utf-8",
    )
    return path
