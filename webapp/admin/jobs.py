"""Background jobs page (super admin): schedule, last and next run, run now, recorded mail, overdue staff,
weekly report download and the list of backups."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from scheduler.study_day import study_day

from .. import backup as backups
from .. import jobs
from ..channels import platforms as channel_platforms
from ..channels import service as channel_service
from ..channels.sender import Sender
from ..db import get_db
from ..models import JobRun, Notification, User
from ..services import weekly_report as report
from . import bp
from .access import super_admin_required

RECENT_NOTIFICATIONS = 50
#: A claim still 'running' after this long was left by a process that stopped mid-run.
STALE_AFTER = timedelta(hours=2)
WEEK_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _latest_runs(names: list[str]) -> dict[str, JobRun]:
    db = get_db()
    latest: dict[str, JobRun] = {}
    for name in names:
        run = db.scalar(select(JobRun).where(JobRun.job == name)
                        .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1))
        if run is not None:
            latest[name] = run
    return latest


@bp.route("/jobs")
def jobs_page() -> str:
    super_admin_required()
    from ..jobs_runner import next_runs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    table = jobs.job_table(app)
    db = get_db()
    today = study_day(datetime.now(UTC), current_app.config["TIMEZONE"])
    recent = db.execute(
        select(Notification, User).join(User, User.id == Notification.user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(RECENT_NOTIFICATIONS)
    ).all()
    database = backups.sqlite_path(current_app.config["DATABASE_URL"])
    runs = _latest_runs(list(table))
    now = datetime.now(UTC)
    interrupted = {name for name, run in runs.items()
                   if run.status == "running" and now - run.started_at > STALE_AFTER}
    return render_template(
        "admin/jobs.html", table=table, runs=runs, interrupted=interrupted, next_runs=next_runs(app), tz=_tz(),
        mail_configured=bool(current_app.config.get("SMTP_HOST")), recent=recent,
        behind=jobs.behind_learn_by(db, today), last_week=report.Week.before(today),
        backups=backups.list_backups(backups.backups_dir(current_app.instance_path)) if database else None,
        scheduler_on=bool(current_app.config.get("SCHEDULER")),
        channel_failures=channel_service.failures(db, now), channel_advice=channel_platforms.ADVICE)


@bp.route("/jobs/<name>/run", methods=["POST"])
def jobs_run(name: str) -> WerkzeugResponse:
    super_admin_required()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    table = jobs.job_table(app)
    if name not in table:
        abort(404)
    # The request's own session is not used: the job opens its own, and must not wait on ours.
    get_db().close()
    outcome = jobs.run_job(app, name)
    title = table[name].title
    if not outcome.ran:
        flash(f"“{title}”本期（{outcome.period}）已经运行过，未重复运行。每期只运行一次，以免重复发信。", "info")
    elif outcome.status == "ok":
        flash(f"已运行“{title}”（{outcome.period}，{outcome.seconds:.1f} 秒）：{outcome.summary}", "success")
    else:
        flash(f"“{title}”运行失败（{outcome.period}）：{outcome.summary}。请检查配置后，等下一期自动运行。", "error")
    return redirect(url_for("admin.jobs_page"))


@bp.route("/jobs/deliveries/<int:delivery_id>/retry", methods=["POST"])
def channel_retry(delivery_id: int) -> WerkzeugResponse:
    """Post a failed group-chat message again, now (after fixing the robot's settings)."""
    super_admin_required()
    db = get_db()
    db.commit()  # the retry claims the row in its own short transactions
    result = channel_service.retry_delivery(db, Sender.from_config(current_app.config), delivery_id,
                                            datetime.now(UTC))
    if result is None:
        flash("这条群消息已经发出或正在发送，未重复发送。", "info")
    elif result.ok:
        flash(f"已重新发送。平台回复：{result.answer}", "success")
    else:
        flash(f"重新发送仍然失败：{result.error}。{channel_platforms.ADVICE}", "error")
    return redirect(url_for("admin.jobs_page") + "#channel-failures")


def _week_arg(today: date) -> report.Week:
    label = request.args.get("week", "")
    match = WEEK_LABEL.match(label)
    if not match:
        return report.Week.before(today)
    try:
        return report.Week(date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1))
    except ValueError:
        abort(404)


@bp.route("/jobs/weekly-report.xlsx")
def weekly_report_download() -> Response:
    super_admin_required()
    today = study_day(datetime.now(UTC), current_app.config["TIMEZONE"])
    week = _week_arg(today)
    content = report.build_xlsx(get_db(), week)
    disposition = (f"attachment; filename=weekly-report-{week.label}.xlsx; "
                   f"filename*=UTF-8''{quote(report.filename(week))}")
    return Response(content, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": disposition})
