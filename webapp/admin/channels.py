"""群机器人: each department's WeCom / DingTalk group robot, its test message and its latest posts.

Super admins set up any department; a department admin only the departments they manage (another
department's id answers 404, as on the staff pages). Webhook addresses and secrets are never shown back:
the page, the audit log and every error message show them masked.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from ..channels import platforms
from ..channels import service as channels
from ..channels.sender import Sender
from ..db import get_db
from ..models import Department
from ..services.audit import audit, begin_admin_write
from ..services.staff import visible_departments
from . import bp
from .access import can_manage_department


def _department(department_id: int) -> Department:
    db = get_db()
    department = db.get(Department, department_id)
    if department is None or not can_manage_department(db, current_user, department_id):
        abort(404)
    return department


def _kind(kind: str) -> str:
    if kind not in platforms.KINDS:
        abort(404)
    return kind


@bp.route("/channels")
def channels_list() -> str:
    db = get_db()
    departments = visible_departments(db, current_user)
    return render_template("admin/channels.html", departments=departments, labels=platforms.LABELS,
                           configured=channels.channels_by_department(db, [d.id for d in departments]),
                           mask_url=platforms.mask_url)


def _edit_page(department: Department, status: int = 200, errors: dict[str, str] | None = None,
               form_kind: str = "") -> tuple[str, int]:
    db = get_db()
    configured = channels.channels_of(db, department.id)
    return render_template(
        "admin/channel_edit.html", department=department, configured=configured, labels=platforms.LABELS,
        kinds=platforms.KINDS, examples=platforms.EXAMPLE_URL, mask_url=platforms.mask_url,
        mask_secret=platforms.mask_secret, recent=channels.recent(db, [c.id for c in configured.values()]),
        kind_labels=channels.KIND_LABELS, errors=errors or {}, form_kind=form_kind,
        form=request.form if request.method == "POST" else {}, advice=platforms.ADVICE), status


@bp.route("/channels/<int:department_id>")
def channel_edit(department_id: int) -> tuple[str, int]:
    return _edit_page(_department(department_id))


@bp.route("/channels/<int:department_id>/<kind>", methods=["POST"])
def channel_save(department_id: int, kind: str) -> Response | tuple[str, int]:
    department, kind = _department(department_id), _kind(kind)
    db = get_db()
    begin_admin_write(db)
    try:
        channels.save_channel(db, current_user, department, kind, request.form.get("webhook_url", ""),
                              request.form.get("secret", ""), enabled=request.form.get("enabled") == "1",
                              clear_secret=request.form.get("clear_secret") == "1")
    except channels.ChannelError as exc:
        db.rollback()
        return _edit_page(department, 400, errors={kind: str(exc)}, form_kind=kind)
    db.commit()
    flash(f"已保存{department.name}的{platforms.LABELS[kind]}群机器人。可点“发送测试消息”确认设置无误。", "success")
    return redirect(url_for("admin.channel_edit", department_id=department.id))


@bp.route("/channels/<int:department_id>/<kind>/delete", methods=["POST"])
def channel_delete(department_id: int, kind: str) -> Response:
    department, kind = _department(department_id), _kind(kind)
    db = get_db()
    begin_admin_write(db)
    channel = channels.channels_of(db, department.id).get(kind)
    if channel is None:  # already deleted (a second click, another tab)
        db.rollback()
        flash(f"{department.name}没有设置{platforms.LABELS[kind]}群机器人。", "info")
        return redirect(url_for("admin.channel_edit", department_id=department.id))
    channels.delete_channel(db, current_user, department, channel)
    db.commit()
    flash(f"已删除{department.name}的{platforms.LABELS[kind]}群机器人，不再向该群发消息。", "success")
    return redirect(url_for("admin.channel_edit", department_id=department.id))


@bp.route("/channels/<int:department_id>/<kind>/test", methods=["POST"])
def channel_test(department_id: int, kind: str) -> Response:
    department, kind = _department(department_id), _kind(kind)
    db = get_db()
    channel = channels.channels_of(db, department.id).get(kind)
    db.commit()  # no transaction held while the robot answers
    if channel is None:
        flash(f"{department.name}还没有设置{platforms.LABELS[kind]}群机器人：请先填写 Webhook 地址并保存。", "info")
        return redirect(url_for("admin.channel_edit", department_id=department.id))
    result = channels.send_probe(Sender.from_config(current_app.config), channel, department, current_user)
    begin_admin_write(db)
    audit(db, current_user, "channel.test", "department", department.id, department=department.name,
          platform=platforms.LABELS[kind], url=platforms.mask_url(channel.webhook_url),
          result="成功" if result.ok else result.error)
    db.commit()
    if result.ok:
        flash(f"测试消息已发到{department.name}的{platforms.LABELS[kind]}群。平台回复：{result.answer}", "success")
    else:
        flash(f"测试消息没有发出：{result.error}。{platforms.ADVICE}", "error")
    return redirect(url_for("admin.channel_edit", department_id=department.id))
