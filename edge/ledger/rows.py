"""What the ledger returns: frozen dataclasses built from its rows, here and nowhere else.

Outside :mod:`edge.ledger` nothing sees an ``sqlite3.Row``: consumers read attributes, named
as the columns of :mod:`edge.ledger.schema` (times unix seconds). The platform's stored
verify answer is decoded once, in :func:`decode_answer`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol, Self

from edge.domain.decision import Decision, Source
from edge.domain.filing import Entry, Register, field_names, parse_entry
from edge.domain.local_lists import ListKind
from edge.domain.reports import VerifyAnswer


def decode_answer(stored: str | None) -> VerifyAnswer | None:
    """The platform's answer as stored in a ``verify_json`` column (None: it gave none)."""
    return VerifyAnswer.from_json(json.loads(stored)) if stored else None


def encode_answer(answer: VerifyAnswer | None) -> str | None:
    """The ``verify_json`` column for ``answer`` (the inverse of :func:`decode_answer`):
    compact JSON without the fields that hold their default (the platform left them empty,
    ``control`` 0, ``need_complete`` '0'), read back as that default — 27 bytes a city
    answer instead of 160 with every field spelled out. The ledger's triggers read an absent
    ``need_complete`` as '0' (schema migration 23) and an absent emission as none."""
    if answer is None:
        return None
    fields = {k: v for k, v in answer.to_json().items() if v != _DEFAULTS.get(k, "")}
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


#: The fields of a stored answer whose default is not "".
_DEFAULTS: dict[str, object] = {"control": 0, "need_complete": "0"}


class _Columns(Protocol):
    def keys(self) -> list[str]: ...
    def __getitem__(self, key: str) -> Any: ...


class _FromRow:
    """Built from a row whose column names are the dataclass's field names; a field
    ``answer`` is the ``verify_json`` column, decoded."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: sqlite3.Row | _Columns) -> Self:
        values = {
            f.name: decode_answer(row["verify_json"]) if f.name == "answer" else row[f.name]
            for f in fields(cls)  # type: ignore[arg-type]
        }
        return cls(**values)

    @classmethod
    def many(cls, rows: Sequence[sqlite3.Row | _Columns]) -> list[Self]:
        """Each row as one: the shape the history reader makes a page into on its own
        thread (:meth:`edge.ledger.database.HistoryReader.fetch`), not on the event loop."""
        return [cls.from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class StoredPass(_FromRow):
    """A pass as recorded (table ``passes``); ``answer`` is the platform's, decoded."""

    id: int
    serial: str
    lane_id: str
    gate_code: str
    direction: str  # in / out
    plate: str | None  # None: no readable plate
    plate_color: str
    flag: str | None
    camera_time: float
    received_at: float
    source: str
    vendor_id: str | None
    verdict: str  # open / refuse
    reason_code: str
    reason: str
    decided_by: Source
    answer: VerifyAnswer | None
    barrier: str | None  # opened / failed / not-commanded; None unknown
    barrier_error: str | None
    state: str  # open / final
    gate_signal: int | None  # 0 passed, 1 not lifted, 2 lifted not passed
    passed_at: float | None
    confirmed_by: str | None
    operator: str | None


@dataclass(frozen=True, slots=True)
class PassListing(_FromRow):
    """A pass as the history view lists it, with how many photos and merged reads it has
    and, for an unreadable plate, the read's text (``read``); ``id`` is the pass's, for the
    next page (:class:`PageCursor`)."""

    id: int
    serial: str
    lane_id: str
    direction: str
    plate: str | None
    plate_color: str
    verdict: str
    reason: str
    decided_by: str
    gate_signal: int | None
    received_at: float
    flag: str | None
    operator: str | None
    photos: int
    merged_reads: int
    read: str | None
    #: The plate and colour of the pass's latest correction (a guard's, ``edge correct``),
    #: None when it has none: shown instead of the camera's ``plate``, which stays beside it.
    corrected: str | None = None
    corrected_color: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryCriteria:
    """What a history search asks for (:meth:`~edge.ledger.passes.PassLedger.search_passes`
    and its pages and exports): the passes whose plate (or latest correction's plate) holds
    ``plate`` anywhere ("": any), received from ``start`` (epoch seconds, inclusive; None: the
    first) to ``end`` (epoch seconds, exclusive; None: the last), on ``lane`` ("": any), with
    ``verdict`` "open" or "refuse" (anything else: either)."""

    plate: str = ""
    start: float | None = None
    end: float | None = None
    lane: str = ""
    verdict: str = ""


