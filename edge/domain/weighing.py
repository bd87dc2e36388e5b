"""When a truck's weight counts (pure, no I/O; research/ledger-and-weighbridge.md §1.8-§1.9).

A weighing is complete when the readings stay within ``band_kg`` (default: one division) for
``hold_seconds`` (default 3 s), every one of them at or above ``minimum_kg``, the vehicle in
position (position sensors / a loop, when the site has them) and the indicator not reporting
motion (where its protocol has a motion flag). The value recorded is the one the indicator
showed most while it held (the latest of equals) — never the maximum, which a rocking truck
or a driver stepping on the platform would inflate. After a completed weighing the detector
waits until the weight falls below ``minimum_kg`` (the truck left) before it weighs again —
except for the truck-stopped-twice rule (a truck that stopped with only some axles on the
platform, then drove fully on and stopped again): a stable weight at least ``minimum_kg``
(about an axle) above the one weighed, within ``stopped_twice_seconds`` of it, with no reading
in between below the weighed one by ``minimum_kg`` or more (axles driving off: the truck
leaves, another drives on), is the truck's and replaces the weighing
(:attr:`StableWeight.replaces`). Anything else before the platform empties — a second truck's
front axles on after that time, a truck loaded while it stands, a person stepping on — is
no weighing. ``stopped_twice_seconds = 0`` turns the rule off (position sensors say when the
truck is fully on).
The rule needs the platform watched all along. After a silence in the readings longer than
``max_gap_seconds`` (an unplugged cable, an indicator restarting) or a reading the indicator
marks as a fault, or once something says
another vehicle may have come (:meth:`StableDetector.doubt`: a plate read at the scale's lane
after the weighing), what stands there is unknown: a stable weight within the band of the
one weighed is that vehicle still there (no weighing), any other is a weighing of its own,
:attr:`StableWeight.doubtful` — never a replacement of the earlier truck's weight (a truck
that left during a link outage and the next that drove on would otherwise merge into one),
and never tied to a plate without a clerk (it may as well be the weighed truck, fully on
after a second stop, as the vehicle whose plate was read: :attr:`StableWeight.watched` says
whether the platform was watched all along since, so never emptied — only then can it be).
That wait is in memory: after a restart :meth:`StableDetector.expect` says what was weighed
last, and a first stable weight within the band of it is the same vehicle still standing
there (waited out, not weighed again) — weighed as before the restart, so the
truck-stopped-twice rule goes on for it (a higher stop replaces its weight). Any other first
stable weight, the platform not seen empty since the restart, is doubtful and
:attr:`StableWeight.unwatched`, as after a silence: the weighed truck after a second stop made
while the daemon was down, another vehicle, or that truck back already — a clerk says. So is
the first stable weight before the platform is seen empty after a restart long after the
last weighing (:meth:`StableDetector.unwatched_before`: a truck weighed before may stand there).

Two weighings of one vehicle give gross, tare and net (:func:`net_of`): gross is the larger,
tare the smaller, net their difference.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from decimal import Decimal

#: A weighing's state as guards and clerks read it (the status page, ``/api/weighings.csv``).
STATE_NAMES = {
    "open": "等待二次过磅",
    "expired": "已超时",
    "complete": "已完成",
    "unmatched": "未识别车牌",
    "held": "待确认车牌",  # unmatched with more than one candidate plate read
    "planned": "ERP计划",
    "discarded": "已作废",  # a weighing without its plate a clerk set aside, with a reason
}


def state_name(state: str) -> str:
    """A weighing's state in Chinese (an unknown one as it is)."""
    return STATE_NAMES.get(state, state)


