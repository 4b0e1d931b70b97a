"""Staff and departments: list, create, edit, deactivate, reset passwords, roles, bulk import.

Department admins see and change only their departments' staff; a URL with another
department's person id answers 404, as if the person did not exist.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response

from ..db import get_db
from ..models import Department, User
from ..services.audit import begin_admin_write
from ..services.materials import UploadError, discard_pending, load_pending, sha256, store_pending
from ..services.staff import (
    ROLE_LABELS,
    StaffError,
    apply_import,
    create_department,
    create_staff,
    department_counts,
    managed_ids,
    may_manage,
    plan_import,
    rename_department,
    reset_password,
    set_active,
    set_role,
    update_staff,
    visible_departments,
)
from . import bp
from .access import super_admin_required

PAGE_SIZE = 50
IMPORT_MAX_BYTES = 5 * 1024 * 1024


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _person(user_id: int) -> User:
    """The person, if the current admin may manage them; 404 otherwise (ids are not a way in)."""
    db = get_db()
    user = db.get(User, user_id)
    if user is None or not may_manage(db, current_user, user):
        abort(404)
    return user


@bp.route("/staff")
def staff() -> str:
    db = get_db()
    scope = managed_ids(db, current_user)
    query = select(User).order_by(User.active.desc(), User.username)
    if scope is not None:
        query = query.where(User.department_id.in_(scope or {-1}))
    dept_id = _int(request.args.get("department"))
    if dept_id is not None:
        query = query.where(User.department_id == dept_id)
    q = request.args.get("q", "").strip()
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(User.username.like(like), User.name.like(like)))
    if request.args.get("inactive") != "1":
        query = query.where(User.active.is_(True))
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = max(1, _int(request.args.get("page")) or 1)
    people = list(db.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    return render_template("admin/staff.html", people=people, total=total, page=page, page_size=PAGE_SIZE,
                           departments=visible_departments(db, current_user), q=q, dept_id=dept_id,
                           roles=ROLE_LABELS)


@bp.route("/staff/new", methods=["GET", "POST"])
def staff_new() -> str | tuple[str, int]:
    db = get_db()
    if request.method == "POST":
        begin_admin_write(db)
        try:
            user, password = create_staff(db, current_user, username=request.form.get("username", ""),
                                          name=request.form.get("name", ""),
                                          department_id=_int(request.form.get("department_id")),
                                          email=request.form.get("email"))
            db.commit()
        except StaffError as exc:
            db.rollback()
            flash(str(exc), "error")
            return render_template("admin/staff_new.html", departments=visible_departments(db, current_user)), 400
        return render_template("admin/password_shown.html", person=user, password=password, created=True)
    return render_template("admin/staff_new.html", departments=visible_departments(db, current_user))


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"])
def staff_edit(user_id: int) -> Response | str | tuple[str, int]:
    db = get_db()
    if request.method == "POST":
        begin_admin_write(db)
        person = _person(user_id)
        try:
            changes = update_staff(db, current_user, person, name=request.form.get("name", ""),
                                   email=request.form.get("email"),
                                   department_id=_int(request.form.get("department_id")))
            db.commit()
        except StaffError as exc:
            db.rollback()
            flash(str(exc), "error")
            return _edit_page(_person(user_id)), 400
        flash("已保存。" if changes else "没有变化。", "success")
        return redirect(url_for("admin.staff_edit", user_id=user_id))
    return _edit_page(_person(user_id))


def _edit_page(person: User) -> str:
    db = get_db()
    return render_template("admin/staff_edit.html", person=person, roles=ROLE_LABELS,
                           departments=visible_departments(db, current_user),
                           all_departments=list(db.scalars(select(Department).order_by(Department.name))),
                           managed={d.id for d in person.managed_departments})


def _change(user_id: int, action) -> Response:  # noqa: ANN001
    db = get_db()
    begin_admin_write(db)
    person = _person(user_id)
    try:
        message = action(db, person)
        db.commit()
    except StaffError as exc:
        db.rollback()
        flash(str(exc), "error")
        return _edit_page(_person(user_id)), 400  # type: ignore[return-value]
    flash(message, "success")
    return redirect(url_for("admin.staff_edit", user_id=user_id))


@bp.route("/staff/<int:user_id>/deactivate", methods=["POST"])
def staff_deactivate(user_id: int) -> Response:
    return _change(user_id, lambda db, p: set_active(db, current_user, p, False)
                   or "已停用：学习记录保留，此人不能登录，也不计入统计。")


@bp.route("/staff/<int:user_id>/activate", methods=["POST"])
def staff_activate(user_id: int) -> Response:
    return _change(user_id, lambda db, p: set_active(db, current_user, p, True) or "已重新启用。")


@bp.route("/staff/<int:user_id>/role", methods=["POST"])
def staff_role(user_id: int) -> Response:
    super_admin_required()
    ids = [int(v) for v in request.form.getlist("managed") if v.isdigit()]
    return _change(user_id, lambda db, p: set_role(db, current_user, p, request.form.get("role", ""), ids)
                   or "已修改角色。")


@bp.route("/staff/<int:user_id>/password", methods=["POST"])
def staff_password(user_id: int) -> str | tuple[str, int]:
    db = get_db()
    begin_admin_write(db)
    person = _person(user_id)
    try:
        password = reset_password(db, current_user, person)
        db.commit()
    except StaffError as exc:
        db.rollback()
        flash(str(exc), "error")
        return _edit_page(person), 400
    return render_template("admin/password_shown.html", person=person, password=password, created=False)


# --- departments --------------------------------------------------------------------------------

@bp.route("/departments", methods=["GET", "POST"])
def departments() -> Response | str | tuple[str, int]:
    db = get_db()
    if request.method == "POST":
        super_admin_required()
        begin_admin_write(db)
        try:
            dept_id = _int(request.form.get("department_id"))
            if dept_id is not None:
                dept = db.get(Department, dept_id) or abort(404)
                rename_department(db, current_user, dept, request.form.get("name", ""))
                message = "已重命名部门。"
            else:
                create_department(db, current_user, request.form.get("name", ""))
                message = "已新建部门。"
            db.commit()
        except StaffError as exc:
            db.rollback()
            flash(str(exc), "error")
            return render_template("admin/departments.html", departments=visible_departments(db, current_user),
                                   counts=department_counts(db)), 400
        flash(message, "success")
        return redirect(url_for("admin.departments"))
    return render_template("admin/departments.html", departments=visible_departments(db, current_user),
                           counts=department_counts(db))


# --- bulk import -------------------------------------------------------------------------------

@bp.route("/staff/import", methods=["GET", "POST"])
def staff_import() -> str | tuple[str, int]:
    if request.method == "GET":
        return render_template("admin/staff_import.html", plan=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的 CSV 或 XLSX 文件。", "error")
        return render_template("admin/staff_import.html", plan=None), 400
    data = upload.read(IMPORT_MAX_BYTES + 1)
    if len(data) > IMPORT_MAX_BYTES:
        flash("导入文件超过 5 MB：请拆分后再上传。", "error")
        return render_template("admin/staff_import.html", plan=None), 400
    plan = plan_import(get_db(), current_user, data, upload.filename)
    token = None
    if plan.ok:
        try:
            token = store_pending(current_app.instance_path, data,
                                  {"filename": upload.filename, "sha256": sha256(data)}, kind="imports")
        except UploadError as exc:  # disk full: the plan is fine but cannot wait for confirmation
            flash(str(exc), "error")
            return render_template("admin/staff_import.html", plan=None), 507
    return render_template("admin/staff_import.html", plan=plan, token=token, filename=upload.filename), \
        200 if plan.ok else 422


@bp.route("/staff/import/confirm", methods=["POST"])
def staff_import_confirm() -> str | tuple[str, int]:
    db = get_db()
    token = request.form.get("token", "")
    begin_admin_write(db)
    try:
        data, meta = load_pending(current_app.instance_path, token, kind="imports")
        # Plan again inside the writing transaction: what is written is checked against the current data.
        plan = plan_import(db, current_user, data, meta["filename"])
        if not plan.ok:
            db.rollback()
            flash("数据在预览后发生了变化，导入未执行：请检查下面的提示后重新上传。", "error")
            return render_template("admin/staff_import.html", plan=plan, token=None, filename=meta["filename"]), 409
        created = apply_import(db, current_user, plan)
        db.commit()
    except (UploadError, StaffError) as exc:
        db.rollback()
        flash(str(exc), "error")
        return render_template("admin/staff_import.html", plan=None), 400
    except BaseException:
        db.rollback()
        raise
    discard_pending(current_app.instance_path, token, kind="imports")
    return render_template("admin/import_done.html", created=created, updated=plan.count("update"))