#: The criteria of a search for every pass (none set): the history queries' default.
EVERY_PASS = HistoryCriteria()


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where the next page of a pass search starts (keyset pagination, never an OFFSET that
    walks every row before it): after the pass received at ``received_at`` with ``id``, in
    the search's order (newest first)."""

    received_at: float
    id: int

    @classmethod
    def after(cls, row: PassListing) -> PageCursor:
        return cls(row.received_at, row.id)

    def to_text(self) -> str:
        return f"{self.received_at!r}:{self.id}"

    @classmethod
    def from_text(cls, text: str) -> PageCursor:
        """Raises ValueError for anything but ``to_text``'s form."""
        moment, _, number = text.partition(":")
        return cls(float(moment), int(number))


@dataclass(frozen=True, slots=True)
class StoredPhoto(_FromRow):
    """A photo of a pass (table ``photos``); ``path`` relative to ``storage.photo_dir``."""

    id: int
    pass_id: int
    number: int  # §7.2 1 front, 2 rear
    kind: int  # §7.3 1 entry, 2 exit, 3 gate crash
    path: str
    size: int
    taken_at: float
    pruned_at: float | None


@dataclass(frozen=True, slots=True)
class StoredRead(_FromRow):
    """A camera read kept for a pass (table ``reads``); ``merged`` None: it made the pass;
    ``raw``: what the camera sent (images elided), None once retention let it go
    (``storage.diagnosis_keep_days``)."""

    id: int
    pass_id: int
    lane_id: str
    received_at: float
    plate: str | None
    plate_color: str
    text: str | None
    vendor_id: str | None
    source: str
    merged: str | None
    raw: str | None


@dataclass(frozen=True, slots=True)
class StoredOutboxEntry(_FromRow):
    """An outbox entry as stored (table ``outbox``)."""

    id: int
    pass_id: int
    kind: str  # record / photo / correction / goods
    photo_id: int | None
    correction_id: int | None
    weighing_id: int | None
    state: str  # held / pending / sent / dead
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None


@dataclass(frozen=True, slots=True)
class OutboxListing(_FromRow):
    """An outbox entry (a dead letter, say) with its pass's serial, plate and lane."""

    id: int
    kind: str
    state: str
    attempts: int
    last_error: str | None
    created_at: float
    sent_at: float | None
    serial: str
    plate: str | None
    lane_id: str
    #: The plate of the pass's latest correction (None: not corrected).
    corrected: str | None = None


@dataclass(frozen=True, slots=True)
class StoredListEntry(_FromRow):
    """A list entry added at the gate (table ``list_entries``)."""

    id: int
    plate: str
    kind: ListKind
    reason: str
    expires_at: float | None
    added_by: str
    added_at: float
    removed_at: float | None


@dataclass(frozen=True, slots=True)
class StoredPlan(_FromRow):
    """A control plan started at the gate (table ``control_plans``)."""

    id: int
    name: str
    strategy: int  # §7.20
    level: int  # §7.18
    area: int  # §7.19
    starts_at: float
    ends_at: float | None  # expected end
    baseline: int  # heavy entries on a normal day
    closed_at: float | None
    created_by: str
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditRow(_FromRow):
    """One action that changed something (table ``audit``)."""

    id: int
    at: float
    actor: str
    action: str
    target: str
    origin: str
    result: str  # ok / refused / failed
    detail: str


@dataclass(frozen=True, slots=True)
class StoredCorrection(_FromRow):
    """A guard's correction of a pass's plate (table ``corrections``), its answer decoded."""

    id: int
    pass_id: int
    plate: str
    plate_color: str
    answer: VerifyAnswer | None
    reviewer: str
    reviewed_at: float


@dataclass(frozen=True, slots=True)
class DailyFigureRow(_FromRow):
    """One lane and direction's figures for a day (see :meth:`Store.daily_figures`)."""

    lane_id: str
    direction: str
    passed: int
    refused: int
    controlled: int
    stage3: int
    stage4: int
    gate_crashes: int
    overrides: int


@dataclass(frozen=True, slots=True)
class NewPass:
    serial: str
    lane_id: str
    gate_code: str
    direction: str
    plate: str | None
    plate_color: str
    camera_time: float
    received_at: float
    source: str
    vendor_id: str | None
    decision: Decision
    flag: str | None = None
    raw: str | None = None
    #: The pass was made by a camera's read (kept in ``reads`` for idempotent re-pushes);
    #: ``text`` is an unreadable read as it came, escaped.
    camera_read: bool = False
    text: str | None = None


