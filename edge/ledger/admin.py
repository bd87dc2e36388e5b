"""What people change at the gate: list entries, control plans, and the audit log of every
action (parts of :class:`edge.ledger.store.Store`).
"""

from __future__ import annotations

from edge.domain.control_plan import ControlPlan
from edge.ledger.database import LedgerPart
from edge.ledger.rows import (
    AuditRow,
    StoredListEntry,
    StoredPlan,
)


class AdminLedger(LedgerPart):
    """List entries and control plans added at the gate."""

    async def add_plan(self, plan: ControlPlan, by: str) -> int:
        async def write() -> int:
            cur = await self._db.execute(
                "INSERT INTO control_plans (name, strategy, level, area, starts_at, ends_at, "
                "baseline, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    plan.name,
                    plan.strategy,
                    plan.level,
                    plan.area,
                    plan.start.timestamp() if plan.start else self._clock(),
                    plan.end.timestamp() if plan.end else None,
                    plan.baseline_heavy_entries,
                    by,
                    self._clock(),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._transaction(write)

    async def close_plan(self, plan_id: int) -> bool:
        async def write() -> bool:
            cur = await self._db.execute(
                "UPDATE control_plans SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
                (self._clock(), plan_id),
            )
            return cur.rowcount == 1

        return await self._transaction(write)

    async def change_plan(self, plan_id: int, **changes: object) -> bool:
        """Change an open plan's strategy, level, area, expected end or baseline."""
        allowed = {"name", "strategy", "level", "area", "ends_at", "baseline"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        if not changes:
            return False
        columns = ", ".join(f"{key} = ?" for key in changes)

        async def write() -> bool:
            cur = await self._db.execute(
                f"UPDATE control_plans SET {columns} WHERE id = ? AND closed_at IS NULL",  # noqa: S608 - column names from the allow-list
                (*changes.values(), plan_id),
            )
            return cur.rowcount == 1

        return await self._transaction(write)

    async def add_list_entry(
        self, plate: str, kind: str, reason: str, expires_at: float | None, by: str
    ) -> int:
        async def write() -> int:
            cur = await self._db.execute(
                "INSERT INTO list_entries (plate, kind, reason, expires_at, added_by, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (plate, kind, reason, expires_at, by, self._clock()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._transaction(write)

    async def remove_list_entry(self, entry_id: int) -> bool:
        async def write() -> bool:
            cur = await self._db.execute(
                "UPDATE list_entries SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                (self._clock(), entry_id),
            )
            return cur.rowcount == 1

        return await self._transaction(write)

    async def list_entries(self) -> list[StoredListEntry]:
        rows = await self._fetchall(
            "SELECT * FROM list_entries WHERE removed_at IS NULL ORDER BY kind, plate"
        )
        return [StoredListEntry.from_row(row) for row in rows]

    async def plans(self) -> list[StoredPlan]:
        rows = await self._fetchall("SELECT * FROM control_plans ORDER BY starts_at, id")
        return [StoredPlan.from_row(row) for row in rows]


class AuditLog(LedgerPart):
    """The audit log: who did what, from where, with what result."""

    async def audit(
        self, *, actor: str, action: str, target: str, origin: str, result: str, detail: str = ""
    ) -> None:
        async def write() -> None:
            await self._db.execute(
                "INSERT INTO audit (at, actor, action, target, origin, result, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._clock(), actor, action, target, origin, result, detail),
            )

        await self._transaction(write)

    async def audit_log(self, limit: int = 100) -> list[AuditRow]:
        rows = await self._fetchall("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditRow.from_row(row) for row in rows]
