"""Stable weight (issue 16): a weighing completes when the reading holds within a band for a
time above a minimum; the held value is recorded, not the maximum. Virtual time throughout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.domain.weighing import StableDetector, StableRule, StableWeight, net_of

D = Decimal
RULE = StableRule(band_kg=D(20), hold_seconds=3.0, minimum_kg=D(500))


def _run(
    detector: StableDetector, weights: list[int], step: float = 0.1, **kw: bool
) -> list[StableWeight]:
    done = []
    for i, kg in enumerate(weights):
        result = detector.feed(D(kg), i * step, **kw)
        if result is not None:
            done.append(result)
    return done


def test_a_truck_ramps_rocks_settles_and_is_weighed_once() -> None:
    ramp = [i * 3600 for i in range(11)]  # 0 … 36000 kg over a second
    rocking = [35680 + (150 if i % 2 else -150) for i in range(20)]  # engine running, rocking
    settled = [35680, 35700, 35680, 35680] * 10  # within one division for 4 s
    leaving = [20000, 5000, 0]
    done = _run(StableDetector(RULE), ramp + rocking + settled + leaving)
    assert len(done) == 1
    assert done[0].kg == D(35680)  # the value it held, not the maximum (35830 or 35700)
    assert done[0].at - done[0].since >= 3.0


def test_not_complete_before_the_hold_time_nor_below_the_minimum() -> None:
    assert _run(StableDetector(RULE), [35680] * 30) == []  # 2.9 s
    assert _run(StableDetector(RULE), [480] * 100) == []  # an empty platform's drift
    assert len(_run(StableDetector(RULE), [35680] * 31)) == 1  # 3.0 s


def test_motion_faults_position_and_gaps_start_the_hold_over() -> None:
    detector = StableDetector(RULE)
    for i in range(25):
        assert detector.feed(D(35680), i * 0.1) is None
    assert detector.feed(D(35680), 2.5, moving=True) is None  # the indicator says moving
    for i in range(26, 56):
        assert detector.feed(D(35680), i * 0.1) is None or i * 0.1 - 2.6 >= 3.0
    detector = StableDetector(RULE)
    assert detector.feed(D(35680), 0.0) is None
    assert detector.feed(None, 1.0) is None  # overload / out of range
    assert detector.feed(D(35680), 2.0, in_position=False) is None  # a wheel off the platform
    assert detector.feed(D(35680), 2.5) is None
    assert detector.feed(D(35680), 5.0) is None  # 2.5 s without readings: no evidence
    assert detector.feed(D(35680), 5.5) is None
    result = None
    t = 5.5
    while result is None:
        t += 0.5
        result = detector.feed(D(35680), t)
    assert result.since == 5.0
    assert t == 8.0


def test_weighs_again_only_after_the_platform_emptied() -> None:
    detector = StableDetector(RULE)
    assert len(_run(detector, [35680] * 40)) == 1
    assert detector.weighed
    assert _run(detector, [35680] * 40) == []  # the same truck still standing there
    assert detector.feed(D(0), 10.0) is None
    assert not detector.weighed
    done = [detector.feed(D(15200), 10.0 + i * 0.5) for i in range(8)]
    assert [d.kg for d in done if d] == [D(15200)]


def test_rule_and_net() -> None:
    with pytest.raises(ValueError, match="not negative"):
        StableRule(band_kg=D(-1))
    with pytest.raises(ValueError, match="positive"):
        StableRule(hold_seconds=0)
    inbound = net_of(D(35680), D(15200))  # loaded in: gross first
    outbound = net_of(D(15200), D(35680))  # loaded out: tare first
    assert inbound == outbound
    assert (inbound.gross_kg, inbound.tare_kg, inbound.net_kg) == (D(35680), D(15200), D(20480))


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.integers(0, 60_000), min_size=1, max_size=200),
    step=st.floats(0.05, 0.5),
)
def test_a_stable_value_is_one_that_held(weights: list[int], step: float) -> None:
    """Whatever the readings, a result was read at least once, is above the minimum, and
    every reading in its hold was within the band of it."""
    for result in _run(StableDetector(RULE), weights, step):
        held = [D(w) for i, w in enumerate(weights) if result.since <= i * step <= result.at]
        assert result.kg in held
        assert result.kg >= RULE.minimum_kg
        assert max(held) - min(held) <= RULE.band_kg
        assert result.at - result.since >= RULE.hold_seconds


def test_a_truck_that_stops_twice_gives_its_full_weight() -> None:
    """The truck-stopped-twice rule, the review's case: 10000 moving → 21000 steady 3 s →
    30000 moving → 39000 steady 4 s → 0. The first stop is weighed (21000), the second,
    higher, replaces it (39000, ``replaces`` 21000); a lower stable weight before the
    platform empties (a truck backing off slowly) and the same weight again change nothing."""
    detector = StableDetector(RULE)
    moving_on = [10000] * 5
    partial = [21000] * 31  # 3 s
    moving_up = [30000] * 5
    full = [39000] * 41  # 4 s
    done: list[StableWeight] = []
    for i, kg in enumerate([*moving_on, *partial, *moving_up, *full]):
        moving = kg in (10000, 30000)
        if (result := detector.feed(D(kg), i * 0.1, moving=moving)) is not None:
            done.append(result)
    assert [(w.kg, w.replaces) for w in done] == [(D(21000), None), (D(39000), D(21000))]
    t = 8.1  # the last reading's time
    for kg in [39000] * 40 + [25000] * 40:  # the same again, then lower: nothing
        t += 0.1
        assert detector.feed(D(kg), t) is None
    assert detector.feed(D(0), t + 0.1) is None  # the platform empties: re-armed
    assert not detector.weighed


def _stops(
    detector: StableDetector, steps: list[tuple[int, float]], t: float = 0.0
) -> list[tuple[Decimal, Decimal | None]]:
    """Feed each (kg, seconds) as readings every 0.1 s; the stable weights it gives."""
    done: list[tuple[Decimal, Decimal | None]] = []
    for kg, seconds in steps:
        for _ in range(round(seconds * 10)):
            t += 0.1
            if (result := detector.feed(D(kg), t)) is not None:
                done.append((result.kg, result.replaces))
    return done


@pytest.mark.parametrize(
    ("why", "steps"),
    [
        # a second truck drives on before the first left, after the rule's window: A empty
        # (15000), 70 s later A's rear and loaded B's front (26000) for 3 s
        ("second truck, late", [(15000, 70.0), (26000, 3.5)]),
        # the same within the window, but A's front axle drove off first (a dip)
        ("second truck, a dip", [(15000, 4.0), (8000, 1.0), (26000, 3.5)]),
        # a person stepping on: +70 kg, more than the band but no axle
        ("person", [(15000, 4.0), (15070, 4.0)]),
        # a truck loaded while it stands: each bucket settles, but after the window
        ("loaded", [(15000, 65.0), (18000, 4.0), (21000, 4.0)]),
    ],
)
def test_a_higher_weight_that_is_no_second_stop_replaces_nothing(
    why: str, steps: list[tuple[int, float]]
) -> None:
    """The truck-stopped-twice rule is narrow: within ``stopped_twice_seconds`` (60) of the
    first stable weight, at least ``minimum_kg`` higher, with no axle driving off between."""
    rule = StableRule(band_kg=D(20), hold_seconds=3.0, minimum_kg=D(500))
    assert _stops(StableDetector(rule), steps) == [(D(15000), None)], why


def test_the_truck_stopped_twice_rule_has_a_window_and_can_be_off() -> None:
    """Within the window a real rise replaces the weighing; ``stopped_twice_seconds = 0``
    (position sensors configured) never."""
    steps = [(21000, 4.0), (30000, 0.5), (39000, 4.0)]
    on = StableRule(band_kg=D(20), minimum_kg=D(500), stopped_twice_seconds=60)
    assert _stops(StableDetector(on), steps) == [(D(21000), None), (D(39000), D(21000))]
    off = StableRule(band_kg=D(20), minimum_kg=D(500), stopped_twice_seconds=0)
    assert _stops(StableDetector(off), steps) == [(D(21000), None)]
    with pytest.raises(ValueError, match="window"):
        StableRule(stopped_twice_seconds=-1)


class _Readings:
    """Readings every 0.1 s on one clock, as an indicator sends them."""

    def __init__(self, detector: StableDetector) -> None:
        self.detector, self.t = detector, 0.0

    def feed(self, steps: list[tuple[int | None, float]]) -> list[tuple[Decimal, Decimal | None]]:
        """Each (kg, seconds): ``None`` kg is the indicator's fault; the stable weights."""
        done: list[tuple[Decimal, Decimal | None]] = []
        for kg, seconds in steps:
            for _ in range(round(seconds * 10)):
                self.t += 0.1
                result = self.detector.feed(None if kg is None else D(kg), self.t)
                if result is not None:
                    done.append((result.kg, result.replaces))
        return done


