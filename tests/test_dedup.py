"""The in-memory duplicate index (edge.domain.dedup): same plate within the window, a near
plate only while the earlier pass is open, colour counts, O(length) keys, bounded memory."""

from __future__ import annotations

import random
import time
import tracemalloc

import pytest

from edge.domain.dedup import MAX_ENTRIES, Deduplicator, Earlier, deletion_keys
from edge.domain.plates import PROVINCES, SPECIAL_SUFFIXES, within_one_edit

YELLOW, BLUE = "1", "0"


def _learn(dedup: Deduplicator, pass_id: int, plate: str, at: float, color: str = YELLOW) -> None:
    dedup.learn(Earlier(pass_id, f"S{pass_id}", plate, color, at))


def test_same_plate_within_window_is_duplicate_even_after_the_pass_closed() -> None:
    dedup = Deduplicator(60)
    _learn(dedup, 1, "豫A12345", 0.0)
    dedup.close(1)
    found = dedup.match("豫A12345", YELLOW, 59.0)
    assert found is not None
    assert found.pass_id == 1
    assert dedup.match("豫A12345", YELLOW, 61.0) is None  # window passed: a new pass


def test_near_plate_is_duplicate_only_while_the_earlier_pass_is_open() -> None:
    dedup = Deduplicator(60)
    _learn(dedup, 1, "豫A12345", 0.0)
    assert dedup.match("豫A12346", YELLOW, 2.0) is not None  # a refined read, still open
    dedup.close(1)
    assert dedup.match("豫A12346", YELLOW, 5.0) is None  # passed: another vehicle


def test_colour_counts() -> None:
    dedup = Deduplicator(60)
    _learn(dedup, 1, "豫A12345", 0.0, YELLOW)
    assert dedup.match("豫A12345", BLUE, 1.0) is None
    assert dedup.match("豫A12346", BLUE, 1.0) is None


def test_no_plate_never_matches() -> None:
    dedup = Deduplicator(60)
    _learn(dedup, 1, "豫A12345", 0.0)
    assert dedup.match(None, YELLOW, 1.0) is None


def test_zero_window_disables() -> None:
    dedup = Deduplicator(0)
    _learn(dedup, 1, "豫A12345", 0.0)
    assert dedup.match("豫A12345", YELLOW, 0.5) is None
    assert len(dedup) == 0


# Every province and every special suffix: a sequential fleet plate after the first has
# passed is a new vehicle; while the first is open it is a refined read; the same plate is
# the same vehicle.
_CASES = [f"{p}A1234{s}" for p in PROVINCES for s in SPECIAL_SUFFIXES] + [
    f"{p}G8836{n}" for p in PROVINCES for n in "19"
]


@pytest.mark.parametrize("plate", _CASES)
def test_near_rule_for_every_province_and_suffix(plate: str) -> None:
    other = plate[:-2] + ("7" if plate[-2] != "7" else "8") + plate[-1]  # one substitution
    dedup = Deduplicator(60)
    _learn(dedup, 1, plate, 0.0)
    assert dedup.match(plate, YELLOW, 1.0) is not None
    assert dedup.match(other, YELLOW, 1.0) is not None  # open: the same vehicle
    dedup.close(1)
    assert dedup.match(other, YELLOW, 2.0) is None  # passed: the next vehicle
    assert dedup.match(plate, YELLOW, 2.0) is not None


@pytest.mark.parametrize("suffix", SPECIAL_SUFFIXES)
def test_suffix_swap_is_another_vehicle_once_passed(suffix: str) -> None:
    dedup = Deduplicator(60)
    _learn(dedup, 1, "豫A3K78学", 0.0)
    dedup.close(1)
    assert dedup.match(f"豫A3K78{suffix}", YELLOW, 1.0) is (
        dedup.match("豫A3K78学", YELLOW, 1.0) if suffix == "学" else None
    )


def test_index_agrees_with_pairwise_check_and_forgets_expired_passes() -> None:
    rng = random.Random(3)
    alphabet = "A1B2"
    dedup = Deduplicator(10)
    taken: list[tuple[float, str, bool]] = []
    for step in range(2000):
        now = step * 0.1
        plate = "豫" + "".join(rng.choice(alphabet) for _ in range(rng.choice([5, 6, 7])))
        live = [(p, o) for t, p, o in taken if now - t <= 10]
        expected = any(p == plate or (o and within_one_edit(plate, p)) for p, o in live)
        assert (dedup.match(plate, YELLOW, now) is not None) is expected, (plate, live)
        if not expected:
            is_open = rng.random() < 0.5
            _learn(dedup, step, plate, now)
            if not is_open:
                dedup.close(step)
            taken.append((now, plate, is_open))
    dedup.match(None, YELLOW, 1e9)  # everything expires
    assert len(dedup) == 0
    assert not dedup._by_key


