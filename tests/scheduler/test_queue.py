"""The pure queue rules: bucket order, oldest overdue first, same-day repeats, new-card limits."""

from datetime import UTC, date, datetime, timedelta

import pytest

from scheduler.queue import Bucket, QueueCard, bucket, needs_relearn, next_card, order_today, progress_word

TODAY = date(2026, 11, 29)


def at(minute: int) -> datetime:
    return datetime(2026, 11, 29, 2, minute, tzinfo=UTC)


def ids(cards: list[QueueCard]) -> list[int]:
    return [c.card_id for c in cards]


def test_buckets() -> None:
    assert bucket(QueueCard(1, 1, 0), TODAY) is Bucket.NEW
    assert bucket(QueueCard(1, 1, 0, due=TODAY - timedelta(days=1)), TODAY) is Bucket.OVERDUE
    assert bucket(QueueCard(1, 1, 0, due=TODAY), TODAY) is Bucket.DUE
    assert bucket(QueueCard(1, 1, 0, due=TODAY + timedelta(days=1)), TODAY) is None
    assert bucket(QueueCard(1, 1, 0, due=TODAY + timedelta(days=1), relearn_pending=True), TODAY) is Bucket.RELEARN


def test_order_overdue_oldest_first_then_due_then_relearn_then_new() -> None:
    cards = [
        QueueCard(1, 1, 1),  # new
        QueueCard(2, 1, 2, due=TODAY),  # due
        QueueCard(3, 1, 3, due=TODAY - timedelta(days=1)),  # overdue 1 day
        QueueCard(4, 1, 4, due=TODAY - timedelta(days=5)),  # overdue 5 days
        QueueCard(5, 1, 5, due=TODAY + timedelta(days=1), relearn_pending=True, last_reviewed=at(5)),
        QueueCard(6, 1, 6, due=TODAY + timedelta(days=1), relearn_pending=True, last_reviewed=at(1)),
        QueueCard(7, 1, 7, due=TODAY + timedelta(days=3)),  # not today
    ]
    assert ids(order_today(cards, TODAY)) == [4, 3, 2, 6, 5, 1]


def test_new_cards_follow_deck_position_and_the_daily_limit_per_deck() -> None:
    cards = [QueueCard(10 + i, 1, 10 - i) for i in range(5)] + [QueueCard(20 + i, 2, i) for i in range(5)]
    queue = order_today(cards, TODAY, new_left={1: 2, 2: 0})
    assert ids(queue) == [14, 13]
    # A deck not in the mapping gets the default allowance.
    assert len(order_today(cards, TODAY, new_left={1: 1}, default_new_left=3)) == 4


def test_due_cards_come_before_new_ones_even_with_new_allowance_left() -> None:
    cards = [QueueCard(1, 1, 0), QueueCard(2, 2, 9, due=TODAY)]
    assert ids(order_today(cards, TODAY, new_left={1: 20})) == [2, 1]


def test_card_just_graded_waits_unless_it_is_the_only_one() -> None:
    relearn = QueueCard(1, 1, 0, due=TODAY + timedelta(days=1), relearn_pending=True, last_reviewed=at(1))
    new = QueueCard(2, 1, 1)
    assert next_card([relearn, new], TODAY, just_graded=1).card_id == 2
    assert next_card([relearn], TODAY, just_graded=1).card_id == 1
    assert next_card([], TODAY) is None


@pytest.mark.parametrize(("quality", "again"), [(0, True), (1, True), (2, True), (3, True), (4, False), (5, False)])
def test_grades_below_four_come_back_today(quality: int, again: bool) -> None:
    assert needs_relearn(quality) is again


def test_needs_relearn_refuses_grades_outside_0_to_5() -> None:
    with pytest.raises(ValueError):
        needs_relearn(6)


def test_progress_words() -> None:
    assert progress_word(None, graded=False) == "new"
    assert progress_word(20, graded=True) == "learning"
    assert progress_word(21, graded=True) == "mastered"
