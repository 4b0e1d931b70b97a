"""Creating users and departments (CLI, seeding, admin pages share this)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ROLES, Department, User
from .passwords import hash_password, password_problem


class UserError(ValueError):
    """A user cannot be created or changed; the message (Chinese) says why and what to do."""


def get_or_create_department(db: Session, name: str) -> Department:
    name = name.strip()
    if not name:
        raise UserError("部门名称不能为空。")
    dept = db.scalar(select(Department).where(Department.name == name))
    if dept is None:
        dept = Department(name=name)
        db.add(dept)
        db.flush()
    return dept


def create_user(db: Session, username: str, name: str, password: str, *, department: str | None = None,
                role: str = "staff", email: str | None = None, must_change_password: bool = True,
                check_strength: bool = True) -> User:
    username = username.strip()
    if not username:
        raise UserError("工号不能为空。")
    if role not in ROLES:
        raise UserError(f"未知角色 {role!r}，可选：{', '.join(ROLES)}。")
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"工号 {username} 已存在。")
    if check_strength and (problem := password_problem(password)):
        raise UserError(problem)
    user = User(
        username=username,
        name=name.strip() or username,
        email=(email or None),
        role=role,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        department=get_or_create_department(db, department) if department else None,
    )
    db.add(user)
    db.flush()
    return user
