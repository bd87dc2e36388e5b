"""Forward released outbox entries to the platform: a pass record first, then its photos.

An entry is marked sent only after the platform acknowledged it, so nothing is lost; retryable
failures come back after a capped exponential backoff with jitter, forever; permanent
rejections become dead letters with the platform's reason and block nothing else.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from drivers.backoff import Backoff
from edge.domain.codes import Direction, GateSignal
from edge.domain.decision import resolved_control
from edge.domain.filing_words import PHOTO_MISSING
from edge.domain.goods import GoodsReport
from edge.domain.plates import PlateColor
from edge.domain.reports import Correction, PassReport, PhotoReport
from edge.ledger.filings import FilingLedger
from edge.ledger.outbox import Outbox
from edge.ledger.passes import PassLedger
from edge.ledger.photos import PhotoStore, photo_url
from edge.ledger.rows import StoredPass, StoredPhoto
from edge.ledger.store import OutboxEntry
from edge.ledger.weighings import WeighingLedger
from edge.ops.metrics import Metrics
from edge.uplink.backlog import SendRate
from edge.uplink.breaker import LinkMonitor, classify
from edge.uplink.lane_activity import LaneActivity
from edge.uplink.platform.base import Platform
from edge.uplink.platform.errors import InvalidMessageError, PermanentError, RetryableError

log = structlog.get_logger("edge.uplink.forwarder")

#: Reports kept for the passes' later entries (their photos), and the most a round reads
#: ahead in one query (:meth:`Forwarder._prefetch`).
_REPORT_CACHE = 512
_PREFETCH = _REPORT_CACHE // 2

#: Look at the outbox at least this often: `edge outbox retry`, `edge weighings checked` and
#: the like change it from another process (one indexed query each time; a clerk at the
#: command line waited up to 30 s to see the platform get what was released).
POLL_SECONDS = 5.0


class _Unknown:
    """When the next entry falls due, not asked yet."""


_UNKNOWN = _Unknown()


def pass_report(
    row: StoredPass,
    photos: Sequence[StoredPhoto],
    enterprise_name: str,
    zone: ZoneInfo,
    url: Callable[[str, int], str] = photo_url,
) -> PassReport:
    """The report of a pass; ``url`` gives a photo's relative URL (province records)."""
    assert row.gate_signal is not None, "only a final pass is forwarded"
    passed_at = row.passed_at if row.passed_at is not None else row.received_at
    numbers = {photo.number for photo in photos}
    answer = row.answer
    return PassReport(
        serial=row.serial,
        enterprise_code=row.serial[:10],
        enterprise_name=enterprise_name,
        gate_code=row.gate_code,
        plate=row.plate or "",
        color=PlateColor(row.plate_color),
        direction=Direction(row.direction),
        time_from=datetime.fromtimestamp(row.received_at, zone),
        time_to=datetime.fromtimestamp(passed_at, zone),
        gate_signal=GateSignal(row.gate_signal),
        answer=answer,
        photo_urls=(
            url(row.serial, 1) if 1 in numbers else "",
            url(row.serial, 2) if 2 in numbers else "",
        ),
        controlled=resolved_control(row.reason_code, answer),
    )


