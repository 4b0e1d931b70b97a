"""Grading and undo: each is one transaction (state change and log row commit together).

A card is handed out with a one-time token, signed with the app's secret, that carries the
user, the card, the state's ``version`` at issue time (0 for a new card) and a random nonce.
Grading stores the nonce in the unique ``review_logs.token`` column and moves the state with
compare-and-set on ``version``, so:

* the same token again (double tap, retry, back button) returns the first result, no second step;
* a token issued before someone else's grade of that card (another tab) gets 409 ``stale``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from cards.cloze import hidden_text, list_size, render_answer, render_prompt
from scheduler.queue import needs_relearn
from scheduler.sm2 import PASSING_QUALITY, Sm2State, check_quality, grade
from scheduler.study_day import study_day

from ..db import begin_write
from ..models import (
    LOG_LEARN,
    LOG_RELEARN,
    LOG_REVIEW,
    LOG_UNDO,
    Card,
    Deck,
    Note,
    ReviewLog,
    ReviewState,
    User,
)
from . import calendar, queue

TOKEN_SALT = "tifa.review.grade"
#: review_states columns an undo puts back (everything but the id and the version guard).
RESTORED = ("deck_id", "repetitions", "easiness_cents", "interval", "due_day", "lapses", "relearn_pending",
            "introduced_day", "last_review_day", "last_reviewed_at")


class ReviewError(Exception):
    """A refused grade or undo; ``code`` is stable for clients, ``message`` tells the person what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class GradeToken:
    user_id: int
    card_id: int
    version: int
    nonce: str


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=TOKEN_SALT)


def issue_token(secret: str, user_id: int, card_id: int, version: int) -> str:
    nonce = secrets.token_urlsafe(16)
    return _serializer(secret).dumps([user_id, card_id, version, nonce])


def read_token(secret: str, token: object) -> GradeToken:
    if not isinstance(token, str) or not token:
        raise ReviewError(400, "missing_token", "缺少评分令牌：请重新打开复习页面，再给这张卡片评分。")
    try:
        user_id, card_id, version, nonce = _serializer(secret).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise ReviewError(400, "bad_token", "评分令牌无效：请刷新复习页面后重试。") from None
    return GradeToken(int(user_id), int(card_id), int(version), str(nonce))


# -- What a card looks like to the client ----------------------------------------------------------

def card_payload(db: Session, secret: str, user: User, card_id: int, counts: queue.SessionCounts,
                 bucket: str) -> dict[str, Any]:
    card, note, deck = db.execute(
        select(Card, Note, Deck).join(Note, Note.id == Card.note_id).join(Deck, Deck.id == Card.deck_id)
        .where(Card.id == card_id)
    ).one()
    version = db.scalar(select(ReviewState.version).where(ReviewState.user_id == user.id,
                                                         ReviewState.card_id == card_id)) or 0
    hidden = hidden_text(note.text, card.ord)
    return {
        "card_id": card.id,
        "prompt_html": render_prompt(note.text, card.ord),
        "answer_html": render_answer(note.text, card.ord),
        "extra": note.extra,
        "hidden": hidden,
        "items": list_size(hidden) if note.kind == "list" else 1,
        "kind": note.kind,
        "bucket": bucket,
        "deck": {"id": deck.id, "title": deck.title, "term": deck.term, "week": deck.week},
        "token": issue_token(secret, user.id, card.id, version),
        "counts": counts.as_dict(),
    }


def next_card(db: Session, secret: str, user: User, today: date) -> dict[str, Any] | None:
    """The next card for ``user`` today with its one-time token, or None when the day's work is done."""
    allowance = queue.new_left(db, user, today)
    item = queue.next_item(db, user, today, queue.last_graded_card(db, user, today), allowance)
    if item is None:
        return None
    counts = queue.today_summary_counts(db, user, today, allowance)
    return card_payload(db, secret, user, item.card_id, counts, item.bucket.name.lower())


# -- Grading ----------------------------------------------------------------------------------------

def _result(log: ReviewLog) -> dict[str, Any]:
    state = Sm2State.from_cents(log.after_repetitions, log.after_easiness_cents, log.after_interval)
    return {
        "card_id": log.card_id,
        "kind": log.kind,
        "quality": log.quality,
        "repetitions": state.repetitions,
        "easiness": float(state.easiness),
        "interval": state.interval,
        "due": log.after_due.isoformat(),
        "again_today": needs_relearn(log.quality),
    }


def _by_token(db: Session, user: User, nonce: str) -> dict[str, Any] | None:
    log = db.scalar(select(ReviewLog).where(ReviewLog.token == nonce))
    if log is None:
        return None
    if log.user_id != user.id:
        raise ReviewError(400, "bad_token", "评分令牌无效：请刷新复习页面后重试。")
    return _result(log)


