"""Terms and holiday pauses end to end: the admin page, moving cards out of pauses (on save, nightly and at
grading), reminders held back, streaks kept and the dashboard's pace."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from admin_helpers import as_admin, post
from review_helpers import ReviewClient, make_deck
from scheduler import jobs as spec
from scheduler.calendar import Calendar
from scheduler.calendar import Pause as CalendarPause
from webapp import jobs
from webapp.db import session_scope
from webapp.mailer import RecordingMailer
from webapp.models import AuditLog, JobRun, Notification, Pause, ReviewLog, ReviewState, Term, User
from webapp.services import calendar as service
from webapp.services import progress, queue
from webapp.services import review as review_service
from webapp.services.integrity import check
from webapp.services.progress import PACE_BEHIND, PACE_ON, pace

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)
WINTER_FIRST, WINTER_LAST = date(2027, 1, 18), date(2027, 2, 21)
BACK = date(2027, 2, 22)  # the first study day after the winter break


def at(day: date, hh: int = 10) -> datetime:
    """A Shanghai wall-clock time on ``day`` as aware UTC."""
    return datetime(day.year, day.month, day.day, hh, tzinfo=SHANGHAI).astimezone(UTC)


def texts(n: int) -> list[str]:
    return [f"第{i}条：坚持{{{{c1::提法{i}}}}}" for i in range(n)]


def add_pause(app: Flask, first: date = WINTER_FIRST, last: date = WINTER_LAST, name: str = "寒假",
              kind: str = "寒假") -> None:
    """A pause written straight to the table (as if entered late): nothing is moved by this."""
    with session_scope(app, write=True) as db:
        db.add(Pause(name=name, kind=kind, first_day=first, last_day=last))


def study_all(app: Flask, user_id: int, day: date, quality: int = 5) -> int:
    """Study as the review page does: next card, grade, until the day's work is done. Returns grades given."""
    secret, given = app.config["SECRET_KEY"], 0
    while True:
        with session_scope(app) as db:
            user = db.get(User, user_id)
            card = review_service.next_card(db, secret, user, day)
            if card is None:
                return given
            review_service.grade_card(db, secret, user, card["card_id"], quality, card["token"], 1500, at(day), TZ)
            given += 1


def states(app: Flask, user_id: int) -> list[ReviewState]:
    with session_scope(app) as db:
        return list(db.scalars(select(ReviewState).where(ReviewState.user_id == user_id)
                               .order_by(ReviewState.card_id)))


def streak(app: Flask, user_id: int, day: date, done_today: bool) -> int:
    with session_scope(app) as db:
        return queue.streak(db, db.get(User, user_id), day, done_today=done_today)


# -- admin page -----------------------------------------------------------------------------------