class Forwarder:
    def __init__(  # noqa: PLR0913 - the [forwarder] settings, as keywords
        self,
        store: Outbox,
        platform: Platform,
        photos: PhotoStore,
        link: LinkMonitor,
        *,
        passes: PassLedger,
        enterprise_name: str,
        zone: ZoneInfo,
        concurrency: int,
        backoff_initial: float,
        batch_size: int = 50,
        backoff_max: float,
        activity: LaneActivity | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        photo_url: Callable[[str, int], str] = photo_url,
        rand: Callable[[], float] = random.random,
        weighings: WeighingLedger | None = None,
        filings: FilingLedger | None = None,
    ) -> None:
        self.store, self.platform, self.photos, self.link = store, platform, photos, link
        #: Where the passes, photos and corrections that entries carry are read.
        self.passes = passes
        #: Where the weighings that goods records carry are read.
        self.weighings = weighings
        #: Where a vehicle's licensePK is read (the electronic ledger), for its records.
        self.filings = filings
        self.enterprise_name, self.zone = enterprise_name, zone
        self.concurrency, self.batch_size = concurrency, batch_size
        #: Each entry's retry delay from its attempts: equal jitter spreads retries apart.
        self.backoff = Backoff(backoff_initial, backoff_max, jitter=0.5, rand=rand)
        self.activity = activity or LaneActivity()
        self.metrics = metrics
        self.photo_url = photo_url
        self.poll_seconds = POLL_SECONDS
        self.rate = SendRate()
        self._reports: OrderedDict[int, tuple[PassReport, str, list[StoredPhoto]]] = OrderedDict()
        self._clock = clock
        self.sent = 0

    # -- the pool: a producer fills a small queue, workers send, a booker commits ------------

    async def run(self) -> None:
        self._queue: asyncio.Queue[list[OutboxEntry]] = asyncio.Queue(self.concurrency)
        self._claimed: set[int] = set()  # queued, being sent, or acknowledged but not booked
        self._to_book: list[int] = []
        self._book_wanted, self._room = asyncio.Event(), asyncio.Event()
        #: Groups a round's query found and claimed that the queue had no room for yet: the
        #: next rounds queue them without asking the ledger again — pass records and photos
        #: only: a goods record is claimed only when it goes at once (a clerk may hold it, or
        #: a split withdraw it, until it goes). One query serves up to
        #: ``concurrency × batch_size`` sends; it served ``concurrency`` (a city platform's
        #: records and every photo go one by one: a round read 200 rows to queue 4, most of
        #: a drain's time — issue 19).
        self._ahead: deque[list[OutboxEntry]] = deque()
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        booker = asyncio.create_task(self._booker())
        try:
            while True:
                self.store.outbox_changed.clear()
                self._room.clear()
                await self.activity.wait_idle()
                room = self._queue.maxsize - self._queue.qsize()
                if self.link.down:  # only a probe, and only when nothing else is out
                    self._release_ahead()
                    room = 1 if not self._claimed and self.link.permit() else 0
                next_at: float | _Unknown | None = _UNKNOWN
                if room > len(self._ahead):
                    due, next_at = await self.store.due_and_next(
                        room * self.batch_size, exclude=list(self._claimed)
                    )
                    now = room  # goods records: claimed only to go now, never ahead
                    for group in self._groups(due):
                        if group[0].kind == "goods" and now <= 0:
                            continue  # a clerk may still hold or withdraw it: found again
                        self._claimed.update(entry.id for entry in group)
                        if group[0].kind == "goods":
                            self._ahead.appendleft(group)
                            now -= 1
                        else:
                            self._ahead.append(group)
                    await self._prefetch(due)
                queued = 0
                while queued < room and self._ahead:
                    self._queue.put_nowait(self._ahead.popleft())
                    queued += 1
                more_due = bool(self._ahead) or (queued > 0 and queued == room)
                await self._wait(more_due=more_due, next_at=next_at)
        finally:
            for task in (*workers, booker):
                task.cancel()
            await asyncio.gather(*workers, booker, return_exceptions=True)
            await self._flush()  # book what the platform already acknowledged

    def _release_ahead(self) -> None:
        """The groups claimed ahead go back to the ledger unsent (the link went down: only a
        probe goes until it is back)."""
        while self._ahead:
            self._claimed.difference_update(entry.id for entry in self._ahead.popleft())

    async def _wait(self, *, more_due: bool, next_at: float | _Unknown | None = _UNKNOWN) -> None:
        """Until something changes: room in the queue, an entry released or booked, the next
        retry due, or (link down) the next probe or the link's return. ``next_at``: when the
        first entry not due yet will be, as the round's query found it (else asked here)."""
        waiters = [
            asyncio.create_task(self.store.outbox_changed.wait()),
            asyncio.create_task(self._room.wait()),
        ]
        timeout: float | None = self.poll_seconds
        if self.link.down:
            waiters.append(asyncio.create_task(self.link.up_again.wait()))
            if await self.store.next_due_at(exclude=list(self._claimed)) is not None:
                timeout = max(self.link.seconds_to_probe(), 0.001)
        elif not more_due:
            if isinstance(next_at, _Unknown):
                next_at = await self.store.next_due_at(exclude=list(self._claimed))
            if next_at is not None:
                timeout = min(self.poll_seconds, max(0.0, next_at - self._clock()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _worker(self) -> None:
        while True:
            group = await self._queue.get()
            if self._queue.qsize() == self._queue.maxsize - 1:  # it was full: room again
                self._room.set()
            acknowledged = await self._send_group(group)
            if len(acknowledged) < len(group):  # released claims (retries, dead letters)
                self._claimed.difference_update(e.id for e in group if e.id not in acknowledged)
                self._room.set()  # change what is due (acknowledged ones: once booked)
            if acknowledged:
                self._to_book.extend(acknowledged)
                self._book_wanted.set()

    async def _booker(self) -> None:
        """Book acknowledged entries as sent, many per transaction (one fsync for all)."""
        while True:
            await self._book_wanted.wait()
            await self.activity.wait_idle()
            await self._flush()

    async def _flush(self) -> None:
        ids, self._to_book = self._to_book, []
        self._book_wanted.clear()
        if ids:
            await self.store.mark_sent_many(ids)
            self._claimed.difference_update(ids)

    def _groups(self, entries: list[OutboxEntry]) -> list[list[OutboxEntry]]:
        """Pass records, and goods records, go in batches where the platform takes lists; the
        rest one by one."""
        size = min(self.batch_size, self.platform.max_batch)
        groups: list[list[OutboxEntry]] = []
        batched: list[OutboxEntry] = []
        for kind in ("record", "goods"):
            same = [e for e in entries if e.kind == kind] if size > 1 else []
            groups += [same[i : i + size] for i in range(0, len(same), size)]
            batched += same
        return groups + [[e] for e in entries if e not in batched]

    async def _send_group(self, entries: list[OutboxEntry]) -> list[int]:
        """Send one entry or a batch of pass (or goods) records; returns the acknowledged
        entry ids."""
        if len(entries) == 1:
            return [entries[0].id] if await self._send(entries[0]) else []
        kind = entries[0].kind
        await self.activity.wait_idle()
        try:
            reports = [await self._report(entry) for entry in entries]
            if kind == "goods":
                goods = [await self._goods(entry) for entry in entries]
                items = [(r, g) for (r, _, _), g in zip(reports, goods, strict=True)]
                await self.platform.send_goods_records(items)
            else:
                await self.platform.send_passes([report for report, _, _ in reports])
        except PermanentError as exc:
            log.warning("batch rejected; sending its entries one by one", error=str(exc))
            return [entry.id for entry in entries if await self._send(entry)]
        except Exception as exc:  # noqa: BLE001 - retried, never dropped
            await self._failed(entries, exc)
            return []
        self.link.success()
        self._acknowledged(len(entries))
        for report, lane, _ in reports:
            log.info(
                "forwarded to platform",
                serial=report.serial,
                lane=lane,
                kind=kind,
                batch=len(entries),
            )
        return [entry.id for entry in entries]

    def _acknowledged(self, count: int) -> None:
        self.sent += count
        self.rate.sent(count)

    async def _report(
        self, entry: OutboxEntry, *, fresh: bool = False
    ) -> tuple[PassReport, str, list[StoredPhoto]]:
        """The pass as the platform receives it, its lane (for the log) and its photo rows.

        Cached for the pass's photo sends, which follow its record (a final pass never
        changes; its photo rows may, when a re-push brings a pass's photos after it was sent:
        ``fresh`` reads them again)."""
        cached = None if fresh else self._reports.get(entry.pass_id)
        if cached is not None:
            self._reports.move_to_end(entry.pass_id)
            return cached
        row, photos = await self.passes.pass_and_photos(entry.pass_id)
        return await self._remember(row, photos)

    async def _prefetch(self, entries: list[OutboxEntry]) -> None:
        """The reports of the passes of ``entries`` not cached yet, read in one query: the
        round's entries are sent without a read each (a drain read every pass alone)."""
        wanted = [i for i in dict.fromkeys(e.pass_id for e in entries) if i not in self._reports]
        if wanted:
            for row, photos in await self.passes.passes_and_photos(wanted[:_PREFETCH]):
                await self._remember(row, photos)

    async def _remember(
        self, row: StoredPass, photos: list[StoredPhoto]
    ) -> tuple[PassReport, str, list[StoredPhoto]]:
        report = pass_report(row, photos, self.enterprise_name, self.zone, self.photo_url)
        if self.filings is not None and report.plate and self.platform.sends_license_pk:
            pk = await self.filings.license_pk_of(report.plate, report.color)
            report = replace(report, license_pk=pk or "")
        self._reports[row.id] = (report, str(row.lane_id), photos)
        self._reports.move_to_end(row.id)
        if len(self._reports) > _REPORT_CACHE:
            self._reports.popitem(last=False)
        return self._reports[row.id]

    async def _failed(self, entries: list[OutboxEntry], exc: Exception) -> None:
        """A retryable (or unexpected) failure: each entry comes back after its backoff."""
        if self.metrics is not None:
            self.metrics.forward_errors.labels(type(exc).__name__).inc(len(entries))
        if (kind := classify(exc)) is not None:
            self.link.failure(str(exc), kind)
        elif not isinstance(exc, RetryableError):
            log.error("unexpected error while forwarding; will retry", exc_info=exc)
        for entry in entries:
            delay = self.backoff.delay(entry.attempts)
            await self.store.mark_retry(entry.id, self._clock() + delay, repr(exc))

    async def _correction(self, correction_id: int) -> Correction:
        row = await self.passes.get_correction(correction_id)
        return Correction(
            plate=row.plate,
            color=PlateColor(row.plate_color),
            answer=row.answer,
            reviewer=row.reviewer,
            reviewed_at=datetime.fromtimestamp(row.reviewed_at, self.zone),
        )

    async def _goods(self, entry: OutboxEntry) -> GoodsReport:
        """A goods record from its weighing (goods name and tonnage as checked when queued)."""
        if self.weighings is None or entry.weighing_id is None:
            raise InvalidMessageError("a goods record without its weighing")
        row = await self.weighings.weighing(entry.weighing_id)
        if row.goods is None or row.ysl is None:
            raise InvalidMessageError(f"weighing {row.id} has no goods name or tonnage")
        at = row.second_at if row.second_at is not None else row.first_at
        return GoodsReport(row.goods, row.ysl, datetime.fromtimestamp(at, self.zone))

    async def _send(self, entry: OutboxEntry) -> bool:
        """Send one entry; True when the platform acknowledged it (the caller books it)."""
        with structlog.contextvars.bound_contextvars(outbox_id=entry.id, kind=entry.kind):
            try:
                await self.activity.wait_idle()
                report, lane, photos = await self._report(entry)
                structlog.contextvars.bind_contextvars(serial=report.serial, lane=lane)
                if entry.kind == "record":
                    await self.platform.send_pass(report)
                elif entry.kind == "goods":
                    await self.platform.send_goods_records([(report, await self._goods(entry))])
                elif entry.kind == "correction":
                    assert entry.correction_id is not None
                    await self.platform.send_correction(
                        report, await self._correction(entry.correction_id)
                    )
                else:
                    photo = next((p for p in photos if p.id == entry.photo_id), None)
                    if photo is None:  # a photo the pass got after its report was cached
                        report, lane, photos = await self._report(entry, fresh=True)
                        photo = next(p for p in photos if p.id == entry.photo_id)
                    data = await self.photos.read(photo.path)
                    taken = datetime.fromtimestamp(photo.taken_at, self.zone)
                    await self.platform.send_photo(
                        report, PhotoReport(photo.number, photo.kind, taken, data)
                    )
            except PermanentError as exc:
                if self.metrics is not None:
                    self.metrics.forward_errors.labels(type(exc).__name__).inc()
                if not isinstance(exc, InvalidMessageError):
                    self.link.success()  # the platform answered: the link is fine
                log.error("platform rejected entry; kept as dead letter", error=str(exc))
                await self.store.mark_dead(entry.id, str(exc))
            except FileNotFoundError as exc:
                log.error("photo file is missing; kept as dead letter", error=str(exc))
                await self.store.mark_dead(entry.id, f"{PHOTO_MISSING}: {exc}")
            except Exception as exc:  # noqa: BLE001 - retried, never dropped
                await self._failed([entry], exc)
            else:
                self.link.success()
                self._acknowledged(1)
                log.info("forwarded to platform")
                return True
        return False
