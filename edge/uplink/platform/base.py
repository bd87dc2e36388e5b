"""What the daemon needs from a platform, whichever API (city or province) serves it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from edge.domain.filing import Entry, ImageKind
from edge.domain.goods import GoodsReport
from edge.domain.plates import PlateColor
from edge.domain.reports import Correction, PassReport, PhotoReport, VerifyAnswer

#: Plate text sent for a vehicle whose plate could not be read (the spec has no rule for it).
NO_PLATE_TEXT = "无牌车"


class Platform(Protocol):
    #: City: photos are uploaded (sharePhotoInfo). Province: records carry photo URLs instead.
    uploads_photos: bool
    #: How many pass records one call may carry (province SendEnterExitDataEx takes a list).
    max_batch: int
    #: Province: CheckFeedbackReport. The city API has no message for corrections.
    reports_corrections: bool
    #: Province: a pass record carries the vehicle's licensePK (its filing's); the city API
    #: has no field for it, and the forwarder does not look it up.
    sends_license_pk: bool

    @property
    def clock_offset_seconds(self) -> float | None: ...

    async def verify(
        self, plate: str, color: PlateColor, *, gate_secret_code: str = ""
    ) -> VerifyAnswer: ...

    async def send_pass(self, report: PassReport) -> None: ...

    async def send_passes(self, reports: Sequence[PassReport]) -> None: ...

    async def send_photo(self, report: PassReport, photo: PhotoReport) -> None: ...

    async def send_correction(self, report: PassReport, correction: Correction) -> None: ...

    async def send_goods_records(self, items: Sequence[tuple[PassReport, GoodsReport]]) -> None:
        """Goods records (货物台账), each with its pass; a list only where ``max_batch`` > 1."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class FilingReceipt:
    """What a platform answered to a filing: the method sent and its ``licensePK`` (province;
    "" from the city platform, which returns none); ``fields``: the filing the platform
    holds under the spec's names, where it said (VehElecAccountGain), else empty."""

    method: str
    license_pk: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)


class FilingPlatform(Protocol):
    """A platform that takes the electronic ledger's filings (issue 15)."""

    #: ``city`` or ``province``: the filings' state is kept per platform.
    mode: str

    async def file_entry(
        self,
        entry: Entry,
        images: Mapping[ImageKind, bytes],
        *,
        company_code: str,
        license_pk: str = "",
    ) -> FilingReceipt:
        """Send ``entry`` with its document images (JPEG bytes) by the register's method
        for this platform: city shareVehInfo / shareInnerVehInfo / shareInnerMHYElec;
        province …Add, or …Modify when ``license_pk`` is known. Raises the platform
        errors (:mod:`edge.uplink.platform.errors`): PermanentError carries the platform's
        words, InvalidMessageError a field that breaks the spec."""
        ...

    async def held_filing(self, entry: Entry) -> FilingReceipt | None:
        """The filing the platform already holds for ``entry``'s vehicle (the method that
        asked, its licensePK), asked before an Add is sent again after an unclear failure
        (its reply lost); None when it holds none, or when the spec gives no way to ask
        (then the Add is sent again). Raises the platform errors for a link failure."""
        ...