def test_memory_is_bounded() -> None:
    dedup = Deduplicator(1e9, max_entries=100)
    for i in range(1000):
        _learn(dedup, i, f"豫A{i:05d}", float(i))
        dedup.close(i)
    assert len(dedup) == 100
    assert dedup.match("豫A00000", YELLOW, 1000.0) is None  # the oldest went first
    assert dedup.match("豫A00999", YELLOW, 1000.0) is not None


def test_a_full_index_stays_small() -> None:
    """A lane's index at its bound (back-to-back traffic fills it) held 17 MiB when each pass
    had a set of tuples and each key a dict; the bound is on what stays resident (issue 19)."""
    plates = [f"豫A{i // 10:04d}{'ABCDEFGHJK'[i % 10]}" for i in range(MAX_ENTRIES)]
    tracemalloc.start()
    try:
        dedup = Deduplicator(1e9)
        for number, plate in enumerate(plates):
            _learn(dedup, number, plate, 0.0)
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(dedup) == MAX_ENTRIES
    assert held < 2500 * MAX_ENTRIES  # ~1.9 KB a pass (was ~4.4)
    assert dedup.match(plates[7], YELLOW, 1.0) is not None
    first = dedup.match(plates[0][:-1] + "Z", YELLOW, 1.0)  # one edit from several open ones
    assert first is not None
    assert first.plate[:-1] == plates[0][:-1]


def test_a_plate_shares_a_key_with_each_of_its_deletions() -> None:
    plate = "豫AD12345"
    for i in range(len(plate)):
        shorter = plate[:i] + plate[i + 1 :]
        assert deletion_keys(shorter) & deletion_keys(plate)
    assert not deletion_keys("豫AD12345") & deletion_keys("豫AD12399")  # two edits apart


def test_keys_cost_linear_time() -> None:
    """The old index built every one-character deletion (quadratic). Judged by growth, not by
    a wall-clock bound: ten times the length costs about ten times the CPU (a quadratic index
    would cost a hundred), each size's best of three, so a loaded machine cannot fail it."""

    def cpu(length: int) -> float:
        costs = []
        for _ in range(3):
            start = time.process_time()
            deletion_keys("A" * length)
            costs.append(time.process_time() - start)
        return max(min(costs), 1e-4)

    assert cpu(100_000) / cpu(10_000) < 30
    keys = deletion_keys("A" * 100_000)
    assert len(keys) == 2  # the plate, and the one string its deletions all give


def test_a_read_without_a_plate_is_the_last_plateless_vehicle_until_the_barrier_lifts() -> None:
    dedup = Deduplicator(60)
    assert dedup.match(None, YELLOW, 0.0) is None  # none kept yet
    _learn(dedup, 1, "", 0.0)  # an unreadable read's pass: refused, the vehicle stays
    found = dedup.match(None, BLUE, 30.0)  # any colour: the camera guesses it
    assert found is not None
    assert found.pass_id == 1
    assert dedup.match("豫A12345", YELLOW, 30.0) is None  # a plate is never matched to it
    _learn(dedup, 2, "豫A12345", 31.0)
    dedup.close(2)  # the barrier lifted for a later pass: that vehicle has gone
    assert dedup.match(None, YELLOW, 32.0) is None


def test_a_late_confirmation_of_an_earlier_pass_keeps_the_plateless_vehicle() -> None:
    dedup = Deduplicator(60)
    _learn(dedup, 1, "豫A12345", 0.0)
    _learn(dedup, 2, "", 1.0)
    dedup.close(1)  # the truck before it passed; the plateless vehicle came after
    assert dedup.match(None, YELLOW, 2.0) is not None
    dedup.close(2)  # the guard let it through
    assert dedup.match(None, YELLOW, 3.0) is None


def test_the_plateless_vehicle_is_kept_for_the_window_and_replaced_by_a_later_one() -> None:
    dedup = Deduplicator(60)
    _learn(dedup, 1, "", 0.0)
    assert dedup.match(None, YELLOW, 61.0) is None  # window passed: a new pass
    _learn(dedup, 3, "", 62.0)
    _learn(dedup, 2, "", 61.5)  # learnt late (its commit finished after the next one's)
    found = dedup.match(None, YELLOW, 63.0)
    assert found is not None
    assert found.pass_id == 3
    assert len(dedup) == 0  # it is not in the plate index
    assert Deduplicator(0).match(None, YELLOW, 0.0) is None