def _snapshot(state: ReviewState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in RESTORED:
        value = getattr(state, name)
        out[name] = value.isoformat() if isinstance(value, date | datetime) else value
    out["version"] = state.version
    return out


def _unsnapshot(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    for name in ("due_day", "introduced_day", "last_review_day"):
        values[name] = date.fromisoformat(values[name])
    values["last_reviewed_at"] = datetime.fromisoformat(values["last_reviewed_at"])
    return {k: values[k] for k in RESTORED}


def _visible_card(db: Session, user: User, card_id: int) -> Card:
    card = db.scalar(
        select(Card).join(Note, Note.id == Card.note_id)
        .where(Card.id == card_id, Card.retired.is_(False), Note.retired.is_(False),
               Card.deck_id.in_(queue.assigned(db, user)))
    )
    if card is None:
        raise ReviewError(404, "not_assigned", "这张卡片不在您的复习任务中（可能已停用或未分配给您）。请返回今日页面。")
    return card


def grade_card(db: Session, secret: str, user: User, card_id: int, quality: object, token: object,
               ms: object, now: datetime, tz: str) -> dict[str, Any]:
    """Grade one card in one transaction and return its new state (or the first result for a used token)."""
    try:
        q = check_quality(quality)
    except ValueError:
        raise ReviewError(400, "bad_quality", "评分必须是 0 到 5 的整数：请点选一个评分按钮。") from None
    grant = read_token(secret, token)
    if grant.user_id != user.id or grant.card_id != card_id:
        raise ReviewError(400, "bad_token", "评分令牌与这张卡片不符：请刷新复习页面后重试。")
    elapsed = ms if isinstance(ms, int) and not isinstance(ms, bool) and ms >= 0 else 0
    elapsed = min(elapsed, 3_600_000)
    today = study_day(now, tz)

    _start_write(db)
    try:
        first = _by_token(db, user, grant.nonce)
        if first is not None:
            db.rollback()
            return first
        card = _visible_card(db, user, card_id)
        state = db.scalar(select(ReviewState).where(ReviewState.user_id == user.id,
                                                    ReviewState.card_id == card_id))
        current_version = state.version if state is not None else 0
        if current_version != grant.version:
            # The same token may have committed since our first look (PostgreSQL reads committed
            # data statement by statement): then this is a repeat, not a stale tab.
            first = _by_token(db, user, grant.nonce)
            if first is not None:
                db.rollback()
                return first
            raise _stale()
        log = _apply(db, user, card, state, q, today, now, elapsed, grant.nonce)
        db.commit()
        return _result(log)
    except IntegrityError:
        # A concurrent request with the same token (unique review_logs.token) or a first grade of
        # the same new card from another tab (unique user+card) committed first.
        db.rollback()
        first = _by_token(db, user, grant.nonce)
        db.rollback()
        if first is not None:
            return first
        raise _stale() from None
    except BaseException:
        db.rollback()
        raise


def _start_write(db: Session) -> None:
    """End the request's read transaction (the login lookup) and start a writer one.

    On SQLite a read transaction cannot safely be upgraded to a write; BEGIN IMMEDIATE waits
    for the lock instead of failing with "database is locked".
    """
    if db.in_transaction():
        db.commit()
    begin_write(db)


def _stale() -> ReviewError:
    return ReviewError(409, "stale", "这张卡片已在别的页面或设备上评过分：本次评分未计入。请刷新后继续复习。")


def _due(db: Session, user: User, today: date, interval: int) -> date:
    """Review day + SM-2 interval, moved out of a holiday pause (services.calendar); the interval stays."""
    return calendar.place_graded(db, user.id, today + timedelta(days=interval), today)


def _apply(db: Session, user: User, card: Card, state: ReviewState | None, q: int, today: date,
           now: datetime, ms: int, nonce: str) -> ReviewLog:
    log = ReviewLog(user_id=user.id, card_id=card.id, deck_id=card.deck_id, quality=q, reviewed_at=now,
                    study_day=today, ms=ms, token=nonce)
    if state is None:
        after = grade(Sm2State.new(), q)
        log.kind = LOG_LEARN
        log.restore = None
        values = dict(deck_id=card.deck_id, repetitions=after.repetitions, easiness_cents=after.easiness_cents,
                      interval=after.interval, due_day=_due(db, user, today, after.interval),
                      lapses=1 if q < PASSING_QUALITY else 0, relearn_pending=needs_relearn(q),
                      introduced_day=today, last_review_day=today, last_reviewed_at=now)
        _fill_log(log, None, values)
        db.add(log)
        db.flush()  # the unique token goes in first: a duplicate stops here
        db.add(ReviewState(user_id=user.id, card_id=card.id, version=1, **values))
        db.flush()
        return log

    before = Sm2State.from_cents(state.repetitions, state.easiness_cents, state.interval)
    relearning = state.relearn_pending and state.last_review_day == today
    if relearning:
        # A same-day repeat: logged, schedule untouched, comes back until graded >= 4.
        log.kind = LOG_RELEARN
        values = dict(relearn_pending=needs_relearn(q), last_review_day=today, last_reviewed_at=now)
        schedule = {"repetitions": before.repetitions, "easiness_cents": before.easiness_cents,
                    "interval": before.interval, "due_day": state.due_day}
    else:
        if state.due_day > today:
            raise ReviewError(409, "not_due", "这张卡片今天还不到复习时间：请刷新后继续复习。")
        log.kind = LOG_REVIEW
        after = grade(before, q)
        schedule = {"repetitions": after.repetitions, "easiness_cents": after.easiness_cents,
                    "interval": after.interval, "due_day": _due(db, user, today, after.interval)}
        values = dict(schedule, lapses=state.lapses + (1 if q < PASSING_QUALITY else 0),
                      relearn_pending=needs_relearn(q), last_review_day=today, last_reviewed_at=now)
    log.restore = _snapshot(state)
    _fill_log(log, state, schedule)
    db.add(log)
    db.flush()
    moved = db.execute(
        update(ReviewState)
        .where(ReviewState.id == state.id, ReviewState.version == state.version)
        .values(version=ReviewState.version + 1, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise _stale()
    return log


def _fill_log(log: ReviewLog, before: ReviewState | None, after: dict[str, Any]) -> None:
    if before is not None:
        log.before_repetitions = before.repetitions
        log.before_easiness_cents = before.easiness_cents
        log.before_interval = before.interval
        log.before_due = before.due_day
    log.after_repetitions = after["repetitions"]
    log.after_easiness_cents = after["easiness_cents"]
    log.after_interval = after["interval"]
    log.after_due = after["due_day"]


# -- Undo -------------------------------------------------------------------------------------------

def undo_last(db: Session, secret: str, user: User, now: datetime, tz: str) -> dict[str, Any]:
    """Take back the person's latest grade of today: the state as it was, plus an ``undo`` log row.

    Returns the card again (with a fresh token) so the page can show it at once.
    """
    today = study_day(now, tz)
    _start_write(db)
    try:
        undo = aliased(ReviewLog)
        target = db.scalar(
            select(ReviewLog)
            .where(ReviewLog.user_id == user.id, ReviewLog.study_day == today, ReviewLog.kind != LOG_UNDO,
                   ~select(undo.id).where(undo.undoes_id == ReviewLog.id).exists())
            .order_by(ReviewLog.id.desc())
            .limit(1)
        )
        if target is None:
            raise ReviewError(409, "nothing_to_undo", "今天没有可以撤销的评分。")
        state = db.scalar(select(ReviewState).where(ReviewState.user_id == user.id,
                                                    ReviewState.card_id == target.card_id))
        if state is None:
            raise ReviewError(409, "stale", "这次评分已无法撤销：卡片状态已在别处改变。请刷新页面。")
        row = ReviewLog(user_id=user.id, card_id=target.card_id, deck_id=target.deck_id, kind=LOG_UNDO,
                        quality=None, reviewed_at=now, study_day=today, ms=0, undoes_id=target.id,
                        restore=_snapshot(state))
        row.before_repetitions, row.before_easiness_cents = state.repetitions, state.easiness_cents
        row.before_interval, row.before_due = state.interval, state.due_day
        if target.restore is None:
            gone = db.execute(delete(ReviewState).where(ReviewState.id == state.id,
                                                        ReviewState.version == state.version)
                              .execution_options(synchronize_session=False)).rowcount
        else:
            values = _unsnapshot(target.restore)
            row.after_repetitions, row.after_easiness_cents = values["repetitions"], values["easiness_cents"]
            row.after_interval, row.after_due = values["interval"], values["due_day"]
            # The version keeps counting up, so tokens handed out before the undone grade stay stale.
            gone = db.execute(update(ReviewState)
                              .where(ReviewState.id == state.id, ReviewState.version == state.version)
                              .values(version=ReviewState.version + 1, **values)
                              .execution_options(synchronize_session=False)).rowcount
        if gone != 1:
            raise ReviewError(409, "stale", "这次评分已无法撤销：卡片状态已在别处改变。请刷新页面。")
        db.add(row)
        db.flush()
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ReviewError(409, "stale", "这次评分已被撤销过了。请刷新页面。") from None
    except BaseException:
        db.rollback()
        raise
    counts = queue.today_summary_counts(db, user, today)
    payload = card_payload(db, secret, user, target.card_id, counts, "undo")
    payload["undone"] = {"card_id": target.card_id, "kind": target.kind, "quality": target.quality}
    db.rollback()
    return payload
