"""The daemon: opens the store, builds the lanes and the forwarder, serves camera pushes."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import structlog

from edge.actions.corrections import correct_pass
from edge.actions.operator import Operator
from edge.config.errors import ConfigError
from edge.config.model import (
    Config,
    DahuaPullCamera,
    MqttCamera,
    OnvifCamera,
    SerialCamera,
    load_config,
)
from edge.domain.codes import GateSignal
from edge.domain.plates import PlateColor
from edge.gate.devices import DeviceBuilder
from edge.gate.lane import Lane
from edge.ingest.dahua_stream import DahuaEventStream
from edge.ingest.http_push import PushReceiver
from edge.ingest.mqtt_reader import MqttPlateReader
from edge.ingest.onvif_reader import OnvifPlateReader
from edge.ingest.serial_reader import SerialPlateReader
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.journal import FallbackJournal, keep_ledger
from edge.ledger.photos import PhotoStore, photo_url
from edge.ledger.retention import DiskState, Retention
from edge.ledger.store import LedgerUnwritableError, Store
from edge.mqtt.telemetry import Telemetry
from edge.ops.metrics import Metrics
from edge.ops.supervisor import Supervisor
from edge.ops.systemd import Notifier, feed_watchdog, watchdog_interval
from edge.uplink.backlog import BacklogMonitor
from edge.uplink.breaker import LinkMonitor
from edge.uplink.forwarder import Forwarder
from edge.uplink.lane_activity import LaneActivity
from edge.uplink.photo_fit import PhotoCheck
from edge.uplink.platform.base import Platform
from edge.uplink.platform.city import CityPlatform
from edge.uplink.platform.province import ProvincePlatform
from edge.uplink.platform.token import TokenClient
from edge.web.auth import Guard
from edge.web.photo_listener import PhotoListener, PhotoServer, PhotoSigner
from edge.web.server import WebServer, web_limits
from edge.web.status_page import StatusPage

log = structlog.get_logger("edge.daemon")


def _free_mb(path: Path) -> int | None:
    """Free space where ``path`` is (or its nearest existing parent), in MiB; measured."""
    for candidate in (path, *path.parents):
        try:
            return round(shutil.disk_usage(candidate).free / 2**20)
        except OSError:
            continue
    return None


def build_platform(cfg: Config) -> Platform:
    """The client for the configured API (``platform.mode``)."""
    p = cfg.platform
    common: dict[str, Any] = {
        "username": p.username,
        "password": p.password.get_secret_value(),
        "zone": cfg.site.zone,
        "timeout": p.request_timeout_seconds,
        "refresh_margin": p.token_refresh_margin_seconds,
        "clock_limit": p.clock_max_offset_seconds,
        "stamp_corrected_time": p.stamp_corrected_time,
    }
    if p.mode == "province":
        assert p.org_secret_code is not None
        assert p.company_secret_code is not None
        return ProvincePlatform(
            base_url=p.base_url,
            org_secret_code=p.org_secret_code.get_secret_value(),
            company_secret_code=p.company_secret_code.get_secret_value(),
            path_template=p.path_template,
            date_format=p.date_format,
            **common,
        )
    return CityPlatform(base_url=p.base_url, organ=p.organ, photo_mode=p.photo_upload, **common)


class Daemon:
    def __init__(
        self,
        cfg: Config,
        *,
        platform: Platform | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.platform = platform or build_platform(cfg)
        self.link = LinkMonitor(
            clock,
            failures_to_open=cfg.platform.breaker_failures,
            probe_interval=cfg.platform.breaker_probe_seconds,
        )
        if isinstance(self.platform, TokenClient):  # a token fetched: the platform answers
            self.platform.tokens.on_fetched = self.link.success
        self.metrics = Metrics()
        self.photos = PhotoStore(
            cfg.storage.photo_dir, keep_originals=cfg.storage.keep_original_photos
        )
        self.photo_check = PhotoCheck(cfg.storage.max_photo_pixels, cfg.storage.photo_decodes)
        self.supervisor = Supervisor()
        self.activity = LaneActivity()
        self.disk = DiskState()
        self.journal = FallbackJournal(cfg.storage.fallback_journal)
        self._clock = clock
        self.store: Store
        self.lanes: dict[str, Lane] = {}
        self.devices: DeviceBuilder
        self.forwarder: Forwarder
        self.web: WebServer
        self.photo_listener: PhotoListener | None = None
        self.signer: PhotoSigner | None = None

    async def start(self) -> None:
        cfg = self.cfg
        self.store = await Store.open(cfg.storage.database, self._clock)
        self.devices = DeviceBuilder(cfg)
        self.plans = PlanBook(self.store, cfg.control_plans, cfg.site.zone)
        self.lists = ListBook(self.store, cfg.lists, cfg.site.zone)
        for lane_cfg in cfg.lanes:
            self.lanes[lane_cfg.id] = Lane(
                lane_cfg,
                site=cfg.site,
                decision=cfg.decision,
                led_text=cfg.led_text,
                verify_deadline=cfg.platform.verify_deadline_seconds,
                platform=self.platform,
                link=self.link,
                store=self.store,
                photos=self.photos,
                devices=self.devices.lane(lane_cfg),
                plans=self.plans,
                lists=self.lists,
                metrics=self.metrics,
                photo_check=self.photo_check,
                activity=self.activity,
                disk=self.disk,
                journal=self.journal,
                clock=self._clock,
            )
        for lane in self.lanes.values():
            lane.fail_open = cfg.storage.ledger_fail_policy == "open"
        await self._recover()
        try:
            await self.journal.merge(self.store)  # before the lanes continue their serials
        except LedgerUnwritableError:
            log.error("fallback journal not merged: the ledger cannot be written")
        for lane in self.lanes.values():
            await lane.load()
            lane.devices.start()
            self.supervisor.start(f"lane:{lane.id}", lane.run)
            camera = lane.cfg.camera
            if isinstance(camera, SerialCamera):
                serial = SerialPlateReader(lane, camera, cfg.site.zone)
                self.supervisor.start(f"serial:{lane.id}", serial.run)
            elif isinstance(camera, MqttCamera):
                mqtt = MqttPlateReader(lane, camera, cfg.site.zone)
                self.supervisor.start(f"mqtt:{lane.id}", mqtt.run)
            elif isinstance(camera, DahuaPullCamera):
                stream = DahuaEventStream(lane, camera, cfg.site.zone)
                self.supervisor.start(f"dahua:{lane.id}", stream.run)
            elif isinstance(camera, OnvifCamera):
                events = OnvifPlateReader(lane, camera, cfg.site.zone)
                self.supervisor.start(f"onvif:{lane.id}", events.run)
        self.forwarder = Forwarder(
            self.store,
            self.platform,
            self.photos,
            self.link,
            enterprise_name=cfg.site.enterprise_name,
            zone=cfg.site.zone,
            concurrency=cfg.forwarder.concurrency,
            batch_size=cfg.forwarder.batch_size,
            backoff_initial=cfg.forwarder.backoff_initial_seconds,
            backoff_max=cfg.forwarder.backoff_max_seconds,
            activity=self.activity,
            clock=self._clock,
            metrics=self.metrics,
            photo_url=self._photo_urls(),
        )
        self.supervisor.start("forwarder", self.forwarder.run)
        self.monitor = BacklogMonitor(
            self.store,
            self.link,
            self.forwarder.rate,
            alarm_age_seconds=cfg.forwarder.alarm_unsent_age_seconds,
            clock=self._clock,
            cameras=[lane.camera for lane in self.lanes.values()],
            site=cfg.site,
        )
        self.supervisor.start("monitor", self.monitor.run)
        self.supervisor.start("ledger", lambda: keep_ledger(self.store, self.journal))
        self.metrics.watch(self.health)
        # what the guards, remote operators and the command line may do: one place
        self.operator = Operator(
            self.store, self.lists, self.plans, lanes=self.lanes, correct=self.correct
        )
        self.telemetry: Telemetry | None = None
        if cfg.mqtt is not None:
            self.telemetry = Telemetry(
                cfg.mqtt, cfg.site.enterprise_code, self.lanes, self.operator, self.health
            )
            for lane in self.lanes.values():
                lane.pass_listeners.append(self.telemetry.publish_pass)
            self.supervisor.start("telemetry", self.telemetry.run, optional=True)
        self.retention = Retention(
            self.store,
            cfg.storage.photo_dir,
            retention_days=cfg.storage.photo_retention_days,
            budget_mb=cfg.storage.photo_budget_mb,
            min_free_mb=cfg.storage.min_free_mb,
            state=self.disk,
            clock=self._clock,
        )
        self.supervisor.start("retention", self.retention.run)
        self.status_page = StatusPage(
            self.lanes,
            self.store,
            self.plans,
            self.health,
            cfg.site.zone,
            guard=Guard(cfg.web.password_hash),
            operator=self.operator,
        )
        if cfg.web.password_hash is None:
            log.warning(
                "no password for the status page: its actions are disabled until one is set "
                "with: edge set-password --config <config file>"
            )
        await self._start_listeners()
        log.info(
            "daemon ready",
            listen=f"{cfg.web.host}:{self.web.port}",
            lanes=list(self.lanes),
            platform=cfg.platform.mode,
        )

    async def _start_listeners(self) -> None:
        """The web listener (camera pushes, status page, photos for the guards) and, in
        province mode, the listener the platform fetches photos from."""
        cfg = self.cfg
        receiver = PushReceiver(self.lanes, cfg.site.zone)
        photos = PhotoServer(self.store, self.photos)
        self.web = WebServer(
            cfg.web.host,
            cfg.web.port,
            web_limits(cfg.web),
            [*receiver.routes(), *photos.routes(), *self.status_page.routes()],
            self.health,
            metrics=self.metrics.render,
        )
        await self.web.start()
        if self.signer is None:
            return
        self.photo_listener = PhotoListener(
            cfg.photo_web.host,
            cfg.photo_web.port,
            web_limits(cfg.web),
            store=self.store,
            photos=self.photos,
            signer=self.signer,
            allow=cfg.photo_web.allow,
        )
        await self.photo_listener.start()
        log.info(
            "photo listener for the province platform ready",
            listen=f"{cfg.photo_web.host}:{self.photo_listener.port}",
        )

    def _photo_urls(self) -> Callable[[str, int], str]:
        """Signed photo URLs on the photo listener in province mode (the platform fetches
        them); plain ones otherwise (only the status page and MQTT use them)."""
        if self.cfg.platform.mode != "province":
            return photo_url
        web = self.cfg.photo_web
        key = web.key_file or self.cfg.storage.database.parent / "photo-url.key"
        self.signer = PhotoSigner.from_file(key)
        return self.signer.url

    async def correct(self, serial: str, plate: str, color: PlateColor, reviewer: str) -> int:
        """A guard's correction of a misread plate (the status page calls this)."""
        return await correct_pass(
            self.cfg, self.store, self.platform, serial, plate=plate, color=color, reviewer=reviewer
        )

    async def _recover(self) -> None:
        """Finalise passes left unconfirmed by a stop or crash, from what is known.

        An opened (or possibly opened) barrier counts as passed; otherwise not lifted.
        """
        for row in await self.store.open_passes():
            maybe_opened = row["verdict"] == "open" and row["barrier"] in ("opened", None)
            signal_ = GateSignal.PASSED if maybe_opened else GateSignal.NOT_LIFTED
            await self.store.finalise(row["id"], signal_, self._clock(), "restart")
            log.info(
                "unconfirmed pass finalised after restart",
                serial=row["serial"],
                lane=row["lane_id"],
                gate_signal=signal_.name.lower(),
            )

    async def healthy(self) -> bool:
        """For the systemd watchdog: every component (lanes, readers, forwarder, …) running,
        and the ledger answering. Optional ones (MQTT telemetry) are not asked: a restart
        would not bring a broker back."""
        fault = self.store.fault
        if fault is not None and fault.restart_helps:
            return False
        return self.supervisor.essential_alive() and await self.store.ping()

    #: Sections a SIGHUP applies at once; any other change needs a restart.
    RELOADABLE = ("led_text", "lists", "control_plans")

    def reload_from(self, path: Path) -> list[str]:
        """Re-read the config file: apply what is safe to change while running (LED wording,
        lists, control plans) and name the sections that need a restart. Returns those."""
        try:
            new = load_config(path)
        except ConfigError as exc:
            log.error("config not reloaded: it has errors", errors=exc.render())
            return []
        changed = [
            name for name in Config.model_fields if getattr(new, name) != getattr(self.cfg, name)
        ]
        restart = [name for name in changed if name not in self.RELOADABLE]
        live = [name for name in changed if name in self.RELOADABLE]
        self.cfg = self.cfg.model_copy(update={name: getattr(new, name) for name in live})
        for lane in self.lanes.values():
            lane.led_text = self.cfg.led_text
        self.lists.reconfigure(self.cfg.lists)
        self.plans.reconfigure(self.cfg.control_plans)
        if live:
            log.info("config reloaded", sections=live)
        if restart:
            log.warning(
                "config changed where a restart is needed: systemctl restart edge-gate",
                sections=restart,
            )
        return restart

    def health(self) -> dict[str, Any]:
        alive = self.supervisor.alive()
        return {
            "ok": self.supervisor.essential_alive() and self.store.fault is None,
            "components": alive,
            "link": self.link.state.value,
            "link_reason": None if self.link.reason is None else self.link.reason.value,
            "link_error": self.link.to_json()["error"],
            "clock_offset_seconds": self.platform.clock_offset_seconds,
            "outbox": self.monitor.snapshot.to_json(),
            "cameras": {
                lane.id: lane.camera.to_json(self._clock()) for lane in self.lanes.values()
            },
            "devices": {lane.id: lane.devices.to_json() for lane in self.lanes.values()},
            "storage": {
                "accepting_photos": self.disk.accepting_photos,
                "alarm": self.disk.alarm,
                "photo_mb": round(self.disk.photo_bytes / 2**20, 1),
                "free_mb": _free_mb(self.cfg.storage.photo_dir),  # measured now, not cached
                "ledger_free_mb": _free_mb(self.cfg.storage.database.parent),
            },
            "ledger": self._ledger_report(),
        }

    def _ledger_report(self) -> dict[str, Any]:
        fault = self.store.fault
        return {
            "writable": fault is None,
            "fault": None if fault is None else fault.kind,
            "detail": None if fault is None else fault.detail,
            "since": self.store.fault_since,
            "restored": self.store.restored,
            "journal": len(self.journal.entries()),
        }

    async def stop(self) -> None:
        """Stop every component; the ledger is closed even if stopping one of them failed
        (its connection's thread would otherwise keep the process from exiting)."""
        try:
            self.status_page.close()
            await self.web.stop()
            if self.photo_listener is not None:
                await self.photo_listener.stop()
            await self.supervisor.stop()
            for lane in self.lanes.values():
                await lane.cancel_background()
                await lane.devices.aclose()
            self.devices.close()
            await self.platform.aclose()
        finally:
            await self.store.close()
        log.info("daemon stopped")


