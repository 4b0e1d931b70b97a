from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import begin_write, get_db
from ..models import User, utcnow
from ..services.passwords import hash_password, needs_rehash, password_problem, verify_password
from . import bp
from .forms import ChangePasswordForm, LoginForm
from .lockout import is_locked, record_failure, record_success

LOGIN_FAILED = "工号或密码错误。连续多次失败后账户会被暂时锁定，请稍后再试或联系管理员重置密码。"


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths; anything with a scheme, host or backslash is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.before_app_request
def _force_password_change() -> Response | None:
    if (current_user.is_authenticated and current_user.must_change_password
            and request.endpoint not in {"auth.change_password", "auth.logout", "static"}):
        if request.path.startswith("/api/"):
            from ..errors import error_response

            return error_response(403, "password_change_required", "请先修改初始密码。")
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        db = get_db()
        begin_write(db)
        now = utcnow()
        user = db.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is None or is_locked(user, now):
            verify_password(None, form.password.data)  # same work as a wrong password
            db.rollback()
            flash(LOGIN_FAILED, "error")
            return render_template("auth/login.html", form=form), 401
        if not verify_password(user.password_hash, form.password.data):
            record_failure(db, user, now)
            db.commit()
            flash(LOGIN_FAILED, "error")
            return render_template("auth/login.html", form=form), 401
        if not user.active:
            db.rollback()
            flash("该账号已停用。如需恢复，请联系管理员。", "error")
            return render_template("auth/login.html", form=form), 403
        if needs_rehash(user.password_hash or ""):
            user.password_hash = hash_password(form.password.data)
        record_success(db, user, now)
        db.commit()
        session.clear()  # no session fixation: nothing from before login survives
        login_user(user)
        if user.must_change_password:
            return redirect(url_for("auth.change_password"))
        return redirect(safe_next(form.next.data) or url_for("main.index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    logout_user()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        db = get_db()
        user = db.get(User, current_user.id)
        problem = password_problem(form.new.data)
        if not verify_password(user.password_hash, form.current.data):
            form.current.errors.append("当前密码不正确。")
        elif problem:
            form.new.errors.append(problem)
        elif form.new.data == form.current.data:
            form.new.errors.append("新密码不能与当前密码相同。")
        else:
            user.password_hash = hash_password(form.new.data)
            user.must_change_password = False
            db.commit()
            flash("密码已修改。", "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form)
