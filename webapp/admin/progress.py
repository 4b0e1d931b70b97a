"""学习进度: the memorization-progress dashboard, one person's page, and CSV/XLSX exports of the same tables.

A department admin sees only their departments: a department filter outside them answers 403 and a person
outside them 404. Every figure comes from services.progress; the exports are built from the same results the
page renders, so the same filters give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from flask import Response, abort, current_app, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cards.cloze import render_prompt
from scheduler.study_day import study_day

from ..db import get_db
from ..models import DECK_PUBLISHED, Deck, utcnow
from ..services import progress as pg
from ..services.exports import CSV_MIME, XLSX_MIME, Table, csv_bytes, xlsx_bytes
from ..services.staff import managed_ids, visible_departments
from . import bp

PAGE_SIZE = 50
MAX_RANGE_DAYS = 366
EDITOR_ENDPOINTS = ("admin.deck_edit", "admin.deck_editor")
TABLES = ("summary", "departments", "matrix", "cards", "forecast", "trend")
#: Independent dashboard queries run at once, each on its own connection (so at most this many per request).
PARALLEL = 3


def _in_parallel(calls: dict[str, Callable[[Session], Any]]) -> dict[str, Any]:
    """Run independent read-only queries at once, each in a session of its own. The drivers release the GIL
    while the database works, so the page takes about as long as its slowest query instead of their sum.
    (Separate sessions see separate snapshots: a grade committed meanwhile may show in one table only.)"""
    maker = current_app.extensions["tifa.sessionmaker"]

    def run(fn: Callable[[Session], Any]) -> Any:
        with maker() as session:
            if session.get_bind().dialect.name == "postgresql":
                # These aggregates run in well under a second; compiling them (JIT) costs more than it saves.
                session.execute(text("SET LOCAL jit = off"))
            return fn(session)

    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="progress") as pool:
        futures = {name: pool.submit(run, fn) for name, fn in calls.items()}
        return {name: future.result() for name, future in futures.items()}


def _today() -> date:
    return study_day(utcnow(), current_app.config["TIMEZONE"])


def _int(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _filters(today: date) -> pg.Filters:
    """The request's filters within the admin's scope (403 for a department outside it)."""
    db = get_db()
    scope = managed_ids(db, current_user)
    dept_id = _int("department")
    if dept_id is not None and scope is not None and dept_id not in scope:
        abort(403)
    departments = frozenset({dept_id}) if dept_id is not None else (
        frozenset(scope) if scope is not None else None)
    start, end = _day("start"), _day("end")
    default = pg.Filters.default(today)
    if (request.args.get("start") or request.args.get("end")) and (
            start is None or end is None or start > end or (end - start).days >= MAX_RANGE_DAYS):
        flash(f"日期范围无效：请填写开始和结束日期（YYYY-MM-DD），开始不晚于结束，最长 {MAX_RANGE_DAYS} 天。"
              "已改用最近 7 天。", "error")
        start, end = default.start, default.end
    return pg.Filters(today=today, start=start or default.start, end=end or default.end,
                      department_ids=departments, deck_id=_int("deck"))


def _query_args(f: pg.Filters) -> dict[str, object]:
    args: dict[str, object] = {"start": f.start.isoformat(), "end": f.end.isoformat()}
    if request.args.get("department", "").strip().isdigit():
        args["department"] = request.args["department"].strip()
    if f.deck_id is not None:
        args["deck"] = f.deck_id
    if request.args.get("card_sort") in pg.CARD_SORTS:
        args["card_sort"] = request.args["card_sort"]
    return args


def _editor_url(deck_id: int) -> str | None:
    for endpoint in EDITOR_ENDPOINTS:
        if endpoint in current_app.view_functions:
            return url_for(endpoint, deck_id=deck_id)
    return None


def _prompt(card: pg.HardCard) -> str:
    try:
        return render_prompt(card.text, card.ord)
    except ValueError:  # the note was edited and lost this cloze number; the card is retired soon
        return card.text


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _decks() -> list[Deck]:
    return list(get_db().scalars(select(Deck).where(Deck.status == DECK_PUBLISHED)
                                 .order_by(Deck.term, Deck.week, Deck.id)))


# ---------------------------------------------------------------- tables (page and exports)

def summary_table(h: pg.Header, f: pg.Filters) -> Table:
    return Table("概况", ["指标", "数值"], [
        ["统计日", f.today], ["期间开始", f.start], ["期间结束", f.end], ["人数", h.staff],
        ["今日学习人数", h.active_today], ["近 7 天学习人数", h.active_7d], ["期间学习人数", h.active],
        ["今日到期卡片", h.due_today], ["其中逾期", h.overdue], ["今日完成率", h.cleared_share],
        ["应学卡片", h.assigned], ["已学卡片", h.introduced], ["已掌握卡片", h.mastered],
        ["已掌握比例", h.mastered_share], ["期间复习次数", h.reviews], ["期间学习分钟", h.minutes],
        ["期间记忆保持率", h.retention],
    ])


def departments_table(rows: list[pg.DepartmentRow]) -> Table:
    return Table("部门", ["部门", "人数", "学习人数", "参与率", "复习次数", "学习分钟", "记忆保持率", "应学卡片",
                        "已掌握", "已掌握比例", "逾期卡片"],
                 [[d.name, d.staff, d.active, d.participation, d.reviews, d.minutes, d.retention, d.assigned,
                   d.mastered, d.mastered_share, d.overdue] for d in rows],
                 percent={"参与率", "记忆保持率", "已掌握比例"})


def matrix_table(m: pg.Matrix) -> Table:
    titles = dict(m.decks)
    rows = []
    for r in m.rows:
        for deck_id, _title in m.decks:
            c = r.cells.get(deck_id)
            if c is None:
                continue
            rows.append([r.department, r.username, r.name, titles[deck_id], c.cards, c.introduced_share,
                         c.mastered_share, c.overdue, c.last_day, c.learn_by, pg.PACE_LABELS[c.status]])
    return Table("人员×卡组", ["部门", "工号", "姓名", "卡组", "卡片数", "已学比例", "已掌握比例", "逾期", "最近学习",
                           "学习期限", "进度"], rows, percent={"已学比例", "已掌握比例"})


def cards_table(cards: list[pg.HardCard]) -> Table:
    from cards.cloze import plain_text

    return Table("难点卡片", ["卡组", "提法", "挖空", "学习人数", "期间复习", "记忆保持率", "期间遗忘", "累计遗忘",
                          "平均难度系数"],
                 [[c.deck_title, plain_text(c.text), c.ord, c.learners, c.retention_total, c.retention, c.failed,
                   c.lapses, c.easiness] for c in cards], percent={"记忆保持率"})


def forecast_table(days: list[tuple[date, int]]) -> Table:
    return Table("到期预测", ["日期", "到期卡片"], [[d, n] for d, n in days])


def trend_table(days: list[pg.TrendDay]) -> Table:
    return Table("每日复习", ["日期", "复习次数", "学习人数", "学习分钟"],
                 [[d.day, d.reviews, d.people, d.minutes] for d in days])


def _all_tables(f: pg.Filters, card_sort: str) -> dict[str, Table]:
    tz = current_app.config["TIMEZONE"]
    got = _in_parallel({
        "depts": lambda db: pg.departments(db, f),
        "matrix": lambda db: pg.matrix(db, f, tz),
        "cards": lambda db: pg.hardest_cards(db, f, card_sort),
        "forecast": lambda db: pg.forecast(db, f),
        "trend": lambda db: pg.trend(db, f),
    })
    return {
        "summary": summary_table(pg.header_of(got["depts"]), f),
        "departments": departments_table(got["depts"]),
        "matrix": matrix_table(got["matrix"]),
        "cards": cards_table(got["cards"]),
        "forecast": forecast_table(got["forecast"]),
        "trend": trend_table(got["trend"]),
    }


def _card_sort() -> str:
    sort = request.args.get("card_sort", "retention")
    return sort if sort in pg.CARD_SORTS else "retention"


# ---------------------------------------------------------------- views

@bp.route("/progress")
def progress() -> str:
    db = get_db()
    today = _today()
    f = _filters(today)
    page = max(1, _int("page") or 1)
    tz = current_app.config["TIMEZONE"]
    card_sort = _card_sort()
    got = _in_parallel({
        "depts": lambda db: pg.departments(db, f),
        "grid": lambda db: pg.matrix(db, f, tz, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
        "hard": lambda db: pg.hardest_cards(db, f, card_sort),
        "due": lambda db: pg.forecast(db, f),
        "days": lambda db: pg.trend(db, f),
    })
    depts, grid, hard, due, days = got["depts"], got["grid"], got["hard"], got["due"], got["days"]
    head = pg.header_of(depts)
    charts = {
        "departments": {"labels": [d.name for d in depts],
                        "series": [{"label": "参与率 %", "data": [_chart_pct(d.participation) for d in depts]},
                                   {"label": "已掌握 %", "data": [_chart_pct(d.mastered_share) for d in depts]}],
                        "percent": True},
        "forecast": {"labels": [d.strftime("%m-%d") for d, _ in due],
                     "series": [{"label": "到期卡片", "data": [n for _, n in due]}]},
        "trend": {"labels": [d.day.strftime("%m-%d") for d in days],
                  "series": [{"label": "复习次数", "data": [d.reviews for d in days]},
                             {"label": "学习人数", "data": [d.people for d in days]}], "line": True},
    }
    args = _query_args(f)
    return render_template(
        "admin/progress.html", f=f, head=head, depts=depts, grid=grid, hard=hard, due=due, days=days,
        charts=charts, args=args, page=page, page_size=PAGE_SIZE, card_sort=card_sort, pct=_pct,
        prompt=_prompt, editor_url=_editor_url, pace_labels=pg.PACE_LABELS,
        departments=visible_departments(db, current_user), decks=_decks(),
        dept_id=_int("department"), tables=TABLES)


def _chart_pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


@bp.route("/progress/user/<int:user_id>")
def progress_user(user_id: int) -> str:
    db = get_db()
    today = _today()
    f = _filters(today)
    if request.args.get("start") is None and request.args.get("end") is None:
        f = pg.Filters(today, today - timedelta(days=90), today, f.department_ids, f.deck_id)
    who = pg.person(db, f, user_id)
    if who is None:
        abort(404)
    hard = pg.hardest_cards(db, f, _card_sort(), limit=10, user_id=user_id)
    top = max((d.reviews for d in who.days), default=0)
    heat = [(d, _level(d.reviews, top)) for d in who.days]
    lead = who.days[0].day.weekday() if who.days else 0  # blank cells so each column is a Monday..Sunday week
    chart = {"labels": [d.day.strftime("%m-%d") for d in who.days],
             "series": [{"label": "复习次数", "data": [d.reviews for d in who.days]},
                        {"label": "学习分钟", "data": [d.minutes for d in who.days]}]}
    return render_template("admin/progress_user.html", who=who, f=f, hard=hard, heat=heat, lead=lead, chart=chart,
                           pct=_pct, prompt=_prompt, editor_url=_editor_url, args=_query_args(f))


def _level(reviews: int, top: int) -> int:
    """Heatmap shade 0..4 relative to the busiest day shown."""
    if reviews <= 0 or top <= 0:
        return 0
    return min(4, 1 + (4 * reviews - 1) // top)


@bp.route("/progress/export.csv")
def progress_csv() -> Response:
    f = _filters(_today())
    name = request.args.get("table", "")
    if name not in TABLES:
        abort(404)
    table = _all_tables(f, _card_sort())[name]
    return _download(csv_bytes(table), CSV_MIME, f"学习进度-{table.title}-{f.start}-{f.end}.csv")


@bp.route("/progress/export.xlsx")
def progress_xlsx() -> Response:
    f = _filters(_today())
    tables = _all_tables(f, _card_sort())
    return _download(xlsx_bytes([tables[n] for n in TABLES]), XLSX_MIME, f"学习进度-{f.start}-{f.end}.xlsx")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    from urllib.parse import quote

    response = Response(body, mimetype=mimetype)
    # RFC 6266: an ASCII fallback plus the UTF-8 name.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"progress{filename[filename.rfind('.'):]}\"; filename*=UTF-8''{quote(filename)}")
    response.headers["Cache-Control"] = "no-store"
    return response
