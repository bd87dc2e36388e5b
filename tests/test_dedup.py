from __future__ import annotations

from edge.dedup import Deduplicator


def test_same_plate_within_window_is_duplicate() -> None:
    dedup = Deduplicator(60)
    assert not dedup.is_duplicate("豫A12345", None, 0.0)
    assert dedup.is_duplicate("豫A12345", None, 59.0)
    assert dedup.is_duplicate("豫A12346", None, 30.0)  # refined read, one character off
    assert not dedup.is_duplicate("豫A12345", None, 61.0)  # window passed: a new pass


def test_different_plates_are_not_duplicates() -> None:
    dedup = Deduplicator(60)
    assert not dedup.is_duplicate("豫A12345", None, 0.0)
    assert not dedup.is_duplicate("晋E55123", None, 1.0)


def test_no_plate_reads_match_only_by_camera_record_id() -> None:
    dedup = Deduplicator(60)
    assert not dedup.is_duplicate(None, "vz-1", 0.0)
    assert not dedup.is_duplicate(None, "vz-2", 1.0)  # another unplated vehicle
    assert dedup.is_duplicate(None, "vz-1", 2.0)  # the camera resent record 1
    assert not dedup.is_duplicate(None, None, 3.0)
    assert not dedup.is_duplicate(None, None, 3.0)


def test_zero_window_disables() -> None:
    dedup = Deduplicator(0)
    assert not dedup.is_duplicate("豫A12345", None, 0.0)
    assert not dedup.is_duplicate("豫A12345", None, 0.5)


def test_index_agrees_with_pairwise_check_and_forgets_expired_reads() -> None:
    import random

    from edge.plates import within_one_edit

    rng = random.Random(3)
    alphabet = "A1B2"
    dedup = Deduplicator(10)
    taken: list[tuple[float, str]] = []
    for step in range(2000):
        now = step * 0.1
        plate = "豫" + "".join(rng.choice(alphabet) for _ in range(rng.choice([5, 6, 7])))
        live = [p for t, p in taken if now - t <= 10]
        expected = any(within_one_edit(plate, p) for p in live)
        assert dedup.is_duplicate(plate, None, now) is expected, (plate, live)
        if not expected:
            taken.append((now, plate))
    dedup.is_duplicate(None, None, 1e9)  # everything expires
    assert not dedup._by_key
    assert not dedup._vendor_ids


def test_camera_record_ids_expire_with_the_window() -> None:
    dedup = Deduplicator(10)
    assert not dedup.is_duplicate("豫A12345", "vz-7", 0.0)
    assert dedup.is_duplicate("晋E55123", "vz-7", 5.0)  # same record id, other read
    assert not dedup.is_duplicate("晋E55123", "vz-7", 11.0)  # the window has passed
