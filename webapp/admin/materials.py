"""Materials: upload (file or pasted text), preview what changes, confirm. Super admins only."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..db import get_db
from ..models import Card, Deck, Material
from ..services.audit import begin_admin_write
from ..services.materials import UploadError, confirm_upload, discard_pending, preview_upload
from . import bp
from .access import super_admin_required


def _week(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 60:
        raise UploadError("周次应为 1 到 60 之间的整数，或留空。")
    return int(value)


@bp.route("/materials")
def materials() -> str:
    super_admin_required()
    db = get_db()
    rows = db.execute(
        select(Material.id, Material.identity, Material.title, Material.term, Material.week, Material.filename,
               Material.updated_at, Deck.id, Deck.status)
        .outerjoin(Deck, Deck.material_id == Material.id)
        .order_by(Material.updated_at.desc())).all()
    card_counts = dict(db.execute(select(Card.deck_id, func.count()).where(Card.retired.is_(False))
                                  .group_by(Card.deck_id)).all())
    return render_template("admin/materials.html", rows=rows, card_counts=card_counts, form=request.form)


@bp.route("/materials/upload", methods=["POST"])
def material_upload() -> str | tuple[str, int]:
    super_admin_required()
    upload = request.files.get("file")
    pasted = request.form.get("text", "")
    try:
        if upload is not None and upload.filename:
            data, filename = upload.read(), upload.filename
        elif pasted.strip():
            data, filename = pasted.encode("utf-8"), "粘贴文本.txt"
        else:
            raise UploadError("请选择要上传的文件，或在文本框中粘贴材料正文。")
        preview = preview_upload(get_db(), current_app.instance_path, data, filename,
                                 title=request.form.get("title", ""), term=request.form.get("term", ""),
                                 week=_week(request.form.get("week", "")),
                                 identity=request.form.get("identity", ""))
    except UploadError as exc:
        flash(str(exc), "error")
        return materials(), 400
    return render_template("admin/material_preview.html", p=preview)


@bp.route("/materials/confirm", methods=["POST"])
def material_confirm() -> Response | tuple[str, int]:
    super_admin_required()
    db = get_db()
    token = request.form.get("token", "")
    begin_admin_write(db)
    try:
        deck, result = confirm_upload(db, current_app.instance_path, token, current_user)
        db.commit()
    except UploadError as exc:
        db.rollback()
        flash(str(exc), "error")
        return materials(), 400
    except IntegrityError:
        # Another admin confirmed an upload with the same identity at the same moment (PostgreSQL).
        db.rollback()
        flash("同一材料刚刚被另一位管理员保存：请刷新材料列表，必要时重新上传。", "error")
        return materials(), 409
    except BaseException:
        db.rollback()
        raise
    discard_pending(current_app.instance_path, token)
    flash(f"已保存：保留 {len(result.kept)} 条、新增 {len(result.added)} 条、停用 {len(result.retired)} 条笔记。"
          "请检查卡组后发布。", "success")
    return redirect(url_for("admin.deck_editor", deck_id=deck.id))


@bp.route("/materials/cancel", methods=["POST"])
def material_cancel() -> Response:
    super_admin_required()
    discard_pending(current_app.instance_path, request.form.get("token", ""))
    flash("已取消，本次上传没有保存。", "info")
    return redirect(url_for("admin.materials"))
