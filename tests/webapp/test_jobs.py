"""Job bodies driven directly with a frozen clock: reminders, snapshots, weekly report, overdue nudge."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select, update

from review_helpers import make_deck
from webapp import jobs
from webapp.db import session_scope
from webapp.mailer import RecordingMailer
from webapp.models import Card, DeckAssignment, Department, Notification, ProgressSnapshot, ReviewState, User
from webapp.services.review import grade_card, issue_token, undo_last

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)


def at(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


def grade(app: Flask, user_id: int, card_id: int, quality: int, now: datetime, ms: int = 2000) -> dict:
    """Grade one card as the review API does (one transaction, one-time token)."""
    with session_scope(app) as db:
        user = db.get(User, user_id)
        version = db.scalar(select(ReviewState.version).where(ReviewState.user_id == user_id,
                                                             ReviewState.card_id == card_id)) or 0
        token = issue_token(app.config["SECRET_KEY"], user_id, card_id, version)
        return grade_card(db, app.config["SECRET_KEY"], user, card_id, quality, token, ms, now, TZ)


def cards_of(app: Flask, deck_id: int) -> list[int]:
    with session_scope(app) as db:
        return list(db.scalars(select(Card.id).where(Card.deck_id == deck_id).order_by(Card.position)))


def notifications(app: Flask) -> list[Notification]:
    with session_scope(app) as db:
        return list(db.scalars(select(Notification).order_by(Notification.user_id)))


# -- reminders ------------------------------------------------------------------------------------

@pytest.fixture
def people(app: Flask, make_user: Callable[..., int]) -> dict[str, int]:
    ids = {
        "due": make_user("s1", name="张三", email="s1@example.edu"),
        "optout": make_user("s2", name="李四", email="s2@example.edu"),
        "gone": make_user("s3", name="王五", email="s3@example.edu"),
        "noemail": make_user("s4", name="赵六"),
    }
    with session_scope(app, write=True) as db:
        db.execute(update(User).where(User.id == ids["optout"]).values(reminder_opt_out=True))
        db.execute(update(User).where(User.id == ids["gone"]).values(active=False))
    return ids


def test_reminder_goes_to_active_opted_in_staff_with_cards_due(app: Flask, people: dict[str, int]) -> None:
    make_deck(app)  # 5 new cards, assigned to everyone
    mailer = RecordingMailer()
    with session_scope(app) as db:
        summary = jobs.remind(db, mailer, at(2026, 11, 29, 7, 30), tz=TZ, base_url="https://tifa.example.edu/")
    assert [m.to for m in mailer.messages] == [["s1@example.edu"]]
    message = mailer.messages[0]
    assert message.subject == "提法卡：今天有 5 张卡片待复习"
    assert "张三，您好" in message.body
    assert "其中新卡片 5 张" in message.body
    assert "打开今日复习：https://tifa.example.edu/today" in message.body
    rows = notifications(app)
    # The one without an address is recorded for the jobs page; opted-out and deactivated get nothing.
    assert {(r.user_id, r.kind, r.day, r.status) for r in rows} == {
        (people["due"], "reminder", date(2026, 11, 29), "recorded"),
        (people["noemail"], "reminder", date(2026, 11, 29), "recorded"),
    }
    assert "记录 2" in summary


def test_no_reminder_when_nothing_is_due(app: Flask, people: dict[str, int]) -> None:
    deck = make_deck(app, ["推进{{c1::高质量发展}}"])
    (card,) = cards_of(app, deck)
    grade(app, people["due"], card, 5, at(2026, 11, 28, 20))  # next due 2026-11-29
    mailer = RecordingMailer()
    with session_scope(app) as db:
        jobs.remind(db, mailer, at(2026, 11, 29, 7, 30), tz=TZ)
    # s1 has the card due today; s4 still has it new. The next day s1 has nothing (interval 1 -> due 11-29).
    assert {tuple(m.to) for m in mailer.messages} == {("s1@example.edu",)}
    assert mailer.messages[0].subject == "提法卡：今天有 1 张卡片待复习"
    assert "请登录提法卡，打开“今日”页面" in mailer.messages[0].body  # no TIFA_BASE_URL: no link
    grade(app, people["due"], card, 5, at(2026, 11, 29, 9))  # now due in 6 days
    mailer = RecordingMailer()
    with session_scope(app) as db:
        jobs.remind(db, mailer, at(2026, 11, 30, 7, 30), tz=TZ)
    assert mailer.messages == []
    assert {(r.user_id, r.day) for r in notifications(app)} == {
        (people["due"], date(2026, 11, 29)), (people["noemail"], date(2026, 11, 29)),
        (people["noemail"], date(2026, 11, 30))}


def test_reminder_streak_in_body(app: Flask, people: dict[str, int]) -> None:
    deck = make_deck(app, ["推进{{c1::高质量发展}}", "“{{c1::十年禁渔}}”成效显著"], new_per_day=1)
    first, second = cards_of(app, deck)
    grade(app, people["due"], first, 5, at(2026, 11, 27, 9))
    grade(app, people["due"], first, 5, at(2026, 11, 28, 9))
    grade(app, people["due"], second, 5, at(2026, 11, 28, 9))
    mailer = RecordingMailer()
    with session_scope(app) as db:
        jobs.remind(db, mailer, at(2026, 12, 4, 7, 30), tz=TZ)  # first due 12-04, second due 11-29 (overdue)
    assert "已连续完成 2 天" not in mailer.messages[0].body  # the overdue card broke the run
    mailer = RecordingMailer()
    with session_scope(app) as db:
        jobs.remind(db, mailer, at(2026, 11, 29, 7, 30), tz=TZ)
    assert "已连续完成 2 天" in mailer.messages[0].body


def test_second_run_same_day_sends_nothing(app: Flask, people: dict[str, int]) -> None:
    make_deck(app)
    mailer = RecordingMailer()
    with session_scope(app) as db:
        jobs.remind(db, mailer, at(2026, 11, 29, 7, 30), tz=TZ)
        summary = jobs.remind(db, mailer, at(2026, 11, 29, 15, 0), tz=TZ)
    assert len(mailer.messages) == 1
    assert len(notifications(app)) == 2
    assert "发送 0" in summary


def test_reminder_study_day_rolls_over_at_four(app: Flask, people: dict[str, int]) -> None:
    make_deck(app)
    mailer = RecordingMailer()
    with session_scope(app) as db:
        jobs.remind(db, mailer, at(2026, 11, 30, 3, 0), tz=TZ)  # 03:00 still belongs to 11-29
    assert {r.day for r in notifications(app)} == {date(2026, 11, 29)}


# -- snapshot -------------------------------------------------------------------------------------

def test_snapshot_counts_the_day_that_ended(app: Flask, make_user: Callable[..., int]) -> None:
    s1 = make_user("s1")
    s2 = make_user("s2")
    deck = make_deck(app)  # 5 cards
    c = cards_of(app, deck)
    for card in c[:3]:
        grade(app, s1, card, 5, at(2026, 11, 28, 9))  # learned 11-28, due 11-29
    grade(app, s1, c[0], 5, at(2026, 11, 29, 9))  # review: pass
    grade(app, s1, c[1], 1, at(2026, 11, 29, 9, 1))  # review: fail (relearn pending)
    grade(app, s1, c[1], 4, at(2026, 11, 29, 9, 2))  # same-day repeat: not a retention sample
    grade(app, s1, c[3], 3, at(2026, 11, 29, 9, 3))  # learn
    grade(app, s1, c[4], 5, at(2026, 11, 29, 9, 4))  # learn, then undone
    with session_scope(app) as db:
        undo_last(db, app.config["SECRET_KEY"], db.get(User, s1), at(2026, 11, 29, 9, 5), TZ)
    # A mastered card (interval >= 21) for s2, made directly.
    grade(app, s2, c[0], 5, at(2026, 11, 29, 10))
    with session_scope(app, write=True) as db:
        db.execute(update(ReviewState).where(ReviewState.user_id == s2).values(interval=30,
                                                                              due_day=date(2026, 12, 29)))

    now = at(2026, 11, 30, 4, 30)
    with session_scope(app) as db:
        summary = jobs.snapshot(db, now, tz=TZ)
        summary_again = jobs.snapshot(db, now + timedelta(minutes=5), tz=TZ)
    assert summary == summary_again == "2026-11-29 学习日快照：2 行（人 × 卡组）"
    with session_scope(app) as db:
        rows = {r.user_id: r for r in db.scalars(select(ProgressSnapshot))}
    assert set(rows) == {s1, s2}
    one = rows[s1]
    assert (one.day, one.deck_id) == (date(2026, 11, 29), deck)
    assert (one.new, one.learning, one.mastered) == (1, 4, 0)
    # c2 was due on 11-29 and left unstudied; c0 and c3 are due 11-30, c1 (lapsed, relearned) 11-30.
    assert (one.due, one.overdue) == (1, 0)
    assert one.reviews == 4  # two reviews, one repeat, one learn (the undone learn does not count)
    assert (one.retained, one.retention_total) == (1, 2)
    two = rows[s2]
    assert (two.new, two.learning, two.mastered, two.reviews) == (4, 0, 1, 1)


def test_snapshot_due_and_overdue(app: Flask, make_user: Callable[..., int]) -> None:
    s1 = make_user("s1")
    deck = make_deck(app)
    c = cards_of(app, deck)
    grade(app, s1, c[0], 5, at(2026, 11, 27, 9))  # due 11-28: overdue on 11-29
    grade(app, s1, c[1], 5, at(2026, 11, 28, 9))  # due 11-29
    with session_scope(app) as db:
        jobs.snapshot(db, at(2026, 11, 30, 4, 30), tz=TZ)
        row = db.scalar(select(ProgressSnapshot))
    assert (row.due, row.overdue, row.reviews, row.new) == (1, 1, 0, 3)


# -- weekly report --------------------------------------------------------------------------------

def test_weekly_report_mails_xlsx_to_super_admins(app: Flask, make_user: Callable[..., int]) -> None:
    admin = make_user("admin", name="管理员", role="super_admin", department=None, email="admin@example.edu")
    make_user("boss", name="书记", role="dept_admin", department="马克思主义学院", email="boss@example.edu")
    s1 = make_user("s1", name="张三", department="马克思主义学院")
    make_user("s2", name="李四", department="图书馆")
    deck = make_deck(app)
    c = cards_of(app, deck)
    # Last week (Mon 11-23 .. Sun 11-29): s1 studies on two days; a grade this week does not count.
    grade(app, s1, c[0], 5, at(2026, 11, 24, 9), ms=60_000)
    grade(app, s1, c[1], 5, at(2026, 11, 24, 9), ms=60_000)
    grade(app, s1, c[0], 5, at(2026, 11, 25, 9), ms=30_000)  # review, retained
    grade(app, s1, c[1], 2, at(2026, 11, 25, 9), ms=30_000)  # review, lapsed
    grade(app, s1, c[2], 5, at(2026, 11, 30, 9))

    mailer = RecordingMailer()
    with session_scope(app) as db:
        summary = jobs.weekly_report(db, mailer, at(2026, 11, 30, 8, 0), tz=TZ)
    assert [m.to for m in mailer.messages] == [["admin@example.edu"]]
    message = mailer.messages[0]
    assert message.subject == "提法卡学习周报 2026-W48（11-23 至 11-29）"
    (attachment,) = message.attachments
    assert attachment.filename == "学习周报-2026-W48.xlsx"
    wb = load_workbook(io.BytesIO(attachment.content))
    depts = [row for row in wb["部门"].iter_rows(min_row=2, values_only=True)]
    assert depts == [("图书馆", 1, 0, 0, 0, None), ("马克思主义学院", 1, 1, 4, 3, 0.5)]
    person = {row[1]: row for row in wb["个人"].iter_rows(min_row=2, values_only=True)}
    assert set(person) == {"s1", "s2"}  # admins who did not study are not listed
    assert person["s1"] == ("马克思主义学院", "s1", "张三", 2, 4, 3, 0.5, 3, 0, "2026-11-25")
    assert person["s2"][3:7] == (0, 0, 0, None)
    assert [(r.user_id, r.kind, r.day) for r in notifications(app)] == [(admin, "weekly_report", date(2026, 11, 23))]
    assert "2026-W48" in summary


# -- overdue nudge --------------------------------------------------------------------------------

def test_overdue_nudge_lists_staff_behind_for_their_department_admin(app: Flask,
                                                                    make_user: Callable[..., int]) -> None:
    make_user("admin", role="super_admin", department=None, email="admin@example.edu")
    make_user("boss", name="书记", role="dept_admin", department="马克思主义学院", email="boss@example.edu")
    make_user("lib", name="馆长", role="dept_admin", department="图书馆", email="lib@example.edu")
    s1 = make_user("s1", name="张三", department="马克思主义学院")
    s2 = make_user("s2", name="李四", department="马克思主义学院")
    make_user("s3", name="王五", department="图书馆")
    with session_scope(app) as db:
        marx = db.scalar(select(Department.id).where(Department.name == "马克思主义学院"))
    deck = make_deck(app, ["推进{{c1::高质量发展}}", "“{{c1::十年禁渔}}”成效显著"], everyone=False,
                     department_id=marx)
    with session_scope(app, write=True) as db:
        db.execute(update(DeckAssignment).values(learn_by=date(2026, 11, 27)))
    c = cards_of(app, deck)
    grade(app, s1, c[0], 5, at(2026, 11, 26, 9))
    grade(app, s1, c[1], 5, at(2026, 11, 26, 9))  # s1 finished in time; s2 never started

    with session_scope(app) as db:
        behind = jobs.behind_learn_by(db, date(2026, 11, 30))
        assert [(b.username, b.unseen, b.learn_by) for b in behind] == [("s2", 2, date(2026, 11, 27))]
        assert jobs.behind_learn_by(db, date(2026, 11, 27)) == []  # not yet past the date
    mailer = RecordingMailer()
    with session_scope(app) as db:
        jobs.overdue_nudge(db, mailer, at(2026, 11, 30, 8, 15), tz=TZ)
    assert [m.to for m in mailer.messages] == [["boss@example.edu"]]
    body = mailer.messages[0].body
    assert "李四（s2）" in body and "未学 2 张" in body and "张三" not in body
    assert s2 != s1


def test_overdue_nudge_with_nobody_behind(app: Flask) -> None:
    mailer = RecordingMailer()
    with session_scope(app) as db:
        assert jobs.overdue_nudge(db, mailer, at(2026, 11, 30, 8, 15), tz=TZ) == "2026-11-30 没有人逾期"
    assert mailer.messages == []


def test_backup_job_on_postgres_leaves_it_to_pg_dump(app: Flask, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only (SQLite backups: test_backup.py)")
    assert "pg_dump" in jobs.backup(app, at(2026, 11, 30, 4, 45))
    assert not (Path(app.instance_path) / "backups").exists()