def test_super_admin_adds_edits_and_deletes_pauses_and_terms_with_an_audit_trail(
        app: Flask, client: FlaskClient, make_user: Callable[..., int]) -> None:
    as_admin(client, make_user)
    page = client.get("/admin/calendar")
    assert page.status_code == 200 and "学期与假期" in page.get_data(as_text=True)
    home = client.get("/admin/").get_data(as_text=True)
    assert 'id="link-calendar"' in home and 'href="/admin/calendar">学期与假期</a>' in home  # tile and nav
    response = post(client, "/admin/calendar/terms", {"name": "2026-2027学年第一学期", "first_day": "2026-09-01",
                                                      "last_day": "2027-01-17"})
    assert response.status_code == 302
    response = post(client, "/admin/calendar/pauses", {"name": "寒假", "kind": "寒假", "first_day": "2027-01-18",
                                                       "last_day": "2027-02-21"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "已保存假期“寒假”；顺延 0 张卡片（0 人）" in html
    # Overlapping pauses are allowed and act as one.
    post(client, "/admin/calendar/pauses", {"name": "春节", "kind": "节假日", "first_day": "2027-02-06",
                                            "last_day": "2027-02-26"})
    html = client.get("/admin/calendar").get_data(as_text=True)
    assert "寒假、春节 2027-01-18 至 2027-02-26（40 天）" in html
    with session_scope(app) as db:
        spring = db.scalar(select(Pause).where(Pause.name == "春节"))
        term = db.scalar(select(Term))
    assert post(client, f"/admin/calendar/pauses/{spring.id}", {"name": "春节", "kind": "节假日",
                                                                "first_day": "2027-02-06",
                                                                "last_day": "2027-02-12"}).status_code == 302
    assert post(client, f"/admin/calendar/terms/{term.id}", {"name": "第一学期", "first_day": "2026-09-01",
                                                             "last_day": "2027-01-17"}).status_code == 302
    assert post(client, f"/admin/calendar/pauses/{spring.id}/delete").status_code == 302
    with session_scope(app) as db:
        assert [p.name for p in db.scalars(select(Pause))] == ["寒假"]
        assert db.scalar(select(Term.name)) == "第一学期"
        actions = [(a.action, a.details) for a in db.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert [a for a, _ in actions] == ["term.create", "pause.create", "pause.create", "pause.update",
                                       "term.update", "pause.delete"]
    assert actions[3][1] == {"last_day": {"before": "2027-02-26", "after": "2027-02-12"}}
    assert actions[5][1]["name"] == "春节"
    assert post(client, f"/admin/calendar/terms/{term.id}/delete").status_code == 302
    assert "新建假期" in client.get("/admin/audit").get_data(as_text=True)


@pytest.mark.parametrize(("form", "message"), [
    ({"name": "寒假", "kind": "寒假", "first_day": "2027-02-21", "last_day": "2027-01-18"},
     "结束日期（2027-01-18）不能早于开始日期（2027-02-21）"),
    ({"name": "寒假", "kind": "寒假", "first_day": "2027-13-01", "last_day": "2027-02-21"}, "开始日期不是有效的日期"),
    ({"name": "  ", "kind": "寒假", "first_day": "2027-01-18", "last_day": "2027-02-21"}, "请填写假期名称"),
    ({"name": "寒假", "kind": "春游", "first_day": "2027-01-18", "last_day": "2027-02-21"}, "请选择假期类型"),
    ({"name": "寒假", "kind": "寒假", "first_day": "2027-01-18", "last_day": "2029-02-21"}, "一个假期不能超过一年"),
])
def test_a_wrong_pause_is_refused_in_chinese(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                             form: dict[str, str], message: str) -> None:
    as_admin(client, make_user)
    response = post(client, "/admin/calendar/pauses", form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert f'value="{form["first_day"]}"' in html  # the form comes back filled in
    with session_scope(app) as db:
        assert db.scalar(select(func.count()).select_from(Pause)) == 0
        assert db.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_terms_may_not_overlap(app: Flask, client: FlaskClient, make_user: Callable[..., int]) -> None:
    as_admin(client, make_user)
    post(client, "/admin/calendar/terms", {"name": "第一学期", "first_day": "2026-09-01", "last_day": "2027-01-17"})
    response = post(client, "/admin/calendar/terms", {"name": "第二学期", "first_day": "2027-01-10",
                                                      "last_day": "2027-07-01"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "与学期“第一学期”（2026-09-01 至 2027-01-17）的日期重叠" in html
    assert 'value="第二学期"' in html and 'value="2027-01-10"' in html  # the refused form comes back filled in


def test_only_super_admins_and_only_with_csrf(app: Flask, client: FlaskClient, make_user: Callable[..., int]) -> None:
    as_admin(client, make_user, "dept", role="dept_admin")
    assert client.get("/admin/calendar").status_code == 403
    assert "学期与假期" not in client.get("/admin/").get_data(as_text=True)  # neither tile nor nav link
    other = app.test_client()
    as_admin(other, make_user, "boss")
    refused = other.post("/admin/calendar/pauses", data={"name": "寒假", "kind": "寒假", "first_day": "2027-01-18",
                                                         "last_day": "2027-02-21"})
    assert refused.status_code == 400  # no CSRF token
    with session_scope(app) as db:
        assert db.scalar(select(func.count()).select_from(Pause)) == 0


# -- moving cards out of a pause ------------------------------------------------------------------

@pytest.fixture
def learner(app: Flask, make_user: Callable[..., int]) -> int:
    """Someone who learned 40 cards on 01-10 and 01-11: 20 grades, then 40 (20 reviews, 20 new): usual load 30."""
    user_id = make_user("s1", name="张三", email="s1@example.edu")
    make_deck(app, texts(40), new_per_day=20)
    assert study_all(app, user_id, date(2027, 1, 10)) == 20
    assert study_all(app, user_id, date(2027, 1, 11)) == 20 + 20  # yesterday's 20 are due again
    return user_id


def _due(app: Flask, user_id: int, days: list[date]) -> list[int]:
    """Put the person's cards (by card id) due on ``days``, as if scheduled before the pause existed."""
    ids = [s.id for s in states(app, user_id)]
    with session_scope(app, write=True) as db:
        for state_id, day in zip(ids, days, strict=False):
            db.execute(update(ReviewState).where(ReviewState.id == state_id).values(due_day=day))
    return ids


def test_saving_a_pause_spreads_the_cards_due_inside_it_by_the_usual_load(
        app: Flask, client: FlaskClient, make_user: Callable[..., int], learner: int) -> None:
    # 10 cards already due on the first day back, 15 due on 01-20 and 15 on 01-25 (inside the break).
    _due(app, learner, [BACK] * 10 + [date(2027, 1, 20)] * 15 + [date(2027, 1, 25)] * 15)
    before = {s.id: s for s in states(app, learner)}
    app.config["CLOCK"] = lambda: at(date(2027, 1, 15))
    as_admin(client, make_user)
    response = post(client, "/admin/calendar/pauses", {"name": "寒假", "kind": "寒假", "first_day": "2027-01-18",
                                                       "last_day": "2027-02-21"}, follow_redirects=True)
    assert "顺延 30 张卡片（1 人）" in response.get_data(as_text=True)
    after = states(app, learner)
    per_day = Counter(s.due_day for s in after)
    with session_scope(app) as db:
        assert service.usual_load(db, learner, date(2027, 1, 15)) == 30
    # Usual load 30: the first day back takes 20 more, the next day the other 10. Nothing left in the break.
    assert per_day == {BACK: 30, BACK + timedelta(days=1): 10}
    moved = [s for s in after if before[s.id].due_day != s.due_day]
    assert len(moved) == 30
    # Oldest due first: the cards due on 01-20 come back before those due on 01-25.
    assert {before[s.id].due_day for s in moved if s.due_day == BACK + timedelta(days=1)} == {date(2027, 1, 25)}
    for s in after:  # only the due day moved; moved rows count as changed (version + 1)
        old = before[s.id]
        assert (s.interval, s.easiness_cents, s.repetitions) == (old.interval, old.easiness_cents, old.repetitions)
        assert s.version == old.version + (1 if s in moved else 0)


def test_nightly_reflow_moves_what_is_left_inside_a_pause_once(app: Flask, make_user: Callable[..., int]) -> None:
    learner = make_user("s1")
    make_deck(app, texts(5), new_per_day=5)
    study_all(app, learner, date(2027, 1, 13))  # I = 1: due 01-14
    study_all(app, learner, date(2027, 1, 14))  # I = 6: due 01-20, inside the break entered below
    add_pause(app)  # entered without the admin page: nothing moved yet
    outcome = jobs.run_job(app, spec.CALENDAR_REFLOW, at(date(2027, 1, 16), 5), RecordingMailer())
    assert (outcome.ran, outcome.status) == (True, "ok")
    assert outcome.summary == "2027-01-16 顺延 5 张卡片（1 人）"
    assert {(s.interval, s.due_day) for s in states(app, learner)} == {(6, BACK)}
    with session_scope(app) as db:
        assert check(db).ok  # `tifa check` accepts a due day the calendar moved out of a pause
    again = jobs.run_job(app, spec.CALENDAR_REFLOW, at(date(2027, 1, 17), 5), RecordingMailer())
    assert again.summary == "2027-01-17 顺延 0 张卡片（0 人）"  # idempotent: nothing left to move
    assert not jobs.run_job(app, spec.CALENDAR_REFLOW, at(date(2027, 1, 17), 5)).ran  # claimed once per day


def test_reflow_goes_person_by_person_in_batches(app: Flask, make_user: Callable[..., int]) -> None:
    people = [make_user(f"s{i}") for i in range(5)]
    make_deck(app, texts(3))
    for user_id in people:
        study_all(app, user_id, date(2027, 1, 10))
        _due(app, user_id, [date(2027, 1, 19)] * 3)
    add_pause(app)
    with session_scope(app) as db:
        result = service.reflow(db, date(2027, 1, 12), batch=2)
    assert (result.people, result.cards, result.skipped, result.unfinished) == (5, 15, 0, False)
    assert {s.due_day for u in people for s in states(app, u)} == {BACK}


def test_an_admin_save_stops_at_its_time_budget_and_leaves_the_rest_to_the_night(
        app: Flask, make_user: Callable[..., int]) -> None:
    people = [make_user(f"s{i}") for i in range(4)]
    make_deck(app, texts(2))
    for user_id in people:
        study_all(app, user_id, date(2027, 1, 10))
        _due(app, user_id, [date(2027, 1, 19)] * 2)
    add_pause(app)
    with session_scope(app) as db:
        result = service.reflow(db, date(2027, 1, 12), batch=2, seconds=0)
    assert (result.people, result.cards, result.unfinished) == (2, 4, True)
    assert result.text() == "顺延 4 张卡片（2 人）；其余人员的卡片将由夜间任务“假期顺延”（04:10）继续顺延"
    outcome = jobs.run_job(app, spec.CALENDAR_REFLOW, at(date(2027, 1, 13), 5), RecordingMailer())
    assert outcome.summary == "2027-01-13 顺延 4 张卡片（2 人）"


def test_a_card_moved_while_on_screen_is_stale(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                                learner: int) -> None:
    # Today 01-20 is a study day with cards due; then a pause covering today is entered.
    _due(app, learner, [date(2027, 1, 20)] * 40)
    app.config["CLOCK"] = lambda: at(date(2027, 1, 20))
    from helpers import login

    login(client, "s1")
    api = ReviewClient(client)
    card = api.next()
    assert card is not None and card["bucket"] == "due"
    add_pause(app)
    with session_scope(app) as db:
        assert service.reflow(db, date(2027, 1, 20)).cards == 40
    response = api.grade(card, 4)
    assert response.status_code == 409 and response.get_json()["code"] == "stale"
    assert api.next() is None or api.next()["bucket"] == "new"  # nothing due today any more


# -- grading around a pause -----------------------------------------------------------------------

def test_grading_just_before_and_inside_a_pause_lands_after_it(app: Flask, make_user: Callable[..., int]) -> None:
    user_id = make_user("s1")
    make_deck(app, texts(3), new_per_day=20)
    add_pause(app)
    study_all(app, user_id, date(2027, 1, 17))  # the day before the break: I = 1 -> 01-18 -> after the break
    assert {(s.interval, s.due_day) for s in states(app, user_id)} == {(1, BACK)}
    with session_scope(app) as db:
        logs = list(db.scalars(select(ReviewLog).where(ReviewLog.user_id == user_id)))
    assert {(log.after_interval, log.after_due) for log in logs} == {(1, BACK)}  # SM-2's interval, moved due day
    study_all(app, user_id, BACK)  # after the break: plain SM-2 (second repetition, I = 6)
    assert {(s.interval, s.due_day) for s in states(app, user_id)} == {(6, BACK + timedelta(days=6))}
    with session_scope(app) as db:
        assert check(db).ok


def test_grading_inside_a_pause_spreads_over_the_days_after(app: Flask, make_user: Callable[..., int]) -> None:
    user_id = make_user("s1")
    make_deck(app, texts(30), new_per_day=30)
    add_pause(app)
    assert study_all(app, user_id, date(2027, 2, 1)) == 30  # voluntary study in the break, no history: load 20
    assert Counter(s.due_day for s in states(app, user_id)) == {BACK: 20, BACK + timedelta(days=1): 10}
    assert {s.interval for s in states(app, user_id)} == {1}


# -- reminders ------------------------------------------------------------------------------------

def test_no_reminders_during_a_pause_and_the_run_says_why(app: Flask, learner: int) -> None:
    _due(app, learner, [date(2027, 2, 1)] * 40)
    add_pause(app)
    add_pause(app, date(2027, 2, 10), date(2027, 2, 17), name="春节", kind="节假日")
    mailer = RecordingMailer()
    outcome = jobs.run_job(app, spec.REMIND, at(date(2027, 2, 1), 8), mailer)
    assert outcome.summary == "2027-02-01 假期暂停：寒假，不发提醒"  # named by the pauses covering that day
    nudge = jobs.run_job(app, spec.OVERDUE_NUDGE, at(date(2027, 2, 15), 9), mailer)  # a Monday in the break
    assert nudge.summary == "2027-02-15 假期暂停：寒假、春节，不发逾期提醒"
    assert mailer.messages == []
    with session_scope(app) as db:
        assert db.scalar(select(func.count()).select_from(Notification)) == 0
        assert db.scalar(select(JobRun.summary).where(JobRun.job == spec.REMIND)) == outcome.summary
    # The first study day after: reminders again.
    jobs.run_job(app, spec.REMIND, at(BACK, 8), mailer)
    assert [m.to for m in mailer.messages] == [["s1@example.edu"]]


# -- streak ---------------------------------------------------------------------------------------

def test_streak_survives_a_pause_announced_in_advance(app: Flask, make_user: Callable[..., int]) -> None:
    user_id = make_user("s1")
    make_deck(app, texts(30), new_per_day=3)
    add_pause(app)
    for offset in range(7):  # 01-11 .. 01-17, the last week of term
        study_all(app, user_id, date(2027, 1, 11) + timedelta(days=offset))
    assert streak(app, user_id, date(2027, 1, 17), done_today=True) == 7
    # Inside the break nothing is due or overdue; studying there neither breaks nor extends the run.
    assert streak(app, user_id, date(2027, 2, 1), done_today=False) == 7
    study_all(app, user_id, date(2027, 2, 1))
    assert streak(app, user_id, date(2027, 2, 1), done_today=True) == 7
    assert streak(app, user_id, date(2027, 2, 2), done_today=False) == 7
    # Back after the break: everything moved out of it is due now, not overdue, and today extends the run.
    assert streak(app, user_id, BACK, done_today=False) == 7
    study_all(app, user_id, BACK)
    assert streak(app, user_id, BACK, done_today=True) == 8
    # The dashboard's person page counts the same way.
    with session_scope(app) as db:
        assert progress.streak(db, user_id, BACK) == 8
        assert progress.streak(db, user_id, date(2027, 2, 10)) == 7  # studied 02-01, inside: not counted
        assert progress.streak(db, user_id, date(2027, 1, 18)) == 7


def test_streak_survives_a_pause_entered_after_the_fact(app: Flask, make_user: Callable[..., int]) -> None:
    user_id = make_user("s1")
    make_deck(app, texts(30), new_per_day=3)
    for offset in range(7):
        study_all(app, user_id, date(2027, 1, 11) + timedelta(days=offset))
    assert any(WINTER_FIRST <= s.due_day <= WINTER_LAST for s in states(app, user_id))
    # Without a pause the break's cards are overdue on the way back and the run is broken.
    assert streak(app, user_id, BACK, done_today=False) == 0
    add_pause(app)  # entered late, nothing moved: the streak still reads the break as a pause
    assert streak(app, user_id, BACK, done_today=False) == 7
    study_all(app, user_id, BACK)  # reviews of cards due inside the break: late, but excused
    assert streak(app, user_id, BACK, done_today=True) == 8
    assert streak(app, user_id, BACK + timedelta(days=1), done_today=False) == 8
    with session_scope(app) as db:
        assert progress.streak(db, user_id, BACK) == 8


def test_a_card_left_before_the_pause_still_breaks_the_streak(app: Flask, make_user: Callable[..., int]) -> None:
    user_id = make_user("s1")
    make_deck(app, texts(6), new_per_day=3)
    add_pause(app)
    study_all(app, user_id, date(2027, 1, 15))  # 3 cards, due 01-16; 01-16 and 01-17 skipped
    assert streak(app, user_id, BACK, done_today=False) == 0  # overdue since 01-16, before the break


# -- dashboard pace -------------------------------------------------------------------------------

def test_pace_counts_study_days_only() -> None:
    winter = Calendar([CalendarPause("寒假", WINTER_FIRST, WINTER_LAST)])
    assigned, learn_by, today = date(2027, 1, 4), date(2027, 3, 1), date(2027, 2, 21)
    # 56 days, 35 of them the break: 21 study days, 14 gone by today (2/3); 70 % introduced is on pace.
    assert pace(7, 10, assigned, learn_by, today, winter) == PACE_ON
    assert pace(7, 10, assigned, learn_by, today) == PACE_BEHIND  # 48 of 56 calendar days gone
    assert pace(6, 10, assigned, learn_by, today, winter) == PACE_BEHIND
    # The clock stands still during the break.
    assert pace(7, 10, assigned, learn_by, WINTER_FIRST, winter) == pace(7, 10, assigned, learn_by, WINTER_LAST,
                                                                          winter)


def test_progress_page_pace_takes_the_pause_into_account(app: Flask, client: FlaskClient,
                                                         make_user: Callable[..., int]) -> None:
    user_id = make_user("s1")
    deck_id = make_deck(app, texts(10), new_per_day=7)
    with session_scope(app, write=True) as db:
        from webapp.models import DeckAssignment

        db.execute(update(DeckAssignment).where(DeckAssignment.deck_id == deck_id)
                   .values(learn_by=date(2027, 3, 1), created_at=at(date(2027, 1, 4))))
    study_all(app, user_id, date(2027, 1, 4))  # 7 of 10 introduced

    def status() -> str:
        with session_scope(app) as db:
            f = progress.Filters.default(date(2027, 2, 21))
            return progress.matrix(db, f, TZ).rows[0].cells[deck_id].status

    assert status() == PACE_BEHIND
    add_pause(app)
    assert status() == PACE_ON


# -- Today page -----------------------------------------------------------------------------------

def test_today_page_says_when_a_pause_is_on(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import webapp.review.routes as routes
    from helpers import login

    make_user("s1")
    make_deck(app)
    add_pause(app)
    login(client, "s1")
    monkeypatch.setattr(routes, "utcnow", lambda: at(date(2027, 2, 1)))
    html = client.get("/today").get_data(as_text=True)
    assert "寒假中，暂停提醒；到期卡片已顺延到 2 月 22 日起。" in html
    monkeypatch.setattr(routes, "utcnow", lambda: at(BACK))
    assert 'id="today-pause"' not in client.get("/today").get_data(as_text=True)


def test_a_card_graded_while_the_reflow_runs_is_left_to_the_next_run(
        app: Flask, make_user: Callable[..., int], monkeypatch: pytest.MonkeyPatch) -> None:
    user_id = make_user("s1")
    make_deck(app, texts(3))
    study_all(app, user_id, date(2027, 1, 10))
    ids = _due(app, user_id, [date(2027, 1, 19)] * 3)
    add_pause(app)
    real = service.usual_loads

    def meanwhile(db, user_ids, today):  # noqa: ANN001, ANN202 - another writer changes one row in between
        db.execute(update(ReviewState).where(ReviewState.id == ids[0]).values(version=ReviewState.version + 1))
        return real(db, user_ids, today)

    monkeypatch.setattr(service, "usual_loads", meanwhile)
    with session_scope(app) as db:
        result = service.reflow(db, date(2027, 1, 12))
    assert (result.cards, result.skipped) == (2, 1)
    assert result.text() == "顺延 2 张卡片（1 人），1 张正在复习中，下次再顺延"
    assert [s.due_day for s in states(app, user_id)] == [date(2027, 1, 19), BACK, BACK]
    monkeypatch.setattr(service, "usual_loads", real)
    with session_scope(app) as db:
        assert service.reflow(db, date(2027, 1, 13)).cards == 1
