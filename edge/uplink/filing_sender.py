"""The outbox of filings (issue 15): send the electronic ledger's entries to the platform.

Like passes (:mod:`edge.uplink.forwarder`): an entry is marked accepted only after the
platform acknowledged it, with the ``licensePK`` it returned; a link failure comes back after
a capped exponential backoff with jitter, forever, and counts for the link's breaker (while
it is open only the breaker's probe goes out); a refusal — the platform's words, or a field
our own check of the wire message refuses — is a dead letter with that reason, sent again
only when an operator asks (``edge filings retry``, the page). The entry is sent as it is
when it is sent (one pending row per entry and platform), so a change made while the
platform is away is not lost, nor sent twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from drivers.backoff import Backoff
from edge.domain.filing import (
    NO_STATUS_ON_WIRE,
    SUPERSEDED,
    Entry,
    EntryStatus,
    ImageKind,
    Register,
    plate_key,
)
from edge.domain.filing_words import IMAGE_MISSING
from edge.ledger.filings import FilingLedger
from edge.ledger.photos import PhotoStore
from edge.ledger.rows import FilingOutboxEntry
from edge.uplink.breaker import LinkMonitor, classify
from edge.uplink.lane_activity import LaneActivity
from edge.uplink.platform.base import FilingPlatform, FilingReceipt
from edge.uplink.platform.errors import InvalidMessageError, PermanentError
from edge.uplink.platform.filing_wire import ADDS, method_for, wire_fields

log = structlog.get_logger("edge.uplink.filing_sender")

#: Filings read per round (a plant files a few a day; an import of thousands is sent in turns).
BATCH = 20
#: Said after the platform's words when it refused an Add sent again after an earlier one's
#: answer was lost (an in-plant vehicle or a machine: the spec has no way to ask whether it
#: took the first; README "Electronic ledger").
LOST_ADD = "（此前一次新增未得到平台答复，平台可能已收下该备案：请到平台核对）"
#: The Add of a transport vehicle, and the words of the province platform refusing it
#: because it holds that vehicle's filing already (one per plate, shared by every enterprise:
#: 「车辆备案已存在，请勿重复新增」): then VehElecAccountGain gives its licensePK.
VEHICLE_ADD = "VehElecAccountAdd"
EXISTS = "已存在"
#: Look at the outbox of filings at least this often (the command line changes it too).
POLL_SECONDS = 30.0


@dataclass
class _Sending:
    """The method a filing goes out as; the Modify once a held filing was taken, so a
    refusal names the method the platform actually refused."""

    method: str


class FilingSender:
    """Sends due filings one at a time, in order; ``company_code`` is the enterprise code
    (companyCode of the in-plant and machinery methods)."""

    def __init__(  # noqa: PLR0913 - the [forwarder] settings, as keywords
        self,
        store: FilingLedger,
        platform: FilingPlatform,
        photos: PhotoStore,
        link: LinkMonitor,
        *,
        company_code: str,
        backoff_initial: float,
        backoff_max: float,
        activity: LaneActivity | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.platform, self.photos, self.link = store, platform, photos, link
        self.company_code = company_code
        self.backoff = Backoff(backoff_initial, backoff_max, jitter=0.5, rand=rand)
        self.activity = activity or LaneActivity()
        self.poll_seconds = POLL_SECONDS
        self._clock = clock
        self.sent = 0

    async def run(self) -> None:
        while True:
            self.store.filings_changed.clear()
            await self.activity.wait_idle()
            due = await self.store.due_filings(BATCH)
            # while the breaker is open, a filing goes out only as the link's probe
            if due and (not self.link.down or self.link.permit()):
                for row in due:
                    await self.send(row)
                    if self.link.down:
                        break
            await self._wait()

    async def _wait(self) -> None:
        timeout = self.poll_seconds
        next_at = await self.store.next_filing_due_at()
        if self.link.down and next_at is not None:
            timeout = max(self.link.seconds_to_probe(), 0.001)
        elif next_at is not None:
            timeout = min(timeout, max(0.001, next_at - self._clock()))
        waiters = [asyncio.create_task(self.store.filings_changed.wait())]
        if self.link.down and next_at is not None:
            waiters.append(asyncio.create_task(self.link.up_again.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def send(self, row: FilingOutboxEntry) -> bool:
        """Send one filing; True when the platform accepted it."""
        with structlog.contextvars.bound_contextvars(filing=row.id, entry=row.entry_id):
            stored = await self.store.get_entry(row.entry_id)
            if stored is None:  # pragma: no cover - entries are never deleted
                await self.store.filing_failed(row.id, "the entry is gone", None)
                return False
            entry = stored.entry()
            if await self._withdrawn(row, entry):
                return False
            license_pk = await self._license_pk(row, entry)
            # the method going out: an Add, or the Modify of a filing the platform holds
            sending = _Sending(method_for(self.platform.mode, entry, license_pk))
            # an Add whose answer never came may have been taken: ask before adding again
            again = sending.method in ADDS and row.unanswered in ADDS
            try:
                images = {
                    ImageKind(image.kind): await self.photos.read(image.path)
                    for image in await self.store.images_of(row.entry_id)
                }
                if again and (held := await self.platform.held_filing(entry)) is not None:
                    log.warning("a lost Add was taken by the platform: modifying its filing",
                                plate=entry.plate, license_pk=held.license_pk)  # fmt: skip
                    license_pk = await self._take(row, held)
                    sending.method = method_for(self.platform.mode, entry, license_pk)
                receipt = await self._file_or_take(row, sending, entry, images, license_pk)
            except InvalidMessageError as exc:
                log.error("filing breaks the spec; kept as dead letter", error=str(exc))
                await self.store.filing_answered(
                    row.id, sending.method, accepted=False, answer=f"not sent: {exc.status}"
                )
            except PermanentError as exc:
                self.link.success()  # the platform answered: the link is fine
                log.warning("platform refused a filing", plate=entry.plate, error=str(exc))
                method = sending.method  # the one refused: the Add, or the Modify after it
                words = exc.status + (LOST_ADD if again and method in ADDS else "")
                await self.store.filing_answered(row.id, method, accepted=False, answer=words)
            except FileNotFoundError as exc:
                log.error("document image missing; kept as dead letter", error=str(exc))
                await self.store.filing_failed(row.id, f"{IMAGE_MISSING}: {exc}", None)
            except Exception as exc:
                if (kind := classify(exc)) is not None:
                    self.link.failure(str(exc), kind)
                else:
                    log.error("unexpected error while filing; will retry", exc_info=exc)
                retry_at = self._clock() + self.backoff.delay(row.attempts)
                await self.store.filing_failed(row.id, repr(exc), retry_at)
            else:
                self.link.success()
                self.sent += 1
                await self.store.filing_answered(
                    row.id, receipt.method, accepted=True, answer="",
                    license_pk=receipt.license_pk or None,
                )  # fmt: skip
                log.info("filing accepted", plate=entry.plate, method=receipt.method,
                         license_pk=receipt.license_pk)  # fmt: skip
                return True
        return False

    async def _take(self, row: FilingOutboxEntry, held: FilingReceipt) -> str:
        """Store the licensePK of the filing the platform holds for ``row``'s entry."""
        await self.store.note_filing(
            row.entry_id, self.platform.mode, held.license_pk, held.method,
            f"platform:{self.platform.mode}",
        )  # fmt: skip
        return held.license_pk

    async def _withdrawn(self, row: FilingOutboxEntry, entry: Entry) -> bool:
        """Close ``row`` unsent when there is nothing to send (True)."""
        if entry.REGISTER is Register.VEHICLE and entry.status is EntryStatus.CANCELLED:
            # set to 注销 while pending: its methods carry no status, nothing to send
            await self.store.filing_withdrawn(row.id, NO_STATUS_ON_WIRE)
            return True
        if entry.status is EntryStatus.CANCELLED and await self.store.superseded(
            row.entry_id, self.platform.mode
        ):  # a 注销 retried after its plate's new entry was filed: it would cancel that
            await self.store.filing_withdrawn(row.id, SUPERSEDED)
            return True
        return False

    async def _license_pk(self, row: FilingOutboxEntry, entry: Entry) -> str:
        """The licensePK the entry is filed under with this platform ("": none yet)."""
        known = {f.platform: f for f in await self.store.filings_of(row.entry_id)}
        mine = known.get(self.platform.mode)
        license_pk = (mine.license_pk or "") if mine is not None else ""
        if (
            not license_pk
            and entry.REGISTER is Register.VEHICLE
            and self.platform.mode == "province"
        ):
            # a reissued plate: the platform's filing of it (of the 注销 entry) now
            # describes this vehicle (README "Electronic ledger")
            license_pk = await self.store.cancelled_license_pk(
                entry.REGISTER.value, *plate_key(entry)
            )
        return license_pk

    async def _file_or_take(
        self,
        row: FilingOutboxEntry,
        sending: _Sending,
        entry: Entry,
        images: Mapping[ImageKind, bytes],
        license_pk: str,
    ) -> FilingReceipt:
        """Send ``row`` as ``sending.method``; the platform's receipt. A transport vehicle's
        Add refused 「…已存在…」 — another enterprise (or we, long ago) filed this truck, and
        the platform holds one filing per plate, shared (README "Electronic ledger") — takes
        the held filing (VehElecAccountGain) and sends ours as Modify when its fields differ;
        ``sending.method`` is then the Modify. Raises the platform's errors."""
        try:
            return await self._file(row, sending.method, entry, images, license_pk)
        except PermanentError as exc:
            if (
                sending.method != VEHICLE_ADD
                or EXISTS not in exc.status
                or (held := await self.platform.held_filing(entry)) is None
            ):
                raise
        log.warning("the platform holds this vehicle's filing: taking it",
                    plate=entry.plate, license_pk=held.license_pk)  # fmt: skip
        license_pk = await self._take(row, held)
        sending.method = method_for(self.platform.mode, entry, license_pk)
        mine = wire_fields(entry, images)
        if all(mine.get(k, v) == v for k, v in held.fields.items()):
            return held  # the same vehicle as ours: nothing to change
        return await self._file(row, sending.method, entry, images, license_pk)

    async def _file(
        self,
        row: FilingOutboxEntry,
        method: str,
        entry: Entry,
        images: Mapping[ImageKind, bytes],
        license_pk: str,
    ) -> FilingReceipt:
        """Note ``row`` as going out as ``method`` and send it; the platform's receipt.
        Raises the platform's errors."""
        await self.store.filing_sending(row.id, method)
        return await self.platform.file_entry(
            entry, images, company_code=self.company_code, license_pk=license_pk
        )
