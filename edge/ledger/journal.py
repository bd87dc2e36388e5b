"""The fallback journal: guard overrides carried out while the ledger could not be written.

One JSON object per line, appended and fsynced before the barrier moves, on another file
system than the ledger's by default (``storage.fallback_journal``, ``/run/edge-gate``: RAM,
which a full or read-only data disk does not touch). Merged into the ledger — each entry a
pass, finalised, forwarded like any — as soon as the ledger can be written again, and at start
before the lanes continue their serial numbers. An entry already in the ledger (a merge cut
short by a crash) is recognised by its serial number and not merged twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import structlog

from edge.domain.codes import GateSignal
from edge.domain.decision import Decision
from edge.ledger.store import LedgerUnwritableError, NewPass, Store

log = structlog.get_logger("edge.ledger.journal")


class FallbackJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    async def append(self, new: NewPass, barrier: str) -> None:
        """Keep a pass the ledger could not take (durably, before anything moves on)."""
        d = new.decision
        entry = {
            "serial": new.serial,
            "lane_id": new.lane_id,
            "gate_code": new.gate_code,
            "direction": new.direction,
            "plate": new.plate,
            "plate_color": new.plate_color,
            "camera_time": new.camera_time,
            "received_at": new.received_at,
            "source": new.source,
            "vendor_id": new.vendor_id,
            "camera_read": new.camera_read,
            "text": new.text,
            "open": d.open,
            "code": d.code,
            "reason": d.reason,
            "decided_by": d.source,
            "flag": new.flag,
            "operator": d.operator,
            "barrier": barrier,
        }
        await asyncio.to_thread(self._append, json.dumps(entry, ensure_ascii=False))
        log.warning("pass kept in the fallback journal", serial=new.serial, path=str(self.path))

    def entries(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:  # a line torn by a crash mid-append: nothing moved for it yet
                log.warning("torn line in the fallback journal skipped", line=line[:200])
        return entries

    def last_serial(self, prefix: str) -> str | None:
        """The highest serial number journalled for ``prefix`` (so none is issued twice)."""
        serials = [e["serial"] for e in self.entries() if e["serial"].startswith(prefix)]
        return max(serials, default=None)

    async def merge(self, store: Store) -> int:
        """Put every journalled pass into the ledger, then empty the journal; how many were
        merged. A :class:`~edge.ledger.store.LedgerUnwritableError` leaves the journal as it is."""
        entries = self.entries()
        merged = 0
        for e in entries:
            decision = Decision(
                open=e["open"],
                code=e["code"],
                reason=e["reason"],
                source=e["decided_by"],
                flag=e["flag"],
                operator=e["operator"],
            )
            new = NewPass(
                serial=e["serial"],
                lane_id=e["lane_id"],
                gate_code=e["gate_code"],
                direction=e["direction"],
                plate=e["plate"],
                plate_color=e["plate_color"],
                camera_time=e["camera_time"],
                received_at=e["received_at"],
                source=e["source"],
                vendor_id=e.get("vendor_id"),
                decision=decision,
                flag=e["flag"],
                camera_read=bool(e.get("camera_read")),  # kept as a read: idempotent re-pushes
                text=e.get("text"),
            )
            try:
                recorded = await store.record_pass(new, [])
            except sqlite3.IntegrityError:
                continue  # merged before a crash cut the merge short
            await store.set_barrier(recorded.id, e["barrier"])
            opened = e["barrier"] == "opened"
            signal = GateSignal.PASSED if opened else GateSignal.NOT_LIFTED
            await store.finalise(recorded.id, signal, e["received_at"], "journal")
            merged += 1
        if entries:
            await asyncio.to_thread(self.path.unlink, missing_ok=True)
            log.warning("fallback journal merged into the ledger", passes=merged)
        return merged


async def keep_ledger(store: Store, journal: FallbackJournal, interval: float = 2.0) -> None:
    """Watch the ledger between passes: notice a deleted or replaced file without waiting for
    the next vehicle (a write restores a deleted one), find out when a faulted ledger can be
    written again (a check written to the audit log), and merge the fallback journal then."""
    while True:
        await asyncio.sleep(interval)
        problem = store.check_file()
        pending = journal.entries()
        if store.fault is None and problem is None and not pending:
            continue
        try:
            if pending:
                await journal.merge(store)
            else:
                why = problem or (store.fault.kind if store.fault else "")
                await store.audit(
                    actor="edge",
                    action="ledger check",
                    target=str(store.path),
                    origin="daemon",
                    result="ok",
                    detail=why,
                )
        except LedgerUnwritableError:
            pass  # logged once by the store; tried again at the next interval