@dataclass(frozen=True, slots=True)
class NewRead:
    """A camera read merged into an earlier pass as a duplicate (kept, never dropped)."""

    pass_id: int
    lane_id: str
    received_at: float
    plate: str | None
    plate_color: str
    text: str | None
    vendor_id: str | None
    source: str
    merged: str  # why: re-push, same-plate, near-plate, plateless
    raw: str | None = None


#: A read's columns as written: its message goes to ``camera_messages`` (migration 22).
_READ_COLUMNS = "pass_id, lane_id, received_at, plate, plate_color, text, vendor_id, source, merged"


@dataclass(frozen=True, slots=True)
class NewPhoto:
    number: int
    kind: int
    path: str
    size: int
    taken_at: float


@dataclass(frozen=True, slots=True)
class LatePhotos:
    """A pass's photos committed after the pass itself (written while its barrier moved), in
    the commit of what the barrier did: their rows, whether they get outbox entries, and the
    pass's flag as it stands with them (a pass is committed flagged ``photo-skipped`` until
    its photo is)."""

    photos: Sequence[NewPhoto]
    forward: bool
    flag: str | None


@dataclass(frozen=True, slots=True)
class RecordedPass:
    id: int
    serial: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    pass_id: int
    kind: str
    photo_id: int | None
    attempts: int
    correction_id: int | None = None
    weighing_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredWeighing(_FromRow):
    """A weighing on a truck scale (table ``weighings``), weights in kg, times unix seconds.

    ``state``: open (a first weighing waits for its second), complete, expired (no second
    within the configured time), unmatched (no plate read at the scale), planned (no scale:
    the tonnage of an ERP transport plan), discarded (a weighing without its plate that a
    clerk set aside: no truck's load)."""

    id: int
    plate: str | None
    plate_color: str
    state: str
    first_scale: str
    first_kg: float
    first_at: float
    first_serial: str | None
    second_scale: str | None
    second_kg: float | None
    second_at: float | None
    second_serial: str | None
    gross_kg: float | None
    tare_kg: float | None
    net_kg: float | None
    tare_preset: int
    goods: str | None
    ysl: str | None  # the tonnage sent (goods record), net t
    goods_error: str | None  # why no goods record was sent
    #: Held (待确认车牌): the candidate plate reads, JSON (see :attr:`candidate_reads`).
    candidates: str | None = None
    #: Snapshots of the scale lane's camera for a weighing without a plate read (photo files,
    #: relative to the photo directory).
    first_photo: str | None = None
    second_photo: str | None = None
    #: Discarded by a clerk (state ``discarded``, 已作废): who and why, as ``name: reason``.
    discarded: str | None = None
    #: For the clerk to check (请核对车牌 / 请核对重量): why its plate or its weight is in
    #: doubt, JSON (see :attr:`checks`); None: nothing to check.
    check_plate: str | None = None
    check_weight: str | None = None
    #: Taken before the platform emptied since this scale's weighing ``stop_of`` (the platform
    #: watched all along; held in doubt): it may be that truck's second stop. None: not so.
    stop_of: int | None = None
    #: 1: the platform was not watched since ``stop_of`` (a restart, a silent indicator) and
    #: not seen empty: that truck's second stop, another vehicle, or that truck back — a clerk
    #: giving it that truck's plate says which (:meth:`~edge.gate.weighbridge.ScalePairing.
    #: same_truck`, or ``returned``).
    stop_unwatched: int = 0

    @property
    def held(self) -> bool:
        """A weighing that found more than one pending plate read: no plate until a clerk
        picks one (待确认车牌)."""
        return self.state == "unmatched" and self.candidates is not None

    @property
    def checks(self) -> list[WeighingCheck]:
        """What the clerk should check of it (its plate, then its weight); empty: nothing."""
        return [
            WeighingCheck(kind, **json.loads(raw))
            for kind, raw in (("plate", self.check_plate), ("weight", self.check_weight))
            if raw is not None
        ]

    @property
    def candidate_reads(self) -> list[ScaleRead]:
        """The plate reads a held weighing may be (oldest first); empty when not held."""
        return [ScaleRead.from_json(read) for read in json.loads(self.candidates or "[]")]


