"""SM-2 as SuperMemo published it: DESIGN.md's binding vectors and properties."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.sm2 import Sm2State, grade


def run(grades: list[int]) -> list[Sm2State]:
    state, states = Sm2State.new(), []
    for q in grades:
        state = grade(state, q)
        states.append(state)
    return states


def test_first_vector_easiness_and_intervals() -> None:
    states = run([5, 5, 4, 3, 5, 2, 4, 4, 3])
    assert [float(s.easiness) for s in states] == [2.60, 2.70, 2.70, 2.56, 2.66, 2.66, 2.66, 2.66, 2.52]
    assert [s.interval for s in states] == [1, 6, 17, 44, 118, 1, 6, 16, 41]


def test_second_vector_needs_exact_arithmetic() -> None:
    # Binary floats give 351 and 983 for the last two intervals.
    assert [s.interval for s in run([4, 2, 5, 5, 4, 4, 5, 4])] == [1, 1, 6, 17, 46, 125, 350, 980]


def test_new_state() -> None:
    state = Sm2State.new()
    assert (state.repetitions, state.easiness, state.interval) == (0, Decimal("2.50"), 0)
    assert float(state.easiness) == 2.5


def test_lapse_keeps_easiness_and_restarts() -> None:
    state = grade(grade(grade(Sm2State.new(), 5), 5), 1)
    assert (state.repetitions, state.interval, float(state.easiness)) == (1, 1, 2.7)


def test_easiness_floor() -> None:
    state = Sm2State(5, 1.3, 10)
    assert float(grade(state, 3).easiness) == 1.3


@pytest.mark.parametrize("quality", [-1, 6, 2.5, "3", None, True])
def test_quality_outside_range_is_refused(quality: object) -> None:
    with pytest.raises(ValueError, match="quality"):
        grade(Sm2State.new(), quality)  # type: ignore[arg-type]


def test_easiness_must_sit_on_the_grid() -> None:
    with pytest.raises(ValueError):
        Sm2State(1, "2.555", 1)
    assert Sm2State(1, 2.6, 1) == Sm2State(1, Decimal("2.60"), 1)


states = st.builds(
    Sm2State.from_cents,
    st.integers(0, 30),
    st.integers(130, 400),
    st.integers(1, 5000),
)


@given(states, st.integers(0, 5))
def test_easiness_never_below_floor_and_interval_at_least_one(state: Sm2State, q: int) -> None:
    after = grade(state, q)
    assert after.easiness >= Decimal("1.3")
    assert after.interval >= 1


@given(states, st.integers(3, 5), st.integers(3, 5))
def test_better_grade_never_shorter_interval(state: Sm2State, a: int, b: int) -> None:
    worse, better = sorted((a, b))
    assert grade(state, better).interval >= grade(state, worse).interval


@given(st.lists(st.integers(0, 5), max_size=40))
def test_replay_is_deterministic(grades: list[int]) -> None:
    assert run(grades) == run(grades)