@dataclass(frozen=True, slots=True)
class StableRule:
    """``band_kg``: largest spread (max − min) that counts as still; ``hold_seconds``: how long
    it must hold; ``minimum_kg``: below this the platform counts as empty; ``max_gap_seconds``:
    a longer silence between readings starts the hold over (no readings, no evidence);
    ``capacity_kg``: the scale's 最大称量 — a stable weight above it is no truck's (an
    indicator fault, a misread frame) and is refused (:meth:`refusal`);
    ``stopped_twice_seconds``: the truck-stopped-twice rule's window after a stable weight
    (0: off; module docstring).

    Raises :class:`ValueError` for a negative band or minimum, a non-positive time, or a
    capacity not above the minimum."""

    band_kg: Decimal = Decimal(20)
    hold_seconds: float = 3.0
    minimum_kg: Decimal = Decimal(500)
    max_gap_seconds: float = 1.0
    capacity_kg: Decimal = Decimal(150_000)
    stopped_twice_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.band_kg < 0 or self.minimum_kg < 0 or self.stopped_twice_seconds < 0:
            raise ValueError("a stable-weight band, minimum and window are not negative")
        if self.hold_seconds <= 0 or self.max_gap_seconds <= 0:
            raise ValueError("a stable-weight hold and gap are positive numbers of seconds")
        if self.capacity_kg <= self.minimum_kg:
            raise ValueError("a scale's capacity is above its minimum weight")

    def refusal(self, kg: Decimal) -> Refusal | None:
        """Why a stable weight ``kg`` is no weighing (above the capacity, below the minimum),
        or None when it is one."""
        if kg > self.capacity_kg:
            return Refusal(kg, "over capacity", f"超过最大称量 {self.capacity_kg} kg")
        if kg < self.minimum_kg:
            return Refusal(kg, "under the minimum", f"低于最小称量 {self.minimum_kg} kg")
        return None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A stable weight refused: ``kg``, ``why`` (English, for the log) and ``reason`` (Chinese,
    what the status page shows)."""

    kg: Decimal
    why: str
    reason: str


@dataclass(frozen=True, slots=True)
class StableWeight:
    """A completed weighing: ``kg`` held from ``since`` to ``at`` (monotonic seconds);
    ``replaces``: the stable weight taken before of the same vehicle, lower (a truck that
    stopped twice, only partly on the platform the first time) — None for a new vehicle."""

    kg: Decimal
    since: float
    at: float
    replaces: Decimal | None = None
    #: Taken after the platform was not watched all along, or after a plate read since the
    #: last weighing, before it emptied: this vehicle's, or the weighed truck's after a second
    #: stop — no rule can tell, so no plate read is given to it without a clerk.
    doubtful: bool = False
    #: Doubtful only for a plate read (:meth:`StableDetector.doubt`): the platform was watched
    #: all along and never emptied since the weighing before — it may be that truck after a
    #: second stop (a clerk giving it that truck's plate says so). False after a silence or a
    #: fault reading (it may have emptied meanwhile), and for a weight not doubtful.
    watched: bool = False
    #: Doubtful because the platform was not watched since the weighing before (a silence, a
    #: fault reading, or a restart while it was loaded) and not seen empty since: it may be
    #: that truck after a second stop as well as another vehicle — or that truck back for its
    #: second weighing; no rule tells which, a clerk says.
    unwatched: bool = False


class StableDetector:
    """Feed it every reading (:meth:`feed`); it returns a :class:`StableWeight` once per
    vehicle on the platform. Time is the caller's (monotonic seconds; virtual in tests)."""

    def __init__(self, rule: StableRule | None = None) -> None:
        self.rule = rule or StableRule()
        self._window: deque[tuple[float, Decimal]] = deque()
        self._done = False  # weighed; waiting for the platform to empty
        self._weighed_kg = Decimal(0)  # what was weighed, while _done
        self._weighed_at = 0.0  # when (the first stable weight of this vehicle)
        self._fell = False  # a reading since fell below it: axles drove off
        self._unsure = False  # since it: a silence, or a sign of another vehicle (doubt)
        self._blind = False  # since it: a silence or a fault reading (it may have emptied)
        self._last_at: float | None = None  # the last reading's time
        self._expected: Decimal | None = None  # the last weighing before a restart
        self._expected_at: float | None = None  # when (this clock), None: unknown
        self._expected_unsure = False  # a plate read was heard after it (doubt)
        self._unseen = False  # told the platform was not watched before it started

    @property
    def weighed(self) -> bool:
        """Whether this vehicle's weight was taken (until the platform empties)."""
        return self._done

    @property
    def seen_empty(self) -> bool:
        """Whether no weight is doubtful for want of seeing the platform empty since the start
        (:meth:`unwatched_before`)."""
        return not self._unseen

    @property
    def expecting(self) -> bool:
        """Whether a weight from before a restart is still expected (:meth:`expect`)."""
        return self._expected is not None

    def reset(self) -> None:
        self._window.clear()
        self._done = False
        self._expected = None

    def doubt(self) -> None:
        """Something says another vehicle may be on the platform since the weighing (a plate
        read at the scale's lane): until the platform empties, a stable weight other than the
        one weighed is a new vehicle's, not the truck-stopped-twice rule's — also after a
        restart, for the vehicle still expected (:meth:`expect`)."""
        if self._done:
            self._unsure = True
        elif self._expected is not None:
            self._expected_unsure = True

    def unwatched_before(self) -> None:
        """After a restart: a vehicle was weighed before it (longer ago than :meth:`expect`
        covers) and the platform was not watched since — until it is seen empty, a stable
        weight is :attr:`StableWeight.unwatched` (that vehicle may still stand there)."""
        self._unseen = True

    def expect(self, kg: Decimal, at: float | None = None, *, unsure: bool = False) -> None:
        """After a restart: ``kg`` was weighed last (recently, at ``at`` on this detector's
        clock) and may still stand on the platform. The first stable weight within
        ``band_kg`` of it is taken as that vehicle (not returned; the detector waits for the
        platform to empty), weighed ``kg`` at ``at`` as if the detector had never stopped:
        the truck-stopped-twice rule goes on for it (``unsure``: a plate read was heard since
        it, :meth:`doubt`). Anything else — an empty platform, another weight — ends the
        expectation."""
        self._expected, self._expected_at, self._expected_unsure = kg, at, unsure

    def feed(
        self,
        kg: Decimal | None,
        at: float,
        *,
        moving: bool = False,
        in_position: bool = True,
    ) -> StableWeight | None:
        """One reading: ``kg`` (``None`` while the indicator reports a fault) at ``at``;
        ``moving`` is the indicator's motion flag, ``in_position`` the position sensors'."""
        rule = self.rule
        if self._done and (
            kg is None  # the indicator's fault: not watched, as after a silence
            or (self._last_at is not None and at - self._last_at > rule.max_gap_seconds)
        ):
            self._unsure = self._blind = True  # not watched: it may have emptied and filled
        self._last_at = at
        if kg is not None and kg < rule.minimum_kg:
            self.reset()  # empty platform (or a vehicle not yet fully on): re-armed
            self._unseen = False
            return None
        if self._done and kg is not None and kg <= self._weighed_kg - rule.minimum_kg:
            self._fell = True
        if kg is None or moving or not in_position:
            self._window.clear()
            return None
        window = self._window
        if window and at - window[-1][0] > rule.max_gap_seconds:
            window.clear()
        window.append((at, kg))
        while max(w for _, w in window) - min(w for _, w in window) > rule.band_kg:
            window.popleft()
        since = window[0][0]
        if at - since < rule.hold_seconds:
            return None
        counts = Counter(w for _, w in window)
        top = max(counts.values())
        value = next(w for _, w in reversed(window) if counts[w] == top)
        window.clear()
        if self._done:
            return self._again(value, since, at)
        self._done, self._weighed_kg, self._weighed_at = True, value, at
        self._fell = self._unsure = self._blind = False
        expected, self._expected = self._expected, None
        if expected is not None and abs(value - expected) <= rule.band_kg:
            # the vehicle weighed before the restart, still there: its weighing goes on
            self._weighed_kg, self._unsure = expected, self._expected_unsure
            self._weighed_at = at if self._expected_at is None else min(at, self._expected_at)
            return None
        if expected is not None or self._unseen:  # loaded since the start, never seen empty
            return StableWeight(value, since, at, doubtful=True, unwatched=True)
        return StableWeight(value, since, at)

    def _again(self, value: Decimal, since: float, at: float) -> StableWeight | None:
        """A stable ``value`` before the platform emptied since the weighing."""
        rule = self.rule
        if self._unsure:  # unknown what stands there (module docstring)
            if abs(value - self._weighed_kg) <= rule.band_kg:
                return None  # the vehicle weighed, still there
            blind = self._blind  # not watched: it may have emptied, or not
            self._weighed_kg, self._weighed_at, self._fell = value, at, False
            self._unsure = self._blind = False
            return StableWeight(value, since, at, doubtful=True, watched=not blind, unwatched=blind)
        rise = value - self._weighed_kg  # the truck-stopped-twice rule (module docstring)
        if (
            self._fell
            or rise <= rule.band_kg
            or rise < rule.minimum_kg
            or at - self._weighed_at > rule.stopped_twice_seconds
        ):
            return None
        before, self._weighed_kg = self._weighed_kg, value
        return StableWeight(value, since, at, replaces=before)


@dataclass(frozen=True, slots=True)
class Net:
    """Gross (毛重), tare (皮重) and net (净重) in kg."""

    gross_kg: Decimal
    tare_kg: Decimal
    net_kg: Decimal


def net_of(first_kg: Decimal, second_kg: Decimal) -> Net:
    """Gross is the larger weighing, tare the smaller (inbound material weighs gross first,
    outbound product tare first); net = gross − tare."""
    gross, tare = max(first_kg, second_kg), min(first_kg, second_kg)
    return Net(gross, tare, gross - tare)
