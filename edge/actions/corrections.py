"""A guard corrects a misread plate after the fact. The correction is kept beside the pass
(the pass itself is never rewritten: it is what was recorded and reported at the time) with the
reviewer's name, and reported in province mode with CheckFeedbackReport — the values before
and after, the vehicle codes after taken from the platform's answer for the corrected plate —
once the pass's own record has gone. The city API has no such message: the correction stays
in the ledger."""

from __future__ import annotations

import asyncio

import structlog

from edge.config.model import Config
from edge.domain.plates import TYPED_PLATE_KINDS, PlateColor, escape_read, typed_plate
from edge.domain.reports import VerifyAnswer
from edge.domain.text import holds_hidden
from edge.ledger.passes import PassLedger
from edge.uplink.platform.base import Platform
from edge.uplink.platform.errors import PlatformError

log = structlog.get_logger("edge.actions.corrections")

VERIFY_SECONDS = 5.0


#: CheckFeedbackReport's ``reviewer`` (审核人): 字符 20 (spec §4.2.27).
REVIEWER_LENGTH = 20


async def correct_pass(
    cfg: Config,
    store: PassLedger,
    platform: Platform,
    serial: str,
    *,
    plate: str,
    color: PlateColor,
    reviewer: str,
) -> int:
    """Record (and queue the report of) a correction; raises KeyError for an unknown pass,
    ValueError for a plate that is none or a reviewer's name that is empty, over
    :data:`REVIEWER_LENGTH` characters or holds hidden characters (:func:`holds_hidden`)."""
    reviewer = reviewer.strip()
    if not reviewer:
        raise ValueError("a correction needs the reviewer's name")
    if len(reviewer) > REVIEWER_LENGTH:
        raise ValueError(f"the reviewer's name is over {REVIEWER_LENGTH} characters")
    if holds_hidden(reviewer):
        raise ValueError("the reviewer's name holds control or format characters")
    row = await store.find_pass(serial)
    if row is None:
        raise KeyError(serial)
    corrected = typed_plate(plate)
    if corrected is None:
        raise ValueError(f"{escape_read(plate.strip())!r} is not a plate ({TYPED_PLATE_KINDS})")
    secret = cfg.lane(row.lane_id).gate_secret_code
    answer: VerifyAnswer | None = None
    try:
        async with asyncio.timeout(VERIFY_SECONDS):
            answer = await platform.verify(
                corrected, color, gate_secret_code=secret.get_secret_value() if secret else ""
            )
    except (PlatformError, TimeoutError) as exc:
        log.warning("corrected plate not verified; its codes are sent empty", error=str(exc))
    correction_id = await store.add_correction(
        row.id,
        corrected,
        color.value,
        answer,
        reviewer,
        forward=platform.reports_corrections,
    )
    log.info(
        "pass corrected",
        serial=serial,
        before=row.plate,
        after=corrected,
        reviewer=reviewer,
        reported=platform.reports_corrections,
    )
    return correction_id