@pytest.mark.parametrize("outage", ["silence", "fault"])
def test_after_a_link_outage_a_higher_weight_is_a_new_vehicle_not_a_second_stop(
    outage: str,
) -> None:
    """The review's case: truck A weighed at 15000 kg; the cable is unplugged (no readings
    for 6 s) or the indicator reports a fault; meanwhile A left and B drove on: 25000 kg
    steady within the 60 s window is B's own weighing, never A's weight replaced (the rule
    needs the platform watched all along). The same weight as before is A still there; B
    stopping twice while watched is the rule again."""
    readings = _Readings(StableDetector(RULE))
    assert readings.feed([(15000, 4.0)]) == [(D(15000), None)]
    if outage == "fault":
        assert readings.feed([(None, 6.0)]) == []
    else:
        readings.t += 6.0
    assert readings.feed([(15010, 4.0)]) == []  # A, still there
    assert readings.feed([(25000, 4.0)]) == [(D(25000), None)]
    assert readings.detector.weighed  # B's weight taken; it waits for the platform to empty
    assert readings.feed([(25000, 1.0), (39000, 4.0)]) == [(D(39000), D(25000))]


def test_without_a_gap_or_a_read_a_higher_weight_is_still_a_second_stop() -> None:
    """Readings that kept coming (none 1 s apart or more), no read: the rule as before."""
    readings = _Readings(StableDetector(RULE))
    assert readings.feed([(15000, 4.0), (25000, 4.0)]) == [(D(15000), None), (D(25000), D(15000))]


