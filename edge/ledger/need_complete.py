"""The 待完善 list: plates whose filing (车辆备案) the platform says must be completed (one part
of :class:`edge.ledger.store.Store`, issue 15).

A pass whose verify answer says isNeedComplete 1 or 2 puts (or keeps) its plate on the list,
with that pass, and a later answer saying 0 takes it off: both by triggers as the pass is
written (migration 14), so the list costs the lane nothing. The province's
GetNeedCompleteVehEx adds plates the platform lists (:meth:`note_need_complete`); an accepted
filing takes its plate off (:meth:`need_completed`).
"""

from __future__ import annotations

from edge.ledger.database import LedgerPart
from edge.ledger.rows import NeedCompleteRow


class NeedCompleteLedger(LedgerPart):
    """The 待完善 list over the shared database."""

    async def need_complete(self, limit: int = 200) -> list[NeedCompleteRow]:
        """Plates still to be completed, newest first (at most ``limit``), each with the pass
        that showed it."""
        rows = await self._fetchall(
            "SELECT n.plate, n.plate_color, n.level, n.seen_at, n.source, p.serial, p.lane_id "
            "FROM need_complete n LEFT JOIN passes p ON p.id = n.pass_id "
            "WHERE n.done_at IS NULL ORDER BY n.seen_at DESC LIMIT ?",
            (limit,),
        )
        return [NeedCompleteRow.from_row(row) for row in rows]

    async def note_need_complete(self, plate: str, color: str, added_at: float) -> bool:
        """A plate the platform lists as to be completed (GetNeedCompleteVehEx: plate, colour,
        addDate as unix s). Kept as it is when a pass already showed it; a plate completed
        since ``added_at`` stays completed. True when the list changed."""
        changed = await self._update_entry(
            "INSERT INTO need_complete (plate, plate_color, level, seen_at, source) "
            "VALUES (?, ?, '', ?, 'platform') ON CONFLICT (plate, plate_color) DO UPDATE SET "
            "done_at = NULL, done_by = NULL, source = 'platform', level = '', pass_id = NULL, "
            "seen_at = excluded.seen_at "
            "WHERE need_complete.done_at IS NOT NULL AND need_complete.done_at < excluded.seen_at",
            (plate, color, added_at),
        )
        return changed > 0

    async def need_completed(self, plate: str, color: str, by: str = "filing") -> bool:
        """Take a plate off the list (its filing was accepted). True when it was on it."""
        changed = await self._update_entry(
            "UPDATE need_complete SET done_at = ?, done_by = ? "
            "WHERE plate = ? AND plate_color = ? AND done_at IS NULL",
            (self._clock(), by, plate, color),
        )
        return changed > 0
