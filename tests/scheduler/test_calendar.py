"""Holiday pauses: merging, shifting, spreading, counting study days (scheduler.calendar, pure)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.calendar import MIN_DAILY_LOAD, Calendar, Pause, merge, usual_daily_load
from scheduler.sm2 import Sm2State, grade

D = date
WINTER = Pause("寒假", D(2027, 1, 18), D(2027, 2, 21))
NATIONAL = Pause("国庆节", D(2026, 10, 1), D(2026, 10, 7))


def test_pause_rejects_end_before_start() -> None:
    with pytest.raises(ValueError):
        Pause("x", D(2026, 10, 7), D(2026, 10, 1))
    assert Pause("一天", D(2026, 10, 1), D(2026, 10, 1)).days == 1


def test_is_paused_covers_both_ends_only() -> None:
    cal = Calendar([WINTER])
    assert not cal.is_paused(D(2027, 1, 17))
    assert cal.is_paused(D(2027, 1, 18)) and cal.is_paused(D(2027, 2, 21))
    assert not cal.is_paused(D(2027, 2, 22))
    assert cal.first_after(WINTER) == D(2027, 2, 22)


def test_overlapping_pauses_merge() -> None:
    merged = merge([Pause("国庆节", D(2026, 10, 1), D(2026, 10, 7)), Pause("中秋节", D(2026, 9, 29), D(2026, 10, 2))])
    assert merged == [Pause("中秋节、国庆节", D(2026, 9, 29), D(2026, 10, 7))]


def test_adjacent_pauses_chain_and_the_first_study_day_skips_the_chain() -> None:
    extra = Pause("调休", D(2026, 10, 8), D(2026, 10, 8))
    cal = Calendar([extra, NATIONAL])
    assert cal.pauses == [Pause("国庆节、调休", D(2026, 10, 1), D(2026, 10, 8))]
    assert cal.first_after(NATIONAL) == D(2026, 10, 9)
    assert cal.shift(D(2026, 10, 3)) == D(2026, 10, 9)
    # One study day between two pauses: not merged, and that day is a study day.
    apart = Calendar([NATIONAL, Pause("运动会", D(2026, 10, 9), D(2026, 10, 10))])
    assert len(apart.pauses) == 2
    assert apart.shift(D(2026, 10, 7)) == D(2026, 10, 8)
    assert apart.shift(D(2026, 10, 9)) == D(2026, 10, 11)


def test_contained_pause_disappears_in_the_larger_one() -> None:
    cal = Calendar([WINTER, Pause("春节", D(2027, 2, 5), D(2027, 2, 11)), Pause("寒假", D(2027, 1, 18), D(2027, 2, 1))])
    assert cal.pauses == [Pause("寒假、春节", WINTER.first, WINTER.last)]


def _review(day: date, states: list[Sm2State], q: int, cal: Calendar) -> tuple[Sm2State, date]:
    state = grade(states[-1] if states else Sm2State.new(), q)
    return state, cal.due(day, state.interval)


def test_review_just_before_a_pause_lands_after_it_with_the_sm2_interval_unchanged() -> None:
    cal = Calendar([WINTER])
    state, due = _review(D(2027, 1, 17), [Sm2State(1, "2.5", 1)], 5, cal)  # second repetition: I = 6
    assert state.interval == 6  # SM-2 untouched
    assert due == D(2027, 2, 22)  # 01-23 falls in the winter break
    # The day before the break with I = 1: due on the first day of the break -> after it.
    state, due = _review(D(2027, 1, 17), [], 4, cal)
    assert (state.interval, due) == (1, D(2027, 2, 22))


def test_review_inside_a_pause() -> None:
    cal = Calendar([WINTER])
    state, due = _review(D(2027, 2, 1), [], 5, cal)
    assert (state.interval, due) == (1, D(2027, 2, 22))
    # A long interval jumps clean over the rest of the break: nothing moves.
    state, due = _review(D(2027, 2, 1), [Sm2State(3, "2.5", 17)], 5, cal)
    assert due == D(2027, 2, 1) + timedelta(days=state.interval) and not cal.is_paused(due)


def test_review_after_a_pause_is_plain_sm2() -> None:
    cal = Calendar([WINTER])
    state, due = _review(D(2027, 2, 22), [Sm2State(1, "2.5", 1)], 5, cal)
    assert due == D(2027, 2, 28)


def test_sm2_vectors_unchanged_under_a_calendar() -> None:
    cal = Calendar([NATIONAL, WINTER])
    day, states = D(2026, 9, 1), []
    for q in [4, 2, 5, 5, 4, 4, 5, 4]:
        state, due = _review(day, states, q, cal)
        states.append(state)
        assert not cal.is_paused(due) and due >= day + timedelta(days=state.interval)
        day = due
    assert [s.interval for s in states] == [1, 1, 6, 17, 46, 125, 350, 980]


def test_study_days_leave_out_paused_days() -> None:
    cal = Calendar([NATIONAL])
    assert cal.study_days(D(2026, 9, 28), D(2026, 10, 12)) == 14 - 7
    assert cal.study_days(D(2026, 10, 3), D(2026, 10, 5)) == 0
    assert cal.study_days(D(2026, 10, 12), D(2026, 10, 1)) == 0
    assert cal.paused_days(D(2026, 9, 1), D(2026, 12, 1)) == 7
    assert Calendar().study_days(D(2026, 1, 1), D(2027, 1, 1)) == 365


def test_spread_fills_each_day_up_to_the_usual_load_then_the_following_days() -> None:
    cal = Calendar([NATIONAL])
    due = [(i, D(2026, 10, 1) + timedelta(days=i % 7)) for i in range(50)]  # 50 cards due in the holiday
    already = {D(2026, 10, 8): 15, D(2026, 10, 9): 30}
    moved = cal.spread(due, 20, already, today=D(2026, 9, 30))
    per_day: dict[date, int] = {}
    for day in moved.values():
        per_day[day] = per_day.get(day, 0) + 1
    assert per_day == {D(2026, 10, 8): 5, D(2026, 10, 10): 20, D(2026, 10, 11): 20, D(2026, 10, 12): 5}
    # Oldest due first: the five with room on 10-08 are the ones due on 10-01.
    assert sorted(k for k, d in moved.items() if d == D(2026, 10, 8)) == [0, 7, 14, 21, 28]


def test_spread_ignores_cards_on_study_days_and_never_lands_before_today() -> None:
    cal = Calendar([NATIONAL])
    moved = cal.spread([("a", D(2026, 10, 2)), ("b", D(2026, 10, 9))], 20, {}, today=D(2026, 10, 12))
    assert moved == {"a": D(2026, 10, 12)}
    # Today inside the pause: after the pause, not today.
    assert cal.spread([("a", D(2026, 10, 2))], 20, {}, today=D(2026, 10, 3)) == {"a": D(2026, 10, 8)}


def test_spread_skips_a_following_pause() -> None:
    cal = Calendar([NATIONAL, Pause("运动会", D(2026, 10, 9), D(2026, 10, 10))])
    moved = cal.spread([(i, D(2026, 10, 2)) for i in range(3)], 1, {}, today=D(2026, 9, 1))
    assert list(moved.values()) == [D(2026, 10, 8), D(2026, 10, 11), D(2026, 10, 12)]


def test_place_one_takes_the_first_day_with_room() -> None:
    cal = Calendar([WINTER])
    assert cal.place_one(D(2027, 1, 20), 20, {D(2027, 2, 22): 20, D(2027, 2, 23): 3}) == D(2027, 2, 23)
    assert cal.place_one(D(2027, 1, 10), 20, {}) == D(2027, 1, 10)
    with pytest.raises(ValueError):
        cal.place_one(D(2027, 1, 20), 0, {})


def test_usual_daily_load() -> None:
    assert usual_daily_load([]) == MIN_DAILY_LOAD
    assert usual_daily_load([5, 0, 7]) == MIN_DAILY_LOAD  # a light learner still gets room for a deck's new cards
    assert usual_daily_load([40, 0, 0, 61]) == 51  # mean over studied days, rounded up
    assert usual_daily_load([3], floor=0) == 3
    assert usual_daily_load([], floor=0) == 1


# -- properties ------------------------------------------------------------------------------------

BASE = D(2026, 9, 1)
offsets = st.integers(min_value=0, max_value=120)


@st.composite
def pauses(draw: st.DrawFn) -> list[Pause]:
    out = []
    for i in range(draw(st.integers(0, 5))):
        start = draw(offsets)
        length = draw(st.integers(0, 20))
        out.append(Pause(f"p{i}", BASE + timedelta(days=start), BASE + timedelta(days=start + length)))
    return out


@given(pauses(), st.lists(offsets, max_size=80), st.integers(1, 15),
       st.dictionaries(offsets, st.integers(0, 30), max_size=40), offsets)
def test_spread_properties(ps: list[Pause], dues: list[int], load: int, already: dict[int, int],
                           today_offset: int) -> None:
    cal = Calendar(ps)
    today = BASE + timedelta(days=today_offset)
    items = [(i, BASE + timedelta(days=d)) for i, d in enumerate(dues)]
    already_due = {BASE + timedelta(days=d): n for d, n in already.items()}
    moved = cal.spread(items, load, already_due, today)
    # Exactly the cards due in a pause move; the total is preserved.
    assert set(moved) == {i for i, day in items if cal.is_paused(day)}
    per_day: dict[date, int] = {}
    for key, day in moved.items():
        assert not cal.is_paused(day)  # nothing ever lands inside a pause
        assert day > dict(items)[key] and day >= today  # only later, never into the past
        per_day[day] = per_day.get(day, 0) + 1
    for day, n in per_day.items():  # no day goes over the load
        assert n <= max(0, load - already_due.get(day, 0))
    # Order kept: a card due earlier never lands after one due later.
    by_due = sorted(moved, key=lambda k: (dict(items)[k], k))
    assert [moved[k] for k in by_due] == sorted(moved[k] for k in by_due)


@given(pauses(), offsets)
def test_merge_and_shift_properties(ps: list[Pause], offset: int) -> None:
    cal = Calendar(ps)
    day = BASE + timedelta(days=offset)
    assert cal.is_paused(day) == any(day in p for p in ps)
    shifted = cal.shift(day)
    assert not cal.is_paused(shifted) and shifted >= day
    assert all(cal.is_paused(BASE + timedelta(days=offset + k)) for k in range((shifted - day).days))
    for a, b in zip(cal.pauses, cal.pauses[1:], strict=False):
        assert b.first > a.last + timedelta(days=1)  # merged: neither overlapping nor adjacent


@given(pauses(), offsets, offsets)
def test_study_days_count(ps: list[Pause], a: int, b: int) -> None:
    cal = Calendar(ps)
    start, end = BASE + timedelta(days=a), BASE + timedelta(days=b)
    expected = sum(1 for k in range(max(0, b - a)) if not cal.is_paused(start + timedelta(days=k)))
    assert cal.study_days(start, end) == expected
