"""The province's list of vehicles whose filing must be completed (GetNeedCompleteVehEx
§4.2.3), read when the daemon starts and then every :data:`POLL_SECONDS`, onto the status
page's 待完善 list (:meth:`edge.ledger.need_complete.NeedCompleteLedger.note_need_complete`).
The platform answers at most 20 vehicles a call (research §3.3); a plate already completed
since the platform listed it stays completed. A read that fails (the platform away, a
refusal) is tried again after :data:`RETRY_FIRST` seconds, doubling up to :data:`RETRY_MAX`
(not after a whole :data:`POLL_SECONDS`). Log once when the list cannot be read, once when
it can again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from drivers.backoff import Backoff
from edge.ledger.need_complete import NeedCompleteLedger
from edge.uplink.platform.errors import PlatformError
from edge.uplink.platform.province_models import NeedCompleteVehicle

#: How often the list is read (it changes when the platform's staff review filings).
POLL_SECONDS = 1800.0
#: A failed read is tried again after this many seconds, doubling each time up to RETRY_MAX.
RETRY_FIRST = 30.0
RETRY_MAX = 300.0
#: addDate as the spec's example writes it (yyyyMMddHHmmss); other forms are tried too.
_DATE_FORMS = ("%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")

log = structlog.get_logger("edge.uplink.need_complete_poll")

Fetch = Callable[[], Awaitable[Sequence[NeedCompleteVehicle]]]


def added_at(text: str, zone: Any, now: float) -> float:
    """A listed vehicle's addDate as unix seconds (site time); ``now`` when absent or not a
    time."""
    for form in _DATE_FORMS:
        try:
            return datetime.strptime(text.strip(), form).replace(tzinfo=zone).timestamp()
        except ValueError:
            continue
    return now


async def poll_need_complete(
    fetch: Fetch,
    ledger: NeedCompleteLedger,
    zone: Any,
    *,
    every: float = POLL_SECONDS,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Read the platform's list forever (a supervised task): every ``every`` seconds, a
    failed read again after a capped backoff (:data:`RETRY_FIRST` … :data:`RETRY_MAX`)."""
    failing = False
    retry = Backoff(RETRY_FIRST, RETRY_MAX)
    while True:
        try:
            listed = await fetch()
        except PlatformError as exc:
            if not failing:
                log.warning("need-complete list unavailable; trying again soon", error=str(exc))
            failing = True
            await sleep(retry.next())
            continue
        retry.reset()
        if failing:
            log.info("need-complete list readable again")
        failing = False
        added = 0
        for vehicle in listed:
            if vehicle.license:
                at = added_at(vehicle.addDate, zone, clock())
                color = vehicle.licenseColor or "1"
                added += await ledger.note_need_complete(vehicle.license, color, at)
        if added:
            log.info("vehicles to complete listed by the platform", added=added)
        await sleep(every)
