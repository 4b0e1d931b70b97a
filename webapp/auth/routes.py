from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import begin_write, get_db
from ..models import User, utcnow
from ..services.passwords import hash_password, needs_rehash, password_problem, verify_password
from . import bp, ldap_auth
from . import cas as _cas  # noqa: F401  (CAS routes; its revoked-session check must run before the hooks below)
from .forms import ChangePasswordForm, LoginForm
from .lockout import is_locked, record_failure, record_success
from .sso_sessions import SESSION_KEY as CAS_SESSION_KEY
from .sso_sessions import revoke as revoke_cas_session

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
        if ldap_auth.is_configured(current_app.config):
            local = db.scalar(select(User).where(User.username == form.username.data.strip()))
            uses_ldap = local is None or not (local.is_super_admin and local.password_hash)
            db.rollback()
            if uses_ldap:
                return _login_with_ldap(form)
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
        if _cas.is_configured(current_app.config) and not user.is_super_admin:
            # With CAS on, local passwords remain only for super admins (the break-glass account).
            db.rollback()
            flash("本系统已启用统一身份认证，请点击“统一身份认证登录”。", "error")
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


def _login_with_ldap(form: LoginForm) -> Response | tuple[str, int]:
    """LDAP bind for everyone except super admins with a local password (the break-glass account).

    The lockout counter applies as for local passwords; a locked account is not even tried at the
    directory, so Tifa cannot be used to guess directory passwords.
    """
    db = get_db()
    username = form.username.data.strip()
    user = db.scalar(select(User).where(User.username == username))
    locked = user is not None and is_locked(user, utcnow())
    db.rollback()  # no transaction held open while the directory answers
    if locked:
        flash(LOGIN_FAILED, "error")
        return render_template("auth/login.html", form=form), 401
    try:
        person = ldap_auth.authenticate(current_app.config, username, form.password.data)
    except ldap_auth.LdapUnavailable as exc:
        current_app.logger.error("LDAP unavailable: %s", exc)
        flash("统一身份认证目录暂时无法连接，请稍后再试；如持续失败，请联系管理员。", "error")
        return render_template("auth/login.html", form=form), 503
    begin_write(db)
    now = utcnow()
    user = db.scalar(select(User).where(User.username == username))
    if person is None:
        if user is not None:
            record_failure(db, user, now)
        db.commit()
        flash(LOGIN_FAILED, "error")
        return render_template("auth/login.html", form=form), 401
    if user is None:
        db.rollback()
        flash(_cas.UNKNOWN_USER.format(username=username), "error")
        return render_template("auth/login.html", form=form), 403
    if not user.active:
        db.rollback()
        flash("该账号已停用。如需恢复，请联系管理员。", "error")
        return render_template("auth/login.html", form=form), 403
    if person.name and person.name != user.name:
        user.name = person.name
    user.must_change_password = False  # the password belongs to the directory, not to Tifa
    record_success(db, user, now)
    db.commit()
    session.clear()
    login_user(user)
    return redirect(safe_next(form.next.data) or url_for("main.index"))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    ticket = session.get(CAS_SESSION_KEY)
    if ticket:
        db = get_db()
        begin_write(db)
        revoke_cas_session(db, ticket)
        db.commit()
    logout_user()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | str:
    config = current_app.config
    if ((_cas.is_configured(config) or ldap_auth.is_configured(config))
            and not (current_user.is_super_admin and current_user.password_hash)):
        # Single sign-on: the password lives at the university's directory, not in Tifa.
        if current_user.must_change_password:
            db = get_db()
            begin_write(db)
            db.get(User, current_user.id).must_change_password = False
            db.commit()
        flash("您的密码由学校统一身份认证管理，请到统一身份认证平台修改。", "info")
        return redirect(url_for("main.index"))
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