def test_a_plate_read_after_the_weighing_makes_a_higher_weight_a_new_vehicle() -> None:
    """The review's case: 豫K30001 weighed at 12000 kg; 豫K30002 read at the scale's lane;
    19000 kg steady within the window — 豫K30002's front axles on, or 豫K30002 itself:
    either way not 豫K30001's weight. After :meth:`doubt` it is a weighing of its own; the
    weighed weight again is the first truck still there."""
    readings = _Readings(StableDetector(RULE))
    readings.detector.doubt()  # before any weighing: nothing to doubt
    assert readings.feed([(12000, 4.0)]) == [(D(12000), None)]
    readings.detector.doubt()
    assert readings.feed([(12000, 4.0), (19000, 4.0)]) == [(D(19000), None)]
    assert readings.feed([(0, 0.1), (21000, 4.0), (30000, 4.0)]) == [
        (D(21000), None),
        (D(30000), D(21000)),
    ]  # the platform emptied: the rule applies again to the next truck


def test_after_a_restart_the_truck_still_there_is_weighed_as_before_it() -> None:
    """After a restart (:meth:`StableDetector.expect`) the truck found still standing is
    weighed as before it: a higher stop replaces the weight weighed (not the one found, within
    the band), within the window counted from that weighing; a plate read heard since it
    (``unsure``) makes a higher weight a weighing of its own, as :meth:`doubt` does."""
    readings = _Readings(StableDetector(RULE))
    readings.detector.expect(D(21000), 0.0)
    assert readings.feed([(21010, 4.0)]) == []  # the truck weighed before the restart
    assert readings.feed([(39000, 4.0)]) == [(D(39000), D(21000))]
    late = _Readings(StableDetector(RULE))
    late.detector.expect(D(21000), -60.0)  # weighed 60 s before: out of the window now
    assert late.feed([(21000, 4.0), (39000, 4.0)]) == []
    doubted = _Readings(StableDetector(RULE))
    doubted.detector.expect(D(21000), 0.0, unsure=True)
    assert doubted.feed([(21000, 4.0), (39000, 4.0)]) == [(D(39000), None)]
    read_since = _Readings(StableDetector(RULE))  # a read heard after the restart, before
    read_since.detector.expect(D(21000), 0.0)  # the truck's weight settled again
    read_since.detector.doubt()
    assert read_since.feed([(21000, 4.0), (39000, 4.0)]) == [(D(39000), None)]


