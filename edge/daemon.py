"""The daemon: opens the store, builds the lanes and the forwarder, serves camera pushes."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import structlog

from edge.actions.corrections import correct_pass
from edge.actions.filing import Filings
from edge.actions.inspection import ExportSources, vehicles_in
from edge.actions.operator import Operator
from edge.config.errors import ConfigError
from edge.config.model import Config, LaneConfig, load_config
from edge.domain.codes import Direction, GateSignal
from edge.domain.plates import PlateColor
from edge.gate.camera_photos import SnapshotSource
from edge.gate.devices import DeviceBuilder
from edge.gate.lane import Lane, LaneParts, LaneSettings
from edge.gate.pass_photos import PassPhotos
from edge.gate.verifier import Verifier
from edge.ingest.http_push import PushReceiver, command_channel
from edge.ingest.readers import camera_reader
from edge.ledger.books import ListBook, PlanBook
from edge.ledger.journal import FallbackJournal, keep_ledger
from edge.ledger.photos import PhotoStore, photo_url
from edge.ledger.retention import DiskState, Retention
from edge.ledger.store import LedgerDatabaseError, LedgerUnwritableError, Store
from edge.ops.health import (
    HealthReport,
    LedgerReport,
    OutboxReport,
    StorageReport,
)
from edge.ops.looplag import LoopLag
from edge.ops.metrics import Metrics
from edge.ops.supervisor import Supervisor
from edge.ops.systemd import Notifier, feed_watchdog, watchdog_interval
from edge.uplink.backlog import BacklogMonitor
from edge.uplink.breaker import LinkMonitor, LinkState
from edge.uplink.filing_sender import FilingSender
from edge.uplink.forwarder import Forwarder
from edge.uplink.lane_activity import LaneActivity
from edge.uplink.photo_fit import PhotoCheck
from edge.uplink.platform.base import Platform
from edge.uplink.platform.city import CityPlatform
from edge.uplink.platform.token import TokenClient
from edge.web.auth import Guard
from edge.web.erp_api import ErpApi
from edge.web.photo_listener import PhotoListener, PhotoServer, PhotoSigner
from edge.web.server import WebServer, web_limits
from edge.web.status_page import StatusPage

if TYPE_CHECKING:  # features imported only when the config has them (issue 19)
    from edge.gate.weighbridge import PlanReporter, Weighbridge
    from edge.mqtt.telemetry import Telemetry
    from edge.replica.replicator import Replicator
    from edge.uplink.platform.province import ProvincePlatform

log = structlog.get_logger("edge.daemon")


def _province(platform: Platform) -> ProvincePlatform | None:
    """``platform`` as the province API's client, if it is one (its module is imported only
    in province mode: if it is not loaded, ``platform`` is none of its clients)."""
    module = sys.modules.get("edge.uplink.platform.province")
    if module is None or not isinstance(platform, module.ProvincePlatform):
        return None
    return cast("ProvincePlatform", platform)


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
        from edge.uplink.platform.province import ProvincePlatform  # noqa: PLC0415 - its mode

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


@dataclass(frozen=True, slots=True)
class Components:
    """What the daemon builds once the ledger is open: everything that reads or writes it."""

    store: Store
    plans: PlanBook
    lists: ListBook
    lanes: dict[str, Lane]
    forwarder: Forwarder
    monitor: BacklogMonitor
    retention: Retention
    operator: Operator
    telemetry: Telemetry | None
    status_page: StatusPage
    web: WebServer
    photo_listener: PhotoListener | None
    #: Truck scales by name ([scales.*]).
    weighbridges: dict[str, Weighbridge] = field(default_factory=dict)
    #: ERP plans' goods records at lanes without a scale ([erp] token set).
    plan_reporter: PlanReporter | None = None
    #: The electronic ledger's operator actions (the page and the command line call them).
    filings: Filings | None = None
    #: The outbox of filings' sender (None: the platform takes no filings, e.g. a test double).
    filing_sender: FilingSender | None = None


class DaemonNotStartedError(RuntimeError):
    """A part that exists only while the daemon runs was asked for before :meth:`Daemon.start`
    (or after :meth:`Daemon.stop`)."""


class Daemon:
    """The composition root. Parts that need no ledger are built in the constructor; the rest
    is built once in :meth:`start`, right after the ledger opens. Every part that is started
    registers its stop on one :class:`contextlib.AsyncExitStack`, so :meth:`stop` undoes
    :meth:`start` in exactly the reverse order, and a start that fails halfway stops what it
    had started before re-raising."""

    def __init__(
        self,
        cfg: Config,
        *,
        platform: Platform | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self._clock = clock
        self.platform = platform or build_platform(cfg)
        self.link = LinkMonitor(
            clock,
            failures_to_open=cfg.platform.breaker_failures,
            probe_interval=cfg.platform.breaker_probe_seconds,
        )
        if isinstance(self.platform, TokenClient):  # a token fetched: the platform answers
            self.platform.tokens.on_fetched = self.link.success
        self.metrics = Metrics()
        self.loop_lag = LoopLag(self.metrics.observe_loop_lag)
        self.photos = PhotoStore(
            cfg.storage.photo_dir, keep_originals=cfg.storage.keep_original_photos
        )
        self.photo_check = PhotoCheck(cfg.storage.max_photo_pixels, cfg.storage.photo_decodes)
        self.supervisor = Supervisor()
        self.replica: Replicator | None = None
        if cfg.replica is not None:
            from edge.replica.replicator import Replicator  # noqa: PLC0415 - with [replica]

            self.replica = Replicator(
                cfg.replica, cfg.storage.database, cfg.storage.photo_dir, clock=clock
            )
        self.activity = LaneActivity()
        self.disk = DiskState()
        self.journal = FallbackJournal(cfg.storage.fallback_journal)
        self.devices = DeviceBuilder(cfg)
        self.signer: PhotoSigner | None = None
        self._components: Components | None = None
        self._running: contextlib.AsyncExitStack | None = None

    # -- the parts that exist while the daemon runs ---------------------------------------

    @property
    def components(self) -> Components:
        """The parts built in :meth:`start`. Raises :class:`DaemonNotStartedError` before."""
        if self._components is None:
            raise DaemonNotStartedError("the daemon is not started")
        return self._components

    @property
    def store(self) -> Store:
        return self.components.store

    @property
    def plans(self) -> PlanBook:
        return self.components.plans

    @property
    def lists(self) -> ListBook:
        return self.components.lists

    @property
    def lanes(self) -> dict[str, Lane]:
        return self.components.lanes

    @property
    def forwarder(self) -> Forwarder:
        return self.components.forwarder

    @property
    def monitor(self) -> BacklogMonitor:
        return self.components.monitor

    @property
    def retention(self) -> Retention:
        return self.components.retention

    @property
    def operator(self) -> Operator:
        return self.components.operator

    @property
    def telemetry(self) -> Telemetry | None:
        return self.components.telemetry

    @property
    def status_page(self) -> StatusPage:
        return self.components.status_page

    @property
    def web(self) -> WebServer:
        return self.components.web

    @property
    def photo_listener(self) -> PhotoListener | None:
        return self.components.photo_listener

    # -- start and stop -------------------------------------------------------------------

    def _lane_parts(
        self, lane_cfg: LaneConfig, store: Store, plans: PlanBook, lists: ListBook
    ) -> LaneParts:
        """What one lane coordinates: the ledger, its devices, verification, photos, books."""
        secret = lane_cfg.gate_secret_code
        snapshot, rear = lane_cfg.snapshot, lane_cfg.rear_snapshot
        return LaneParts(
            store=store,
            devices=self.devices.lane(lane_cfg),
            verifier=Verifier(
                self.platform,
                self.link,
                deadline=self.cfg.platform.verify_deadline_seconds,
                gate_secret=secret.get_secret_value() if secret else "",
            ),
            photos=PassPhotos(
                lane_cfg.id,
                Direction(lane_cfg.direction),
                self.photos,
                self.photo_check,
                self.disk,
                SnapshotSource(snapshot, lane_cfg.id) if snapshot else None,
                SnapshotSource(rear, lane_cfg.id) if rear else None,
            ),
            plans=plans,
            lists=lists,
            metrics=self.metrics,
            journal=self.journal,
            activity=self.activity,
            commands=command_channel(lane_cfg.camera),
        )

    async def start(self) -> None:
        """Open the ledger, build the parts, start them. If one fails to start, the ones
        started before it are stopped (in reverse order) and the error is raised."""
        async with contextlib.AsyncExitStack() as stack:
            await self._start(stack)
            self._running = stack.pop_all()
        cfg = self.cfg
        log.info(
            "daemon ready",
            listen=f"{cfg.web.host}:{self.web.port}",
            lanes=list(self.lanes),
            platform=cfg.platform.mode,
        )

    async def stop(self) -> None:
        """Stop every part in the reverse order of :meth:`start`; each is stopped even if
        stopping another failed (so the ledger is always closed: its connection's thread would
        otherwise keep the process from exiting)."""
        running, self._running = self._running, None
        if running is not None:
            await running.aclose()
        log.info("daemon stopped")

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        cfg = self.cfg
        stack.push_async_callback(self.platform.aclose)  # built in the constructor
        store = await Store.open_for(cfg, self._clock)  # Litestream's checkpoints, if any
        stack.push_async_callback(store.close)
        stack.callback(self.devices.close)
        parts = self._components = self._build(store)
        await self._recover()
        try:
            await self.journal.merge(store)  # before the lanes continue their serials
        except LedgerUnwritableError:
            log.error("fallback journal not merged: the ledger cannot be written")
        for lane in parts.lanes.values():
            await lane.load()
            lane.devices.start()
            stack.push_async_callback(lane.devices.aclose)
            stack.push_async_callback(lane.cancel_background)
        await store.release_other_scales(list(parts.weighbridges))  # a scale removed
        for bridge in parts.weighbridges.values():
            await bridge.resume()  # a truck weighed before a restart is not weighed again
            bridge.start()
            stack.push_async_callback(bridge.aclose)
        if parts.plan_reporter is not None:
            parts.plan_reporter.start()
            stack.push_async_callback(parts.plan_reporter.aclose)
        stack.push_async_callback(self.supervisor.stop)
        self._supervise(parts)
        self.metrics.watch(self.health)
        if cfg.web.password_hash is None:
            log.warning(
                "no password for the status page: its actions are disabled until one is set "
                "with: edge set-password --config <config file>"
            )
        await parts.web.start()
        stack.push_async_callback(self._stop_web, parts)
        if parts.photo_listener is not None:
            await parts.photo_listener.start()
            stack.push_async_callback(parts.photo_listener.stop)
            log.info(
                "photo listener for the province platform ready",
                listen=f"{cfg.photo_web.host}:{parts.photo_listener.port}",
            )

    @staticmethod
    async def _stop_web(parts: Components) -> None:
        parts.status_page.close()  # end its event streams before the web server stops
        await parts.web.stop()

    def _build(self, store: Store) -> Components:
        """Every part that reads or writes the ledger, built once (nothing starts here)."""
        cfg = self.cfg
        plans = PlanBook(store, cfg.control_plans, cfg.site.zone)
        lists = ListBook(store, cfg.lists, cfg.site.zone)
        lanes: dict[str, Lane] = {}
        settings = LaneSettings(cfg.site, cfg.decision, cfg.led_text)
        for lane_cfg in cfg.lanes:
            lanes[lane_cfg.id] = Lane(
                lane_cfg,
                settings,
                self._lane_parts(lane_cfg, store, plans, lists),
                clock=self._clock,
            )
            lanes[lane_cfg.id].fail_open = cfg.storage.ledger_fail_policy == "open"
        forwarder = Forwarder(
            store,
            self.platform,
            self.photos,
            self.link,
            passes=store,
            weighings=store,
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
            filings=store,
        )
        monitor = BacklogMonitor(
            store,
            self.link,
            forwarder.rate,
            alarm_age_seconds=cfg.forwarder.alarm_unsent_age_seconds,
            clock=self._clock,
            cameras=[lane.camera for lane in lanes.values()],
            site=cfg.site,
        )
        # what the guards, remote operators and the command line may do: one place
        weighbridges: dict[str, Weighbridge] = {}
        if cfg.scales:
            from edge.gate.weighbridge import build_weighbridges  # noqa: PLC0415 - [scales.*]

            weighbridges = build_weighbridges(cfg, store, lanes, self.devices)
        operator = Operator(
            store,
            lists,
            plans,
            lanes=lanes,
            correct=self.correct,
            goods_list=cfg.weighing.goods,
            weighbridges=weighbridges,
        )
        filings, filing_sender = self._filings(store, operator)
        telemetry: Telemetry | None = None
        if cfg.mqtt is not None:
            from edge.mqtt.telemetry import Telemetry  # noqa: PLC0415 - with [mqtt]

            telemetry = Telemetry(cfg.mqtt, cfg.site.enterprise_code, lanes, operator, self.health)
            for lane in lanes.values():
                lane.pass_listeners.append(telemetry.publish_pass)
            if self.replica is not None:
                self.replica.listeners.append(telemetry.replica_changed)
        retention = Retention(
            store,
            cfg.storage.photo_dir,
            retention_days=cfg.storage.photo_retention_days,
            budget_mb=cfg.storage.photo_budget_mb,
            min_free_mb=cfg.storage.min_free_mb,
            state=self.disk,
            clock=self._clock,
            replicated_before=self._photos_replicated_before(),
            outbox=store,
            outbox_sent_keep_days=cfg.storage.outbox_sent_keep_days,
            diagnosis_keep_days=cfg.storage.diagnosis_keep_days,
        )
        plan_reporter: PlanReporter | None = None
        if cfg.erp.token is not None:
            from edge.gate.weighbridge import attach_plan_reporter  # noqa: PLC0415 - ERP only

            plan_reporter = attach_plan_reporter(cfg, store, lanes)
        status_page = StatusPage(
            lanes,
            store,
            plans,
            self.health,
            cfg.site.zone,
            guard=Guard(cfg.web.password_hash),
            operator=operator,
            weighbridges=weighbridges,
            sources=ExportSources(
                photo_root=cfg.storage.photo_dir,
                document_root=cfg.storage.photo_dir,  # documents are under its filings/
                vehicles=vehicles_in(store),
            ),
            filings=filings,
            enterprise=cfg.site.enterprise_name,
        )
        erp_token = cfg.erp.token.get_secret_value() if cfg.erp.token else None
        cameras = [net for lane in cfg.lanes for net in getattr(lane.camera, "allow_from", [])]
        web = WebServer(
            cfg.web.host,
            cfg.web.port,
            web_limits(cfg.web, cameras),
            [
                *PushReceiver(lanes, cfg.site.zone).routes(),
                *PhotoServer(store, self.photos, store).routes(),
                *status_page.routes(),
                *ErpApi(operator, erp_token).routes(),
            ],
            self.health,
            metrics=self.metrics.render,
        )
        web.guard.signed_in = status_page.signed_in  # a guard signed in is never slowed by others
        photo_listener = None
        if self.signer is not None:
            photo_listener = PhotoListener(
                cfg.photo_web.host,
                cfg.photo_web.port,
                web_limits(cfg.web, cfg.photo_web.allow),  # the platform: no rates of its own
                store=store,
                photos=self.photos,
                signer=self.signer,
                allow=cfg.photo_web.allow,
            )
        return Components(
            store=store,
            plans=plans,
            lists=lists,
            lanes=lanes,
            forwarder=forwarder,
            monitor=monitor,
            retention=retention,
            operator=operator,
            telemetry=telemetry,
            status_page=status_page,
            web=web,
            photo_listener=photo_listener,
            weighbridges=weighbridges,
            plan_reporter=plan_reporter,
            filings=filings,
            filing_sender=filing_sender,
        )

    def _filings(self, store: Store, operator: Operator) -> tuple[Filings, FilingSender | None]:
        """The electronic ledger's actions and, when the platform takes filings, its sender
        (the filings' mode: the platform's; VehElecAccountGain in province mode)."""
        platform: CityPlatform | ProvincePlatform
        province = _province(self.platform)
        if province is not None:
            platform = province
        elif isinstance(self.platform, CityPlatform):
            platform = self.platform
        else:
            return Filings(operator, self.cfg.storage.photo_dir, zone=self.cfg.site.zone), None
        filings = Filings(
            operator,
            self.cfg.storage.photo_dir,
            platform=platform.mode,
            gain=self._gain if province else None,
            scan=province.scan_licence if province else None,
            need_complete=self._need_complete if province else None,
            zone=self.cfg.site.zone,
        )
        sender = FilingSender(
            store,
            platform,
            self.photos,
            self.link,
            company_code=self.cfg.site.enterprise_code,
            backoff_initial=self.cfg.forwarder.backoff_initial_seconds,
            backoff_max=self.cfg.forwarder.backoff_max_seconds,
            activity=self.activity,
            clock=self._clock,
        )
        return filings, sender

    async def _gain(self, plate: str, color: str, license_pk: str) -> dict[str, str]:
        """VehElecAccountGain on the province platform, its reply as wire fields."""
        province = _province(self.platform)
        assert province is not None
        data = await province.gain_vehicle(plate, PlateColor(color), license_pk)
        return {key: str(value) for key, value in data.model_dump().items()}

    async def _need_complete(self) -> list[tuple[str, str, str]]:
        """GetNeedCompleteVehEx on the province platform: (plate, colour, addDate)."""
        province = _province(self.platform)
        assert province is not None
        listed = await province.need_complete()
        return [(v.license, v.licenseColor, v.addDate) for v in listed]

    def _supervise(self, parts: Components) -> None:
        """Start the supervised tasks: lanes, camera readers, forwarder, monitors."""
        zone = self.cfg.site.zone
        for lane in parts.lanes.values():
            self.supervisor.start(f"lane:{lane.id}", lane.run)
            if (reader := camera_reader(lane, zone)) is not None:
                self.supervisor.start(*reader)
        self.supervisor.start("forwarder", parts.forwarder.run)
        if parts.filing_sender is not None:
            self.supervisor.start("filings", parts.filing_sender.run)
        if (province := _province(self.platform)) is not None:  # the 待完善 list from it
            from edge.uplink.need_complete_poll import poll_need_complete  # noqa: PLC0415

            fetch, store = province.need_complete, parts.store
            self.supervisor.start(
                "need-complete",
                lambda: poll_need_complete(fetch, store, zone, clock=self._clock),
                optional=True,
            )
        self.supervisor.start("monitor", parts.monitor.run)
        self.supervisor.start("ledger", lambda: keep_ledger(parts.store, self.journal))
        if parts.telemetry is not None:
            self.supervisor.start("telemetry", parts.telemetry.run, optional=True)
        self.supervisor.start("retention", parts.retention.run)
        self.supervisor.start("loop-lag", self.loop_lag.run, optional=True)
        if self.replica is not None:  # replication trouble never stops the gate
            self.supervisor.start("replica", self.replica.run, optional=True)
            if self.replica.cfg.photos:
                self.supervisor.start("replica-photos", self.replica.run_photos, optional=True)

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
            maybe_opened = row.verdict == "open" and row.barrier in ("opened", None)
            signal_ = GateSignal.PASSED if maybe_opened else GateSignal.NOT_LIFTED
            await self.store.finalise(row.id, signal_, self._clock(), "restart")
            log.info(
                "unconfirmed pass finalised after restart",
                serial=row.serial,
                lane=row.lane_id,
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

    def health(self) -> HealthReport:
        """The daemon's health now (also before :meth:`start`: then not ok, no ledger)."""
        parts = self._components
        lanes = {} if parts is None else parts.lanes
        now = self._clock()
        return HealthReport(
            ok=parts is not None
            and self.supervisor.essential_alive()
            and parts.store.fault is None,
            components=self.supervisor.alive(),
            link=self.link.state.value,
            link_reason=None if self.link.reason is None else self.link.reason.value,
            link_error=self.link.last_error if self.link.state is LinkState.DOWN else None,
            clock_offset_seconds=self.platform.clock_offset_seconds,
            outbox=OutboxReport() if parts is None else parts.monitor.snapshot,
            cameras={lane.id: lane.camera.report(now) for lane in lanes.values()},
            devices={lane.id: lane.devices.report() for lane in lanes.values()},
            storage=StorageReport(
                accepting_photos=self.disk.accepting_photos,
                alarm=self.disk.alarm,
                photo_mb=round(self.disk.photo_bytes / 2**20, 1),
                free_mb=_free_mb(self.cfg.storage.photo_dir),  # measured now, not cached
                ledger_free_mb=_free_mb(self.cfg.storage.database.parent),
            ),
            ledger=None if parts is None else self._ledger_report(parts.store),
            replica=None if self.replica is None else self.replica.report(),
        )

    def _photos_replicated_before(self) -> Callable[[], float | None] | None:
        """What retention may prune with a replica: photos already on it (None: any)."""
        if self.replica is None or not self.replica.cfg.photos:
            return None
        return self.replica.photos_replicated_before

    def _ledger_report(self, store: Store) -> LedgerReport:
        fault = store.fault
        return LedgerReport(
            writable=fault is None,
            fault=None if fault is None else fault.kind,
            detail=None if fault is None else fault.detail,
            since=store.fault_since,
            restored=store.restored,
            journal=len(self.journal.entries()),
        )


#: The exit status when the daemon could not start (systemd restarts it after RestartSec).
EXIT_STARTUP = 1


def startup_cause(exc: BaseException) -> str:
    """One line naming why the daemon could not start."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"the web port is already in use ({exc.strerror})"
    if isinstance(exc, LedgerDatabaseError):
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
