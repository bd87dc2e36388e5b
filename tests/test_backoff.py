"""The one backoff helper (drivers/backoff.py) every retry loop uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.backoff import Backoff


def test_doubles_up_to_the_maximum_and_starts_over_after_reset() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_another_factor() -> None:
    backoff = Backoff(1.0, 100.0, factor=3.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 3.0, 9.0, 27.0, 81.0]


@pytest.mark.parametrize(
    ("attempts", "rand", "expected"),
    [(0, 0.0, 1.0), (0, 1.0, 2.0), (3, 0.5, 12.0), (10, 1.0, 300.0), (10, 0.0, 150.0)],
)
def test_equal_jitter_is_half_fixed_half_random(
    attempts: int, rand: float, expected: float
) -> None:
    assert Backoff(2.0, 300.0, jitter=0.5, rand=lambda: rand).delay(attempts) == expected


@given(
    initial=st.floats(0.001, 10),
    spread=st.floats(1, 1000),
    factor=st.floats(1, 10),
    jitter=st.floats(0, 1),
    rand=st.floats(0, 1),
    attempts=st.integers(0, 10_000),
)
def test_never_below_the_fixed_part_nor_above_the_maximum(
    initial: float, spread: float, factor: float, jitter: float, rand: float, attempts: int
) -> None:
    backoff = Backoff(initial, initial * spread, factor, jitter, rand=lambda: rand)
    delay = backoff.delay(attempts)
    assert initial * (1 - jitter) * (1 - 1e-9) <= delay <= initial * spread * (1 + 1e-9)


@pytest.mark.parametrize(
    ("initial", "maximum", "factor", "jitter"),
    [(0.0, 1.0, 2, 0), (2.0, 1.0, 2, 0), (1.0, 2.0, 0.5, 0), (1, 2, 2, 1.5), (1, 2, 2, -0.1)],
)
def test_nonsense_is_refused(initial: float, maximum: float, factor: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(initial, maximum, factor, jitter)
