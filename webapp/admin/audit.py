"""The audit log for super admins: browse (filter by action and actor, paginate) and export CSV."""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template, request

from ..db import get_db
from ..services.audit import ACTIONS, audit_query, count, csv_bytes, describe
from . import bp
from .access import super_admin_required

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000


def _filters() -> tuple[str, str]:
    action = request.args.get("action", "").strip()
    return (action if action in ACTIONS else ""), request.args.get("actor", "").strip()


@bp.route("/audit")
def audit_log() -> str:
    super_admin_required()
    db = get_db()
    action, actor = _filters()
    query = audit_query(action, actor)
    total = count(db, query)
    page = max(1, int(request.args["page"]) if request.args.get("page", "").isdigit() else 1)
    rows = db.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template("admin/audit.html", rows=rows, total=total, page=page, page_size=PAGE_SIZE,
                           actions=ACTIONS, action=action, actor=actor, describe=describe,
                           tz=ZoneInfo(current_app.config["TIMEZONE"]))


@bp.route("/audit.csv")
def audit_export() -> Response:
    super_admin_required()
    action, actor = _filters()
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    rows = get_db().execute(audit_query(action, actor).limit(EXPORT_LIMIT)).all()
    body = csv_bytes(
        ["时间", "操作人工号", "操作人", "操作", "对象类型", "对象", "详情"],
        ([entry.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), user.username if user else "",
          user.name if user else "", ACTIONS.get(entry.action, entry.action), entry.target_type, entry.target_id,
          describe(entry.details)] for entry, user in rows))
    disposition = "attachment; filename=audit-log.csv; filename*=UTF-8''" + quote("审计日志.csv")
    return Response(body, mimetype="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})
