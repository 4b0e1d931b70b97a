"""学期与假期 (super admins): terms and holiday pauses. Saving or deleting a pause moves everyone's cards
due inside a pause out of it at once (services.calendar.reflow) and says how many moved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from scheduler.study_day import study_day

from ..db import get_db
from ..models import PAUSE_KINDS, Pause, Term, utcnow
from ..services import calendar as service
from ..services.audit import begin_admin_write
from . import bp
from .access import super_admin_required

#: How long a save may spend moving cards before it leaves the rest to the nightly job (a whole
#: university's winter break can move millions of rows).
REFLOW_SECONDS = 20.0


def _today() -> date:
    clock = current_app.config.get("CLOCK") or utcnow
    return study_day(clock(), current_app.config["TIMEZONE"])


def _page(status: int = 200) -> tuple[str, int]:
    db = get_db()
    today = _today()
    terms = list(db.scalars(select(Term).order_by(Term.first_day.desc(), Term.id)))
    pauses = list(db.scalars(select(Pause).order_by(Pause.first_day.desc(), Pause.id)))
    merged = service.calendar(db)
    return render_template(
        "admin/calendar.html", terms=terms, pauses=pauses, kinds=PAUSE_KINDS, today=today,
        merged=list(reversed(merged.pauses)), paused=merged.pause_on(today), term=service.term_of(db, today),
        new_pause=_refill("admin.calendar_pause_save", "pause_id"),
        new_term=_refill("admin.calendar_term_save", "term_id")), status


def _refill(endpoint: str, id_arg: str) -> dict[str, str]:
    """A refused "add" form comes back filled in (edits show the stored row again)."""
    args = request.view_args or {}
    if request.method == "POST" and request.endpoint == endpoint and args.get(id_arg) is None:
        return dict(request.form)
    return {}


@bp.route("/calendar")
def calendar_page() -> tuple[str, int]:
    super_admin_required()
    return _page()


def _row(model: type[Term] | type[Pause], row_id: int) -> Term | Pause:
    row = get_db().get(model, row_id)
    if row is None:
        abort(404)
    return row


def _reflow_and_report(saved: str) -> Response:
    """After a pause changed (committed): move cards out of pauses for everyone, and say how many moved."""
    result = service.reflow(get_db(), _today(), seconds=REFLOW_SECONDS)
    flash(f"{saved}{result.text()}。", "success")
    return redirect(url_for("admin.calendar_page"))


def _save(save: Callable[[Session], Term | Pause]) -> str | None:
    """Run ``save`` in an admin write and commit; the saved row's name, or None after flashing the refusal."""
    super_admin_required()
    db = get_db()
    begin_admin_write(db)
    try:
        name = save(db).name
        db.commit()
    except service.CalendarError as exc:
        db.rollback()
        flash(str(exc), "error")
        return None
    return name


def _delete(model: type[Term] | type[Pause], row_id: int) -> str:
    """Delete one row (audited) and commit; its name."""
    super_admin_required()
    db = get_db()
    begin_admin_write(db)
    row = _row(model, row_id)
    name = row.name
    service.delete(db, current_user, row)
    db.commit()
    return name


@bp.route("/calendar/pauses", methods=["POST"], defaults={"pause_id": None})
@bp.route("/calendar/pauses/<int:pause_id>", methods=["POST"])
def calendar_pause_save(pause_id: int | None) -> Response | tuple[str, int]:
    form = request.form
    name = _save(lambda db: service.save_pause(
        db, current_user, _row(Pause, pause_id) if pause_id is not None else None, form.get("name"),
        form.get("kind"), form.get("first_day"), form.get("last_day")))
    if name is None:
        return _page(400)
    return _reflow_and_report(f"已保存假期“{name}”；")


@bp.route("/calendar/pauses/<int:pause_id>/delete", methods=["POST"])
def calendar_pause_delete(pause_id: int) -> Response:
    name = _delete(Pause, pause_id)
    flash(f"已删除假期“{name}”。已顺延的卡片保持新的到期日。", "success")
    return redirect(url_for("admin.calendar_page"))


@bp.route("/calendar/terms", methods=["POST"], defaults={"term_id": None})
@bp.route("/calendar/terms/<int:term_id>", methods=["POST"])
def calendar_term_save(term_id: int | None) -> Response | tuple[str, int]:
    form = request.form
    name = _save(lambda db: service.save_term(
        db, current_user, _row(Term, term_id) if term_id is not None else None, form.get("name"),
        form.get("first_day"), form.get("last_day")))
    if name is None:
        return _page(400)
    flash(f"已保存学期“{name}”。", "success")
    return redirect(url_for("admin.calendar_page"))


@bp.route("/calendar/terms/<int:term_id>/delete", methods=["POST"])
def calendar_term_delete(term_id: int) -> Response:
    name = _delete(Term, term_id)
    flash(f"已删除学期“{name}”。", "success")
    return redirect(url_for("admin.calendar_page"))
