"""Progress dashboard: hand-built data with known figures, checked on the page, in the services and in the
exports; access for anonymous, staff, department admins and super admins."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from helpers import PASSWORD, login
from scheduler.study_day import study_day
from webapp.db import session_scope
from webapp.models import (
    DECK_DRAFT,
    DECK_PUBLISHED,
    Card,
    Deck,
    DeckAssignment,
    Department,
    Note,
    ReviewLog,
    ReviewState,
    User,
)
from webapp.services import progress as pg
from webapp.services import queue


def today_of(app: Flask) -> date:
    return study_day(datetime.now(UTC), app.config["TIMEZONE"])


@dataclass
class World:
    today: date
    users: dict[str, int] = field(default_factory=dict)
    depts: dict[str, int] = field(default_factory=dict)
    decks: dict[str, int] = field(default_factory=dict)
    cards: dict[str, int] = field(default_factory=dict)


def _deck(db, key: str, title: str, cards: int, status: str = DECK_PUBLISHED,  # noqa: ANN001
          retired: int = 0) -> tuple[int, list[int]]:
    deck = Deck(key=key, title=title, status=status)
    db.add(deck)
    db.flush()
    ids = []
    for i in range(cards + retired):
        note = Note(deck_id=deck.id, key=f"{key}-n{i}", kind="cloze", text=f"坚持{{{{c1::提法{key}{i}}}}}不动摇",
                    position=i, retired=i >= cards)
        db.add(note)
        db.flush()
        card = Card(note_id=note.id, deck_id=deck.id, ord=1, position=i, retired=i >= cards)
        db.add(card)
        db.flush()
        ids.append(card.id)
    return deck.id, ids


def _state(db, user: int, card: int, deck: int, today: date, interval: int, due: int, lapses: int = 0,  # noqa: ANN001
           ef: int = 250, last: int = -1) -> None:
    db.add(ReviewState(user_id=user, card_id=card, deck_id=deck, repetitions=2, easiness_cents=ef, interval=interval,
                       due_day=today + timedelta(days=due), lapses=lapses, introduced_day=today - timedelta(days=10),
                       last_review_day=today + timedelta(days=last),
                       last_reviewed_at=datetime.now(UTC) + timedelta(days=last)))


def _log(db, user: int, card: int, deck: int, today: date, day: int, kind: str, q: int | None,  # noqa: ANN001
         ms: int = 30000, before_due: int | None = None) -> int:
    d = today + timedelta(days=day)
    row = ReviewLog(user_id=user, card_id=card, deck_id=deck, kind=kind, quality=q, study_day=d, ms=ms,
                    reviewed_at=datetime.now(UTC) + timedelta(days=day),
                    before_due=d + timedelta(days=before_due) if before_due is not None else (
                        d if kind == "review" else None))
    db.add(row)
    db.flush()
    return row.id


def _undo(db, target: int) -> None:  # noqa: ANN001
    t = db.get(ReviewLog, target)
    db.add(ReviewLog(user_id=t.user_id, card_id=t.card_id, deck_id=t.deck_id, kind="undo", quality=None,
                     study_day=t.study_day, ms=0, undoes_id=t.id, reviewed_at=t.reviewed_at))


@pytest.fixture
def world(app: Flask, make_user) -> World:  # noqa: ANN001
    """Departments 甲部 (a1, a2, inactive a3) and 乙部 (b1); deck D1 (4 live cards + 1 retired) for everyone,
    assigned 10 days ago with a learn-by date in 10 days; D2 (2 cards) for 乙部 without one; a draft D3."""
    today = today_of(app)
    w = World(today)
    for name in ("a1", "a2", "a3"):
        w.users[name] = make_user(name, department="甲部")
    w.users["b1"] = make_user("b1", department="乙部")
    w.users["boss"] = make_user("boss", role="super_admin", department="党委办公室")
    w.users["secA"] = make_user("secA", role="dept_admin", department="甲部")
    w.users["secX"] = make_user("secX", role="dept_admin", department="丙部")
    with session_scope(app, write=True) as db:
        for name in ("甲部", "乙部", "丙部"):
            w.depts[name] = db.scalar(select(Department.id).where(Department.name == name))
        db.get(User, w.users["a3"]).active = False
        d1, c = _deck(db, "d1", "第一周", 4, retired=1)
        d2, c2 = _deck(db, "d2", "第二周", 2)
        d3, _ = _deck(db, "d3", "草稿周", 3, status=DECK_DRAFT)
        w.decks.update(d1=d1, d2=d2, d3=d3)
        w.cards.update(c1=c[0], c2=c[1], c3=c[2], c4=c[3], c5=c[4], e1=c2[0], e2=c2[1])
        assigned = datetime.now(UTC) - timedelta(days=10)
        db.add(DeckAssignment(deck_id=d1, everyone=True, learn_by=today + timedelta(days=10), created_at=assigned))
        db.add(DeckAssignment(deck_id=d2, department_id=w.depts["乙部"], created_at=assigned))
        db.add(DeckAssignment(deck_id=d3, everyone=True, created_at=assigned))
        u, k = w.users, w.cards
        # a1: c1 mastered, c2 overdue, c3 due today with 2 lapses; a state on the retired c5 must not count.
        _state(db, u["a1"], k["c1"], d1, today, 30, 5)
        _state(db, u["a1"], k["c2"], d1, today, 6, -2)
        _state(db, u["a1"], k["c3"], d1, today, 1, 0, lapses=2, ef=170, last=0)
        _state(db, u["a1"], k["c5"], d1, today, 40, 3)
        _state(db, u["a2"], k["c1"], d1, today, 1, 1)
        for card, interval, due in (("c1", 21, 10), ("c2", 21, 3), ("c3", 3, 2), ("c4", 3, 20)):
            _state(db, u["b1"], k[card], d1, today, interval, due, lapses=1 if card == "c3" else 0, ef=230, last=0)
        _state(db, u["a3"], k["c1"], d1, today, 50, 9)
        # a1 today: review c3 failed (1 min), its relearn (30 s), and a review of c1 that was undone.
        _log(db, u["a1"], k["c3"], d1, today, 0, "review", 2, ms=60000)
        _log(db, u["a1"], k["c3"], d1, today, 0, "relearn", 4, ms=30000)
        _undo(db, _log(db, u["a1"], k["c1"], d1, today, 0, "review", 1, ms=90000))
        # a1 three days ago: review c1 passed (2 min), learn c2 (30 s).
        _log(db, u["a1"], k["c1"], d1, today, -3, "review", 4, ms=120000)
        _log(db, u["a1"], k["c2"], d1, today, -3, "learn", 3, ms=30000)
        _log(db, u["a2"], k["c1"], d1, today, -1, "learn", 5, ms=60000)
        for card in ("c1", "c2", "c3", "c4"):
            _log(db, u["b1"], k[card], d1, today, -10, "learn", 4)
        _log(db, u["b1"], k["c1"], d1, today, -5, "review", 5)
        _log(db, u["b1"], k["c2"], d1, today, -5, "review", 3)
        _log(db, u["b1"], k["c3"], d1, today, -5, "review", 1)
        _log(db, u["b1"], k["c4"], d1, today, -20, "review", 0)
        _log(db, u["b1"], k["c4"], d1, today, 0, "review", 4)
        _log(db, u["a3"], k["c1"], d1, today, 0, "review", 5)
    return w


def _filters(w: World, **kw: object) -> pg.Filters:
    return pg.Filters.default(w.today, **kw)


# ---------------------------------------------------------------- services

def test_header_figures(app: Flask, world: World) -> None:
    with session_scope(app) as db:
        h = pg.header(db, _filters(world))
    assert (h.staff, h.active_today, h.active_7d) == (3, 2, 3)  # a3 deactivated, admins are not staff
    assert (h.due_today, h.overdue) == (2, 1)
    assert (h.cleared, h.queue_people) == (1, 2)  # b1 studied and has nothing due; a1 still has 2 due
    assert (h.assigned, h.introduced, h.mastered) == (14, 8, 3)  # the retired card and the draft deck left out
    assert (h.retained, h.retention_total) == (4, 6)  # a1's undone review counts neither way
    assert (h.active, h.reviews, h.minutes) == (3, 9, 5 + 2)  # 甲部 5 min, 乙部 4 × 30 s
    with session_scope(app) as db:
        month = pg.header(db, pg.Filters(world.today, world.today - timedelta(days=29), world.today))
    assert (month.retained, month.retention_total, month.active_today, month.active_7d) == (4, 7, 2, 3)


def test_department_figures_and_scope(app: Flask, world: World) -> None:
    with session_scope(app) as db:
        rows = {d.name: d for d in pg.departments(db, _filters(world))}
        only_a = pg.departments(db, _filters(world, department_ids=frozenset({world.depts["甲部"]})))
        h_a = pg.header(db, _filters(world, department_ids=frozenset({world.depts["甲部"]})))
    assert set(rows) == {"甲部", "乙部"}
    a, b = rows["甲部"], rows["乙部"]
    assert (a.staff, a.active, a.reviews, a.minutes) == (2, 2, 5, 5)
    assert (a.retained, a.retention_total, a.assigned, a.mastered, a.overdue) == (1, 2, 8, 1, 1)
    assert (b.staff, b.active, b.reviews, b.retained, b.retention_total) == (1, 1, 4, 3, 4)
    assert (b.assigned, b.mastered, b.overdue) == (6, 2, 0)
    assert b.mastered_share == pytest.approx(2 / 6)
    assert [d.name for d in only_a] == ["甲部"] and only_a[0].reviews == 5
    assert (h_a.staff, h_a.assigned, h_a.due_today, h_a.retention_total) == (2, 8, 2, 2)


def test_matrix_pace_and_last_day(app: Flask, world: World) -> None:
    with session_scope(app) as db:
        m = pg.matrix(db, _filters(world), app.config["TIMEZONE"])
    d1, d2 = world.decks["d1"], world.decks["d2"]
    assert [t for _, t in m.decks] == ["第一周", "第二周"]
    rows = {r.username: r for r in m.rows}
    assert list(rows) == ["b1", "a1", "a2"] and m.total_people == 3  # by department name, then number
    a1 = rows["a1"].cells[d1]
    assert (a1.cards, a1.introduced, a1.mastered, a1.overdue, a1.status) == (4, 3, 1, 1, pg.PACE_ON)
    assert a1.last_day == world.today and a1.learn_by == world.today + timedelta(days=10)
    assert rows["a2"].cells[d1].status == pg.PACE_BEHIND  # 25% introduced, half the time gone
    assert d2 not in rows["a1"].cells
    assert rows["b1"].cells[d1].status == pg.PACE_DONE
    assert (rows["b1"].cells[d2].introduced, rows["b1"].cells[d2].status) == (0, pg.PACE_NONE)


def test_pace_rules() -> None:
    start = date(2026, 3, 1)
    assert pg.pace(5, 10, start, date(2026, 3, 11), date(2026, 3, 6)) == pg.PACE_ON  # 50% at half time
    assert pg.pace(4, 10, start, date(2026, 3, 11), date(2026, 3, 6)) == pg.PACE_BEHIND
    assert pg.pace(9, 10, start, date(2026, 3, 11), date(2026, 3, 20)) == pg.PACE_BEHIND  # past the date
    assert pg.pace(10, 10, start, date(2026, 3, 11), date(2026, 3, 20)) == pg.PACE_DONE
    assert pg.pace(0, 10, start, None, date(2026, 3, 20)) == pg.PACE_NONE
    assert pg.pace(0, 10, start, date(2026, 3, 11), start) == pg.PACE_ON  # nothing expected on day one


def test_forecast_trend_and_hardest(app: Flask, world: World) -> None:
    t = world.today
    with session_scope(app) as db:
        due = pg.forecast(db, _filters(world))
        days = {d.day: d for d in pg.trend(db, _filters(world))}
        hard = pg.hardest_cards(db, _filters(world))
        by_lapses = pg.hardest_cards(db, _filters(world), "lapses")
        by_ef = pg.hardest_cards(db, _filters(world), "easiness")
    assert len(due) == 14 and due[0] == (t, 2)
    assert {d: n for d, n in due if n} == {t: 2, t + timedelta(days=1): 1, t + timedelta(days=2): 1,
                                          t + timedelta(days=3): 1, t + timedelta(days=5): 1,
                                          t + timedelta(days=10): 1}
    assert len(days) == 7
    assert (days[t].reviews, days[t].people) == (3, 2)
    assert (days[t - timedelta(days=1)].reviews, days[t - timedelta(days=3)].reviews) == (1, 2)
    assert (days[t - timedelta(days=5)].reviews, days[t - timedelta(days=5)].people) == (3, 1)
    assert days[t - timedelta(days=2)].reviews == 0
    assert hard[0].card_id == world.cards["c3"] and (hard[0].retained, hard[0].retention_total) == (0, 2)
    assert (hard[0].learners, hard[0].lapses) == (2, 3)
    assert by_lapses[0].card_id == world.cards["c3"] and by_lapses[0].failed == 2
    assert by_ef[0].card_id == world.cards["c3"] and by_ef[0].easiness == pytest.approx(2.0)
    assert world.cards["c5"] not in {c.card_id for c in hard}  # retired


def test_person_figures(app: Flask, world: World) -> None:
    with session_scope(app) as db:
        a1 = pg.person(db, _filters(world), world.users["a1"])
        b1 = pg.person(db, _filters(world), world.users["b1"])
        nobody = pg.person(db, _filters(world), world.users["a3"])
        outside = pg.person(db, _filters(world, department_ids=frozenset({world.depts["乙部"]})), world.users["a1"])
    assert nobody is None and outside is None
    assert a1 is not None and b1 is not None
    assert (a1.assigned, a1.new, a1.learning, a1.mastered, a1.due_today, a1.overdue) == (4, 1, 2, 1, 2, 1)
    assert (a1.retained_7d, a1.reviews_7d) == (1, 2)
    assert a1.streak == 0  # c2 is overdue: yesterday was missed
    assert {d.day: (d.reviews, d.minutes) for d in a1.days if d.reviews} == {
        world.today: (2, 2), world.today - timedelta(days=3): (2, 2)}
    # b1 studied on days -20, -10, -5 and today and never left a due card: four studied days, none broken (days
    # with nothing due neither break nor extend a run), the same figure b1 sees on 今日.
    assert (b1.assigned, b1.new, b1.mastered, b1.streak) == (6, 2, 2, 4)
    with session_scope(app) as db:
        user = db.get(User, world.users["b1"])
        assert b1.streak == queue.streak(db, user, world.today, done_today=True)


def test_streak_counts_days_with_nothing_left_due(app: Flask, make_user) -> None:  # noqa: ANN001
    today = today_of(app)
    uid = make_user("s1", department="丁部")
    with session_scope(app, write=True) as db:
        deck, cards = _deck(db, "s", "连续", 2)
        db.add(DeckAssignment(deck_id=deck, everyone=True))
        _state(db, uid, cards[0], deck, today, 6, 4)
        for day in (0, -1, -2, -3):
            _log(db, uid, cards[0], deck, today, day, "review", 4)
        # A card due five days ago was only reviewed four days ago: day -5 was missed, the run is 0..-4.
        _log(db, uid, cards[1], deck, today, -4, "review", 4, before_due=-1)
        _log(db, uid, cards[1], deck, today, -5, "learn", 4)
    with session_scope(app) as db:
        assert pg.streak(db, uid, today) == 5
    with session_scope(app, write=True) as db:  # something due today and not yet done: today does not count
        _state(db, uid, cards[1], deck, today, 1, 0)
    with session_scope(app) as db:
        assert pg.streak(db, uid, today) == 4


# ---------------------------------------------------------------- pages and exports

NUM = re.compile(r'id="(h-[a-z]+)">([^<]+)<')


def _header_texts(html: str) -> dict[str, str]:
    return dict(NUM.findall(html))


def test_page_shows_the_figures(app: Flask, client, world: World) -> None:  # noqa: ANN001
    login(client, "boss")
    html = client.get("/admin/progress").get_data(as_text=True)
    assert _header_texts(html) == {"h-staff": "3", "h-active": "2 / 3", "h-due": "2", "h-cleared": "50.0%",
                                   "h-mastered": "21.4%", "h-retention": "66.7%"}
    assert "<script>" not in html and "style=" not in html
    assert "vendor/chartjs/chart.umd.min.js" in html and 'data-chart="{' in html
    dept = re.search(r'<tr data-department="甲部">(.*?)</tr>', html, re.S).group(1)
    assert "100.0%" in dept and "12.5%" in dept and "50.0%" in dept
    assert re.search(f'class="pace pace-behind" data-deck="{world.decks["d1"]}"', html)
    assert f'data-card="{world.cards["c3"]}"' in html.split('id="hard-cards"')[1]
    assert "草稿周" not in html.split('id="matrix"')[1].split("</table>")[0]
    if "admin.deck_editor" in app.view_functions or "admin.deck_edit" in app.view_functions:
        assert f'/admin/decks/{world.decks["d1"]}' in html.split('id="hard-cards"')[1]


def test_xlsx_equals_the_page(app: Flask, client, world: World) -> None:  # noqa: ANN001
    login(client, "boss")
    html = client.get("/admin/progress").get_data(as_text=True)
    resp = client.get("/admin/progress/export.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["概况", "部门", "人员×卡组", "难点卡片", "到期预测", "每日复习"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2" and ws["A1"].font.bold
        assert ws.column_dimensions["A"].width >= 8
    summary = {r[0]: r[1] for r in wb["概况"].iter_rows(min_row=2, values_only=True)}
    texts = _header_texts(html)
    assert str(summary["人数"]) == texts["h-staff"]
    assert f"{summary['今日学习人数']} / {summary['近 7 天学习人数']}" == texts["h-active"]
    assert f"{summary['已掌握比例'] * 100:.1f}%" == texts["h-mastered"]
    assert f"{summary['今日完成率'] * 100:.1f}%" == texts["h-cleared"]
    assert f"{summary['期间记忆保持率'] * 100:.1f}%" == texts["h-retention"]
    assert (summary["期间开始"].date(), summary["期间结束"].date()) == (world.today - timedelta(days=6), world.today)
    dept = {r[0]: r for r in wb["部门"].iter_rows(min_row=2, values_only=True)}
    assert dept["甲部"][1:6] == (2, 2, 1.0, 5, 5) and dept["甲部"][6] == pytest.approx(0.5)
    assert dept["乙部"][6] == pytest.approx(0.75) and dept["乙部"][9] == pytest.approx(2 / 6)
    assert wb["部门"]["D2"].number_format == "0.0%"
    matrix = {(r[1], r[3]): r for r in wb["人员×卡组"].iter_rows(min_row=2, values_only=True)}
    assert matrix[("a1", "第一周")][4:8] == (4, 0.75, 0.25, 1) and matrix[("a1", "第一周")][10] == "按计划"
    assert matrix[("a2", "第一周")][10] == "落后" and ("a1", "第二周") not in matrix
    forecast = list(wb["到期预测"].iter_rows(min_row=2, values_only=True))
    assert len(forecast) == 14 and forecast[0][1] == 2
    hard = list(wb["难点卡片"].iter_rows(min_row=2, values_only=True))
    assert hard[0][1] == "坚持提法d12不动摇" and hard[0][4:8] == (2, 0, 2, 3)


def test_csv_export_same_numbers_bom_and_filters(app: Flask, client, world: World) -> None:  # noqa: ANN001
    login(client, "boss")
    dept_a = world.depts["甲部"]
    resp = client.get(f"/admin/progress/export.csv?table=departments&department={dept_a}")
    assert resp.status_code == 200 and resp.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["部门", "人数", "学习人数", "参与率"]
    assert rows[1:] == [["甲部", "2", "2", "100.0%", "5", "5", "50.0%", "8", "1", "12.5%", "1"]]
    matrix = list(csv.reader(io.StringIO(client.get("/admin/progress/export.csv?table=matrix").data
                                         .decode("utf-8-sig"))))
    assert ["乙部", "b1", "用户b1", "第一周", "4", "100.0%", "50.0%", "0", world.today.isoformat(),
            (world.today + timedelta(days=10)).isoformat(), "已完成"] in matrix
    assert client.get("/admin/progress/export.csv?table=nope").status_code == 404


def test_exports_neutralise_formulas(app: Flask, client, world: World) -> None:  # noqa: ANN001
    with session_scope(app, write=True) as db:
        db.get(User, world.users["a1"]).name = "=HYPERLINK(\"http://x\")"
        db.get(Department, world.depts["乙部"]).name = "@SUM(1+1)"
    login(client, "boss")
    text = client.get("/admin/progress/export.csv?table=matrix").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text and "'@SUM" in text
    wb = load_workbook(io.BytesIO(client.get("/admin/progress/export.xlsx").data))
    names = [r[2] for r in wb["人员×卡组"].iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(\"http://x\")" in names
    assert all(not str(c.value).startswith("=") for row in wb["人员×卡组"].iter_rows() for c in row if c.value)


def test_person_page(app: Flask, client, world: World) -> None:  # noqa: ANN001
    login(client, "boss")
    html = client.get(f"/admin/progress/user/{world.users['a1']}").get_data(as_text=True)
    found = dict(re.findall(r'id="(p-[a-z]+)">([^<]+)<', html))
    assert found == {"p-new": "1", "p-learning": "2", "p-mastered": "1", "p-due": "2",
                     "p-retention": "50.0% / 50.0%", "p-streak": "0"}
    assert f'data-day="{world.today.isoformat()}" data-reviews="2"' in html
    assert html.count('class="heat l') >= 91  # 91 days by default, plus the legend
    assert f'data-card="{world.cards["c3"]}"' in html.split('id="person-hard"')[1]
    assert "<script>" not in html and "style=" not in html


# ---------------------------------------------------------------- access

ROUTES = ["/admin/progress", "/admin/progress/export.xlsx", "/admin/progress/export.csv?table=summary"]


def test_anonymous_goes_to_login_and_staff_get_403(client, world: World) -> None:  # noqa: ANN001
    for url in [*ROUTES, f"/admin/progress/user/{world.users['a1']}"]:
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    login(client, "a1")
    for url in [*ROUTES, f"/admin/progress/user/{world.users['a1']}"]:
        assert client.get(url).status_code == 403, url


def test_department_admin_sees_only_their_departments(app: Flask, client, world: World) -> None:  # noqa: ANN001
    login(client, "secA")
    html = client.get("/admin/progress").get_data(as_text=True)
    assert _header_texts(html)["h-staff"] == "2"
    assert 'data-department="甲部"' in html and "乙部" not in html and "用户b1" not in html
    assert client.get(f"/admin/progress?department={world.depts['乙部']}").status_code == 403
    assert client.get(f"/admin/progress/export.xlsx?department={world.depts['乙部']}").status_code == 403
    assert client.get(f"/admin/progress/user/{world.users['b1']}").status_code == 404
    assert client.get(f"/admin/progress/user/{world.users['a1']}").status_code == 200
    wb = load_workbook(io.BytesIO(client.get("/admin/progress/export.xlsx").data))
    assert [r[0] for r in wb["部门"].iter_rows(min_row=2, values_only=True)] == ["甲部"]
    assert {r[1] for r in wb["人员×卡组"].iter_rows(min_row=2, values_only=True)} == {"a1", "a2"}


def test_department_admin_of_another_department_sees_nobody(client, world: World) -> None:  # noqa: ANN001
    login(client, "secX")
    html = client.get("/admin/progress").get_data(as_text=True)
    assert _header_texts(html)["h-staff"] == "0" and "用户a1" not in html
    for name in ("a1", "b1"):
        assert client.get(f"/admin/progress/user/{world.users[name]}").status_code == 404
    assert client.get(f"/admin/progress?department={world.depts['甲部']}").status_code == 403


def test_super_admin_filters_by_deck_and_range(client, world: World) -> None:  # noqa: ANN001
    login(client, "boss")
    html = client.get(f"/admin/progress?deck={world.decks['d2']}").get_data(as_text=True)
    texts = _header_texts(html)
    assert texts["h-staff"] == "3" and texts["h-mastered"] == "0.0%"  # only b1 has d2: 0 of 2 mastered
    start = (world.today - timedelta(days=30)).isoformat()
    wide = client.get(f"/admin/progress/export.csv?table=trend&start={start}&end={world.today.isoformat()}")
    rows = list(csv.reader(io.StringIO(wide.data.decode("utf-8-sig"))))
    assert len(rows) == 32 and sum(int(r[1]) for r in rows[1:]) == 5 + 4 + 4 + 1  # learns at -10, review at -20
    bad = client.get("/admin/progress?start=2026-13-01&end=x", follow_redirects=True).get_data(as_text=True)
    assert "日期范围无效" in bad


# ---------------------------------------------------------------- in a real browser

@pytest.mark.browser
def test_dashboard_and_person_page_on_a_phone(live_server: str, new_page: Any, world: World, artifacts: Path) -> None:
    """Charts drawn from data-* attributes under the app's CSP (no console errors or CSP violations), the
    department table sorts, the person page's heatmap; on a phone-sized screen in Debian's Chromium."""
    page = new_page(phone=True)
    served = live_server
    page.goto(f"{served}/login")
    page.fill("#username", "boss")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{served}/admin/progress")
    for chart in ("departments", "forecast", "trend"):
        page.wait_for_selector(f"#chart-{chart}[data-drawn]")
        box = page.locator(f"#chart-{chart}").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 200, chart
    assert page.locator("#chart-departments").get_attribute("data-drawn") == "2"
    # Sort by mastered share (甲部 12.5%, 乙部 33.3%): ascending, then descending.
    header = page.locator("#departments th").nth(4)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert page.locator("#departments tbody tr").first.get_attribute("data-department") == "甲部"
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert page.locator("#departments tbody tr").first.get_attribute("data-department") == "乙部"
    assert page.locator("#h-staff").inner_text() == "3"
    page.screenshot(path=str(artifacts / "progress-phone.png"), full_page=True)
    page.locator("#matrix a", has_text="用户a1").click()
    page.wait_for_selector("#chart-person[data-drawn]")
    assert page.locator("#p-due").inner_text() == "2"
    assert page.locator(f"#heatmap .heat[data-day='{world.today.isoformat()}']").get_attribute("class") != "heat l0"
    page.screenshot(path=str(artifacts / "progress-person-phone.png"), full_page=True)
    assert page.console_errors == []