def test_a_doubtful_weight_says_whether_the_platform_was_watched_all_along() -> None:
    """Doubt from a plate read, the platform watched all along: the weight may be the weighed
    truck's second stop (``watched``); after a silence it may have emptied meanwhile: not."""
    detector = StableDetector(RULE)
    readings = _Readings(detector)
    assert readings.feed([(21000, 4.0)]) == [(D(21000), None)]
    detector.doubt()
    results: list[StableWeight] = []
    for _ in range(40):
        readings.t += 0.1
        if (done := detector.feed(D(39000), readings.t)) is not None:
            results.append(done)
    assert [(w.kg, w.doubtful, w.watched) for w in results] == [(D(39000), True, True)]
    readings.t += 6.0  # a silence
    for _ in range(40):
        readings.t += 0.1
        if (done := detector.feed(D(45000), readings.t)) is not None:
            results.append(done)
    assert [(w.kg, w.doubtful, w.watched) for w in results[1:]] == [(D(45000), True, False)]


def _stable(detector: StableDetector, t: float, kg: int, seconds: float = 4.0) -> StableWeight:
    """``kg`` held from ``t`` for ``seconds`` (readings every 0.1 s): the stable weight."""
    done = None
    for step in range(round(seconds * 10)):
        done = detector.feed(D(kg), t + step / 10) or done
    assert done is not None
    return done


def test_a_doubtful_weight_says_whether_the_platform_was_not_watched() -> None:
    """``unwatched``: after a silence (in memory), or after a restart with the platform loaded
    and showing another weight than the last weighing's, never seen empty since — the
    weighed truck after a second stop, another vehicle, or that truck back; after a plate read
    only (watched all along): not. A restart followed by an empty platform: a plain weight."""
    after_read = StableDetector(RULE)
    _stable(after_read, 0.0, 21000)
    after_read.doubt()
    done = _stable(after_read, 4.0, 39000)  # readings all along
    assert (done.doubtful, done.watched, done.unwatched) == (True, True, False)
    silent = StableDetector(RULE)
    _stable(silent, 0.0, 21000)
    done = _stable(silent, 10.0, 39000)  # 6 s without a reading before it
    assert (done.doubtful, done.watched, done.unwatched) == (True, False, True)
    restarted = StableDetector(RULE)
    restarted.expect(D(21000), -5.0)
    done = _stable(restarted, 0.0, 39000)
    assert (done.doubtful, done.watched, done.unwatched) == (True, False, True)
    emptied = StableDetector(RULE)
    emptied.expect(D(21000), -5.0)
    emptied.feed(D(0), 0.0)
    done = _stable(emptied, 1.0, 39000)
    assert (done.doubtful, done.watched, done.unwatched) == (False, False, False)
    long_after = StableDetector(RULE)  # the last weighing longer ago than expect() covers
    long_after.unwatched_before()
    assert not long_after.seen_empty
    done = _stable(long_after, 0.0, 40000)
    assert (done.doubtful, done.unwatched) == (True, True)
    long_after.feed(D(0), 10.0)
    assert long_after.seen_empty
    done = _stable(long_after, 11.0, 40000)
    assert (done.doubtful, done.unwatched) == (False, False)
