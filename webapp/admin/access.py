"""Who may see what: super admins everything, department admins their departments only."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import Select, select
from werkzeug.wrappers import Response

from ..models import AdminDepartment, User


def admin_required() -> Response | None:
    """Anonymous users go to the login page; staff get 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_admin:
        abort(403)
    return None


def super_admin_required() -> None:
    if not current_user.is_super_admin:
        abort(403)


def managed_department_ids(user: User) -> Select | None:
    """A subquery of the department ids ``user`` manages, or None for a super admin (all)."""
    if user.is_super_admin:
        return None
    return select(AdminDepartment.department_id).where(AdminDepartment.user_id == user.id)


def can_manage_department(db, user: User, department_id: int | None) -> bool:  # noqa: ANN001
    if user.is_super_admin:
        return True
    if department_id is None:
        return False
    return db.scalar(select(AdminDepartment.user_id).where(
        AdminDepartment.user_id == user.id, AdminDepartment.department_id == department_id)) is not None


def can_manage_user(db, admin: User, target: User) -> bool:  # noqa: ANN001
    return can_manage_department(db, admin, target.department_id)