@dataclass(frozen=True, slots=True)
class WeighingCheck:
    """Why a clerk should check a weighing's ``kind`` (plate or weight): ``why`` in English
    (the log, the CLI), ``said`` in Chinese (the page); ``hold``: its goods record is held
    until the clerk clears the check."""

    kind: str
    why: str
    said: str
    hold: bool = False
    #: A weight check of a truck that stopped twice after its pair completed: the weight the
    #: pair kept and the higher one that followed (kg) — the clerk may take the higher
    #: (:meth:`~edge.ledger.weighings.WeighingLedger.take_higher_weight`). None: not so.
    before_kg: float | None = None
    kg: float | None = None
    #: A plate check: the pending reads heard while its truck stood that put it in doubt (a
    #: weighing that takes one is checked too). None: none.
    rivals: list[int] | None = None


@dataclass(frozen=True, slots=True)
class NewScaleRead:
    """A plate read heard at a scale's lane (a pass recorded there), ``read_at`` unix s."""

    scale: str
    plate: str
    plate_color: str
    serial: str
    lane_id: str
    read_at: float


@dataclass(frozen=True, slots=True)
class ScaleRead(_FromRow):
    """A plate read at one of a truck scale's lanes as kept (table ``scale_reads``), pending
    until a weighing uses it (``weighing_id``) or it is too old."""

    id: int
    read: NewScaleRead
    weighing_id: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row | _Columns) -> Self:
        read = NewScaleRead(*(row[f.name] for f in fields(NewScaleRead)))
        return cls(row["id"], read, row["weighing_id"])

    def to_json(self) -> dict[str, object]:
        """As a held weighing keeps its candidates (:attr:`StoredWeighing.candidates`)."""
        return {"id": self.id, **asdict(self.read)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(data.pop("id"), NewScaleRead(**data))


@dataclass(frozen=True, slots=True)
class NewWeighing:
    """A stable weight taken on ``scale`` at ``at`` (unix s), of the vehicle whose plate was
    read at the scale (``None``: none was), with the serial of that read's pass."""

    scale: str
    plate: str | None
    plate_color: str
    kg: float
    at: float
    serial: str | None


@dataclass(frozen=True, slots=True)
class TransportPlan(_FromRow):
    """A transport plan pushed by the plant's ERP (table ``transport_plans``): the plate's
    goods and expected tonnage (kg) from ``valid_from`` to ``valid_to`` (unix s)."""

    id: int
    plan_no: str
    plate: str
    goods: str
    expected_kg: float
    valid_from: float
    valid_to: float
    received_at: float
    received_from: str
    used_serial: str | None


@dataclass(frozen=True, slots=True)
class NewTransportPlan:
    """A plan as the ERP pushed it, checked: kg and unix seconds."""

    plan_no: str
    plate: str
    goods: str
    expected_kg: float
    valid_from: float
    valid_to: float
    received_from: str


@dataclass(frozen=True, slots=True)
class StoredEntry(_FromRow):
    """An entry of the electronic ledger (table ``filing_entries``): a transport vehicle, an
    in-plant vehicle or a machine (``register``); every field as text, "" where not given
    (:meth:`entry` makes the domain's typed entry of it)."""

    id: int
    register: str  # vehicle / inner / machine
    plate: str
    plate_color: str  # "" for a machine
    vehicle_type: str
    vin: str
    use_character: str
    engine_no: str
    owner: str
    address: str
    model: str
    register_date: str
    issue_date: str
    emission: str
    fleet: str
    name: str
    code: str
    production_date: str
    status: str  # 1 正常 / 2 封存 / 3 注销
    created_at: float
    created_by: str
    changed_at: float
    changed_by: str

    def entry(self) -> Entry:
        """The entry as the domain types it (values as stored: valid when stored)."""
        register = Register(self.register)
        form = {name: str(getattr(self, name)) for name in field_names(register)}
        return parse_entry(register, form, as_stored=True)


@dataclass(frozen=True, slots=True)
class StoredFiling(_FromRow):
    """An entry's filing with one platform (table ``filings``): ``state`` unfiled / sent /
    accepted / refused, the platform's ``license_pk`` and its words (``words``: why it
    refused)."""

    entry_id: int
    platform: str  # city / province
    state: str
    license_pk: str | None
    words: str
    method: str | None
    at: float


@dataclass(frozen=True, slots=True)
class StoredFilingImage(_FromRow):
    """A document image of an entry (table ``filing_images``); ``path`` relative to
    ``storage.photo_dir``; ``replaced_at`` set once a newer image of its kind came."""

    id: int
    entry_id: int
    kind: str  # driving_license / emission_list / nameplate
    path: str
    size: int
    added_at: float
    added_by: str
    replaced_at: float | None


@dataclass(frozen=True, slots=True)
class NewFilingImage:
    """A document image already written (durably) under ``storage.photo_dir``."""

    kind: str
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One change of an entry (table ``filing_history``): who (``actor``; ``platform:city`` /
    ``platform:province`` for its answers), when, the action (add / modify / status / image /
    filing) and what changed (field → (before, after), as text)."""

    id: int
    entry_id: int
    at: float
    actor: str
    action: str
    changes: dict[str, tuple[str, str]]

    @classmethod
    def from_row(cls, row: sqlite3.Row | _Columns) -> EntryChange:
        changed = {k: (str(v[0]), str(v[1])) for k, v in json.loads(row["changes"]).items()}
        return cls(row["id"], row["entry_id"], row["at"], row["actor"], row["action"], changed)


@dataclass(frozen=True, slots=True)
class FilingOutboxEntry(_FromRow):
    """A filing the outbox of filings sends (table ``filing_outbox``): the entry as it is
    when sent, to ``platform``; ``method`` set as it goes out, ``sent_at`` when the platform
    answered; ``state`` pending / sent / dead."""

    id: int
    entry_id: int
    platform: str
    method: str | None
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None

    @property
    def unanswered(self) -> str | None:
        """The method of an earlier send of this filing whose answer never came (lost, timed
        out, the daemon killed): the platform may have taken it. None: none."""
        return self.method if self.method is not None and self.sent_at is None else None


@dataclass(frozen=True, slots=True)
class NeedCompleteRow(_FromRow):
    """A plate on the 待完善 list (table ``need_complete``): the platform says its filing must
    be completed. ``level`` is isNeedComplete (1: emission fields empty, 2: filing
    incomplete; "" when only GetNeedCompleteVehEx listed it), ``seen_at`` (unix s) the pass
    that showed it (``serial``, ``lane_id``; None when the platform's list did) or the
    platform's addDate, ``source`` ``verify`` or ``platform``."""

    plate: str
    plate_color: str
    level: str
    seen_at: float
    source: str
    serial: str | None
    lane_id: str | None


@dataclass(frozen=True, slots=True)
class LedgerLine(_FromRow):
    """One pass as the inspector's ledger export lists it (the 2020 guideline's 表3): the pass,
    what the platform said of the vehicle (``answer``: emission stage, fuel), its photos
    kept (``photos``: ``number:path`` joined by ``|``, paths relative to the photo root),
    the goods and tonnage (t, as sent) of its weighing or transport plan, and the photos
    kept with that weighing (``weighing_photos``: ``order:number:path`` joined by ``|``,
    order 1 for its first weighing's pass, 2 for its second's; as ``/api/weighings.csv``'s
    照片)."""

    id: int
    serial: str
    gate_code: str
    lane_id: str
    direction: str
    plate: str | None
    plate_color: str
    received_at: float
    verdict: str
    answer: VerifyAnswer | None
    photos: str | None
    goods: str | None
    ysl: str | None
    weighing_photos: str | None
    #: The plate and colour of the pass's latest correction (None: not corrected): the
    #: vehicle's, listed instead of the camera's ``plate``.
    corrected: str | None = None
    corrected_color: str | None = None
    #: The platform's answer for the corrected plate, as stored (``encode_answer``).
    corrected_json: str | None = None

    @property
    def shown_answer(self) -> VerifyAnswer | None:
        """What the platform said of the vehicle: of the corrected plate where a guard
        corrected it (None where that could not be asked), else of the camera's."""
        return self.answer if self.corrected is None else decode_answer(self.corrected_json)

    @property
    def shown_plate(self) -> str | None:
        """The plate the pass is listed with: as a guard corrected it, else the camera's."""
        return self.corrected or self.plate

    @property
    def shown_color(self) -> str:
        return self.corrected_color or self.plate_color


@dataclass(frozen=True, slots=True)
class VehicleFactsRow(_FromRow):
    """What the vehicle ledger (``filing_entries``, transport vehicles) says of a plate for the
    inspector's export: VIN, engine number, registration date, fleet, emission stage (§7.6),
    its current document images (``documents``: paths relative to ``storage.photo_dir``,
    joined by ``|``) and its status history (``statuses``: ``at:status`` joined by ``|``,
    ``at`` unix s, status §4.2.17's 1/2/3: its adding, then each change of status)."""

    plate: str
    plate_color: str
    vin: str
    engine_no: str
    register_date: str
    fleet: str
    emission: str
    documents: str | None
    statuses: str | None