#: The exit status when the daemon could not start (systemd restarts it after RestartSec).
EXIT_STARTUP = 1


def startup_cause(exc: BaseException) -> str:
    """One line naming why the daemon could not start."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"the web port is already in use ({exc.strerror})"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"the ledger cannot be opened: {exc} (is storage.database an edge-gate ledger?)"
    return f"{type(exc).__name__}: {exc}"


def fail_startup(exc: BaseException) -> NoReturn:
    """Log one line naming the cause and end the process at once, non-zero: what was started
    (threads of the ledger, serial ports, device links) cannot keep a half-started daemon
    alive, and the OS releases it all; nothing was committed that could be lost."""
    log.error("startup failed", cause=startup_cause(exc))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_STARTUP)


async def run_until_signalled(daemon: Daemon, config_path: Path | None = None) -> None:
    """Run until SIGTERM/SIGINT; tell systemd when ready, feed its watchdog, reload the
    config on SIGHUP (see :meth:`Daemon.reload`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if config_path is not None:
        loop.add_signal_handler(signal.SIGHUP, lambda: daemon.reload_from(config_path))
    notifier = Notifier()
    try:
        await daemon.start()
    except Exception as exc:  # noqa: BLE001 - any error before READY ends the process
        fail_startup(exc)
    notifier.send(f"READY=1\nSTATUS=serving {len(daemon.lanes)} lane(s)")
    watchdog: asyncio.Task[None] | None = None
    if (interval := watchdog_interval()) is not None:
        watchdog = asyncio.create_task(feed_watchdog(notifier, interval, daemon.healthy))
    try:
        await stop.wait()
    finally:
        notifier.send("STOPPING=1")
        if watchdog is not None:
            watchdog.cancel()
        await daemon.stop()
        notifier.close()
