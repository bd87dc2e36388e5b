"""Forward released outbox entries to the platform: a pass record first, then its photos.

An entry is marked sent only after the platform acknowledged it, so nothing is lost; retryable
failures come back after a capped exponential backoff with jitter, forever; permanent
rejections become dead letters with the platform's reason and block nothing else.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from edge.activity import LaneActivity
from edge.codes import Direction, GateSignal
from edge.link import LinkMonitor
from edge.monitor import SendRate
from edge.photos import PhotoStore, photo_url
from edge.plates import PlateColor
from edge.platform.base import PassReport, PhotoReport, Platform, VerifyAnswer
from edge.platform.errors import PermanentError, PlatformUnavailableError, RetryableError
from edge.store import OutboxEntry, Store

log = structlog.get_logger("edge.forwarder")

#: Look at the outbox at least this often: `edge outbox retry` changes it from outside.
POLL_SECONDS = 30.0


def backoff_delay(attempts: int, initial: float, cap: float, rand: float) -> float:
    """Equal-jitter exponential backoff: half fixed, half random, never above ``cap``."""
    ceiling: float = min(cap, initial * 2.0 ** min(attempts, 30))
    return ceiling / 2 + ceiling / 2 * rand


def pass_report(
    row: sqlite3.Row, photos: Sequence[sqlite3.Row], enterprise_name: str, zone: ZoneInfo
) -> PassReport:
    passed_at = row["passed_at"] if row["passed_at"] is not None else row["received_at"]
    numbers = {photo["number"] for photo in photos}
    answer = json.loads(row["verify_json"]) if row["verify_json"] else None
    return PassReport(
        serial=row["serial"],
        enterprise_code=row["serial"][:10],
        enterprise_name=enterprise_name,
        gate_code=row["gate_code"],
        plate=row["plate"] or "",
        color=PlateColor(row["plate_color"]),
        direction=Direction(row["direction"]),
        time_from=datetime.fromtimestamp(row["received_at"], zone),
        time_to=datetime.fromtimestamp(passed_at, zone),
        gate_signal=GateSignal(row["gate_signal"]),
        answer=None if answer is None else VerifyAnswer.from_json(answer),
        photo_urls=(
            photo_url(row["serial"], 1) if 1 in numbers else "",
            photo_url(row["serial"], 2) if 2 in numbers else "",
        ),
    )


class Forwarder:
    def __init__(
        self,
        store: Store,
        platform: Platform,
        photos: PhotoStore,
        link: LinkMonitor,
        *,
        enterprise_name: str,
        zone: ZoneInfo,
        concurrency: int,
        backoff_initial: float,
        batch_size: int = 50,
        backoff_max: float,
        activity: LaneActivity | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.platform, self.photos, self.link = store, platform, photos, link
        self.enterprise_name, self.zone = enterprise_name, zone
        self.concurrency, self.batch_size = concurrency, batch_size
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.activity = activity or LaneActivity()
        self.poll_seconds = POLL_SECONDS
        self.rate = SendRate()
        self._clock, self._rand = clock, rand
        self.sent = 0

    def _slots(self, in_flight: int) -> int:
        """How many new sends may start: none while a lane is busy (checked by the caller),
        a single probe while the link is down, else the free concurrency."""
        if self.link.down:
            return 1 if in_flight == 0 and self.link.permit() else 0
        return self.concurrency - in_flight

    async def run(self) -> None:
        in_flight: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                self.store.outbox_changed.clear()
                if self.concurrency > len(in_flight):
                    await self.activity.wait_idle()
                    slots = self._slots(len(in_flight))
                    if slots > 0:
                        due = await self.store.due_entries(
                            slots * self.batch_size, exclude=list(in_flight)
                        )
                        for group in self._groups(due)[:slots]:
                            task = asyncio.create_task(self._send_group(group))
                            in_flight.update((entry.id, task) for entry in group)
                await self._wait(in_flight)
                for entry_id, task in list(in_flight.items()):
                    if task.done():
                        del in_flight[entry_id]
        finally:
            for task in in_flight.values():
                task.cancel()

    async def _wait(self, in_flight: dict[int, asyncio.Task[None]]) -> None:
        """Until something changes: an entry is released or sent, a send ends, the next
        retry is due, or (link down) the next probe or the link's return."""
        next_at = await self.store.next_due_at(exclude=list(in_flight))
        timeout = None if next_at is None else max(0.0, next_at - self._clock())
        if timeout == 0.0 and len(in_flight) >= self.concurrency:
            timeout = None  # everything due is waiting for a free slot
        timeout = self.poll_seconds if timeout is None else min(timeout, self.poll_seconds)
        waiters = [asyncio.create_task(self.store.outbox_changed.wait())]
        if self.link.down:
            waiters.append(asyncio.create_task(self.link.up_again.wait()))
            if next_at is not None:
                probe = self.link.seconds_to_probe()
                timeout = probe if in_flight else max(timeout or 0.0, probe)
        try:
            await asyncio.wait(
                [*waiters, *in_flight.values()],
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _groups(self, entries: list[OutboxEntry]) -> list[list[OutboxEntry]]:
        """Pass records go in batches where the platform takes lists; the rest one by one."""
        size = min(self.batch_size, self.platform.max_batch)
        records = [e for e in entries if e.kind == "record"] if size > 1 else []
        batches = [records[i : i + size] for i in range(0, len(records), size)]
        return batches + [[e] for e in entries if e not in records]

    async def _send_group(self, entries: list[OutboxEntry]) -> None:
        if len(entries) == 1:
            await self._send(entries[0])
            return
        await self.activity.wait_idle()
        try:
            reports = [await self._report(entry) for entry in entries]
            await self.platform.send_passes([report for report, _ in reports])
        except PermanentError as exc:
            log.warning("batch rejected; sending its passes one by one", error=str(exc))
            for entry in entries:
                await self._send(entry)
        except Exception as exc:  # noqa: BLE001 - retried, never dropped
            await self._failed(entries, exc)
        else:
            self.link.success()
            self.sent += len(entries)
            self.rate.sent(len(entries))
            await self.activity.wait_idle()
            await self.store.mark_sent_many([entry.id for entry in entries])
            for report, lane in reports:
                log.info(
                    "forwarded to platform",
                    serial=report.serial,
                    lane=lane,
                    kind="record",
                    batch=len(entries),
                )

    async def _report(self, entry: OutboxEntry) -> tuple[PassReport, str]:
        """The pass as the platform receives it, and its lane (for the log)."""
        row = await self.store.get_pass(entry.pass_id)
        photos = await self.store.photos_of(entry.pass_id)
        return pass_report(row, photos, self.enterprise_name, self.zone), str(row["lane_id"])

    async def _failed(self, entries: list[OutboxEntry], exc: Exception) -> None:
        """A retryable (or unexpected) failure: each entry comes back after its backoff."""
        if isinstance(exc, RetryableError):
            self.link.failure(str(exc), connection=isinstance(exc, PlatformUnavailableError))
        else:
            log.error("unexpected error while forwarding; will retry", exc_info=exc)
        for entry in entries:
            delay = backoff_delay(
                entry.attempts, self.backoff_initial, self.backoff_max, self._rand()
            )
            await self.store.mark_retry(entry.id, self._clock() + delay, repr(exc))

    async def _send(self, entry: OutboxEntry) -> None:
        with structlog.contextvars.bound_contextvars(outbox_id=entry.id, kind=entry.kind):
            try:
                await self.activity.wait_idle()
                report, lane = await self._report(entry)
                structlog.contextvars.bind_contextvars(serial=report.serial, lane=lane)
                if entry.kind == "record":
                    await self.platform.send_pass(report)
                else:
                    assert entry.photo_id is not None
                    photo = await self.store.get_photo(entry.photo_id)
                    data = await self.photos.read(photo["path"])
                    taken = datetime.fromtimestamp(photo["taken_at"], self.zone)
                    await self.platform.send_photo(
                        report, PhotoReport(photo["number"], photo["kind"], taken, data)
                    )
            except PermanentError as exc:
                log.error("platform rejected entry; kept as dead letter", error=str(exc))
                await self.store.mark_dead(entry.id, str(exc))
            except FileNotFoundError as exc:
                log.error("photo file is missing; kept as dead letter", error=str(exc))
                await self.store.mark_dead(entry.id, f"photo file missing: {exc}")
            except Exception as exc:  # noqa: BLE001 - retried, never dropped
                await self._failed([entry], exc)
            else:
                self.link.success()
                self.sent += 1
                self.rate.sent()
                await self.activity.wait_idle()
                await self.store.mark_sent(entry.id)
                log.info("forwarded to platform")
