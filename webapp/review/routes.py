from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template
from flask_login import current_user, login_required

from scheduler.study_day import study_day

from ..db import get_db
from ..models import utcnow
from ..services.calendar import pause_on
from ..services.queue import today_summary
from . import bp


@bp.route("/today")
@login_required
def today() -> str:
    day = study_day(utcnow(), current_app.config["TIMEZONE"])
    summary = today_summary(get_db(), current_user, day)
    pause = pause_on(get_db(), day)
    return render_template("review/today.html", summary=summary, day=day, pause=pause,
                           back=pause.last + timedelta(days=1) if pause else None)


@bp.route("/review")
@login_required
def review() -> str:
    return render_template("review/review.html")
