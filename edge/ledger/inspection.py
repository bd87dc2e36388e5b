"""The inspector's ledger (电子台账, the 2020 guideline's 表3): every pass of a date range, one
gate and one plate if asked, oldest first, with what the platform said of the vehicle, the
photos kept, the goods carried and the photos of the weighing that carried them (one part
of :class:`edge.ledger.store.Store`, issue 15).

Read page by page on the history connection (each page one statement under its time budget,
keyset-paginated on the time index), so a month at a large plant streams with flat memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from edge.ledger.database import LedgerPart
from edge.ledger.rows import LedgerLine, VehicleFactsRow

#: The last character there is: ``prefix`` ≤ x < ``prefix + PREFIX_END`` is a prefix match that
#: an index on x serves (LIKE would not: it folds ASCII case).
PREFIX_END = "\U0010ffff"
#: The pass columns a ledger line takes, and what is found for it per page.
_PAGE = (
    "SELECT p.id, p.serial, p.gate_code, p.lane_id, p.direction, p.plate, p.plate_color, "
    "p.received_at, p.verdict, p.verify_json FROM {source} WHERE {where} "
    "ORDER BY p.received_at, p.id LIMIT ?"
)
#: A pass's plate as listed: its latest correction's, else the camera's.
_SHOWN = (
    "coalesce((SELECT c.plate FROM corrections c WHERE c.pass_id = p.id ORDER BY c.id DESC "
    "LIMIT 1), p.plate)"
)
_LINES = (
    "WITH page AS MATERIALIZED ({page}) SELECT page.*, "
    "(SELECT group_concat(ph.number || ':' || ph.path, '|') FROM photos ph "
    " WHERE ph.pass_id = page.id AND ph.pruned_at IS NULL) AS photos, "
    "coalesce((SELECT w.goods FROM weighings w WHERE w.second_serial = page.serial "
    "          AND w.goods IS NOT NULL LIMIT 1), "
    "         (SELECT w.goods FROM weighings w WHERE w.first_serial = page.serial "
    "          AND w.goods IS NOT NULL LIMIT 1), "
    "         (SELECT t.goods FROM transport_plans t WHERE t.used_serial = page.serial "
    "          LIMIT 1)) AS goods, "
    "coalesce((SELECT w.ysl FROM weighings w WHERE w.second_serial = page.serial "
    "          AND w.ysl IS NOT NULL LIMIT 1), "
    "         (SELECT w.ysl FROM weighings w WHERE w.first_serial = page.serial "
    "          AND w.ysl IS NOT NULL LIMIT 1), "
    "         (SELECT printf('%.1f', t.expected_kg / 1000.0) FROM transport_plans t "
    "          WHERE t.used_serial = page.serial LIMIT 1)) AS ysl, "
    "(SELECT group_concat(iif(q.serial = w.first_serial, 1, 2) || ':' || ph.number || ':' "
    "                     || ph.path, '|') "
    " FROM weighings w JOIN passes q ON q.serial IN (w.first_serial, w.second_serial) "
    " JOIN photos ph ON ph.pass_id = q.id AND ph.pruned_at IS NULL "
    " WHERE w.id = coalesce((SELECT x.id FROM weighings x WHERE x.second_serial = page.serial "
    "                        LIMIT 1), "
    "                       (SELECT x.id FROM weighings x WHERE x.first_serial = page.serial "
    "                        AND x.state != 'planned' LIMIT 1))) AS weighing_photos, "
    "(SELECT c.plate FROM corrections c WHERE c.pass_id = page.id ORDER BY c.id DESC "
    " LIMIT 1) AS corrected, "
    "(SELECT c.plate_color FROM corrections c WHERE c.pass_id = page.id ORDER BY c.id DESC "
    " LIMIT 1) AS corrected_color, "
    "(SELECT c.verify_json FROM corrections c WHERE c.pass_id = page.id ORDER BY c.id DESC "
    " LIMIT 1) AS corrected_json "
    "FROM page ORDER BY page.received_at, page.id"
)


def _of_plate(where: list[str]) -> str:
    """The page of passes meeting ``where`` listed with a plate in a range (two parameters,
    after ``where``'s and again after the camera's page's limit): those whose camera's
    plate is in it (the plate index) and not corrected out of it, and those whose latest
    correction's plate is in it."""
    camera = _PAGE.format(
        source="passes p",
        where=" AND ".join([*where, "p.plate >= ? AND p.plate < ?", f"{_SHOWN} >= ?",
                            f"{_SHOWN} < ?"]),
    )  # fmt: skip
    corrected = _PAGE.format(
        source="corrections c CROSS JOIN passes p ON p.id = c.pass_id",
        where=" AND ".join([
            *where, "c.plate >= ? AND c.plate < ?",
            "c.id = (SELECT max(x.id) FROM corrections x WHERE x.pass_id = c.pass_id)",
        ]),
    )  # fmt: skip
    return (
        f"SELECT * FROM ({camera}) UNION SELECT * FROM ({corrected}) "  # noqa: S608 - constants
        "ORDER BY received_at, id LIMIT ?"
    )


class InspectionLedger(LedgerPart):
    """The inspector's ledger export over the shared database."""

    async def ledger_lines(
        self,
        start: float,
        end: float,
        *,
        gate: str = "",
        plate: str = "",
        page: int = 2000,
    ) -> AsyncIterator[list[LedgerLine]]:
        """Every pass received from ``start`` to before ``end`` (unix s), oldest first, at the
        gate ``gate`` (its 道闸编号; "": every gate) and of the plates starting with ``plate``
        (``冀A`` all 冀A plates, a whole plate that one and any longer; "": every plate; a
        range on the plate index, never a walk), in pages of ``page``. A pass's plate is the
        one it is listed with: its latest correction's where a guard corrected it (those are
        found by walking the corrections, few beside the passes), else the camera's. Raises
        :class:`~edge.ledger.database.LedgerBusyError` when a page runs past the history
        budget."""
        after: tuple[float, int] | None = None
        while True:
            where = ["p.received_at >= ?", "p.received_at < ?"]
            args: list[Any] = [start if after is None else after[0], end]
            if after is not None:
                where.append("(p.received_at > ? OR p.id > ?)")
                args += [after[0], after[1]]
            if gate:
                where.append("p.gate_code = ?")
                args.append(gate)
            chosen = _PAGE.format(source="passes p", where=" AND ".join(where))
            if plate:  # a prefix as a range: plate ≤ x < plate + the last character there is
                chosen, args = _of_plate(where), [
                    *args, plate, plate + PREFIX_END, plate, plate + PREFIX_END, page,
                    *args, plate, plate + PREFIX_END, page,
                ]  # fmt: skip
            lines = await self._history_as(
                _LINES.format(page=chosen), (*args, page), LedgerLine.many
            )
            if lines:
                yield lines
            if len(lines) < page:
                return
            after = (lines[-1].received_at, lines[-1].id)

    async def vehicle_facts(self, plates: Sequence[str]) -> list[VehicleFactsRow]:
        """The transport-vehicle entries of these plates (each colour its own vehicle; a
        plate 注销 and entered again for another vehicle has several), with their current
        facts and document images, and each one's status history (when it was added and
        when its status changed: which entry was in force at a pass's time)."""
        if not plates:
            return []
        marks = ",".join("?" * len(plates))
        rows = await self._history(
            "SELECT e.plate, e.plate_color, e.vin, e.engine_no, e.register_date, e.fleet, "  # noqa: S608 - marks
            "e.emission, "
            "(SELECT group_concat(i.path, '|') FROM filing_images i WHERE i.entry_id = e.id "
            " AND i.replaced_at IS NULL) AS documents, "
            "(SELECT group_concat(h.at || ':' || json_extract(h.changes, '$.status[1]'), '|') "
            " FROM filing_history h WHERE h.entry_id = e.id AND h.action IN ('add', 'status') "
            " AND json_extract(h.changes, '$.status[1]') IS NOT NULL) AS statuses "
            "FROM filing_entries e "
            f"WHERE e.plate IN ({marks}) AND e.register = 'vehicle' ORDER BY e.id",
            tuple(plates),
        )
        return [VehicleFactsRow.from_row(row) for row in rows]
