"""LDAP login through the normal form, against a real slapd (StartTLS, ppolicy) on loopback."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sso.servers import LDAP_PASSWORD, Slapd, free_port

from helpers import PASSWORD, get_user, login
from webapp.auth.lockout import FREE_ATTEMPTS
from webapp.db import session_scope
from webapp.models import User


def test_directory_password_logs_in_and_brings_the_directory_name(ldap_app: Flask, client: FlaskClient,
                                                                 make_user) -> None:
    make_user("20260001", name="旧名字", must_change_password=True)
    response = login(client, "20260001", LDAP_PASSWORD, next_url="/account/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    user = get_user(ldap_app, "20260001")
    assert user.name == "张三"
    assert user.last_login_at is not None
    assert not user.must_change_password  # the directory owns this password; nothing to change in Tifa
    assert "/login" not in client.get("/").headers.get("Location", "")  # logged in


def test_local_password_no_longer_works_for_staff_once_ldap_is_on(ldap_app: Flask, client: FlaskClient,
                                                                 make_user) -> None:
    make_user("20260001")
    response = login(client, "20260001", PASSWORD)
    assert response.status_code == 401
    assert "工号或密码错误" in response.get_data(as_text=True)
    assert get_user(ldap_app, "20260001").failed_logins == 1


def test_local_super_admin_keeps_the_local_password(ldap_app: Flask, client: FlaskClient, make_user) -> None:
    make_user("admin", role="super_admin")
    assert login(client, "admin", PASSWORD).status_code == 302
    assert get_user(ldap_app, "admin").last_login_at is not None


def test_wrong_directory_password_counts_towards_the_lockout(ldap_app: Flask, client: FlaskClient,
                                                            make_user) -> None:
    make_user("20260001")
    for _ in range(FREE_ATTEMPTS):
        assert login(client, "20260001", "not-the-password").status_code == 401
    user = get_user(ldap_app, "20260001")
    assert user.failed_logins == FREE_ATTEMPTS
    assert user.locked_until is not None
    # Locked: even the right password is refused, and the directory is not asked.
    assert login(client, "20260001", LDAP_PASSWORD).status_code == 401
    assert get_user(ldap_app, "20260001").failed_logins == FREE_ATTEMPTS


def test_account_locked_in_the_directory_is_refused(ldap_app: Flask, client: FlaskClient, make_user) -> None:
    make_user("20260003")  # pwdAccountLockedTime set by ppolicy
    assert login(client, "20260003", LDAP_PASSWORD).status_code == 401
    assert get_user(ldap_app, "20260003").last_login_at is None


def test_directory_entry_without_password_is_refused(ldap_app: Flask, client: FlaskClient, make_user) -> None:
    make_user("20260004")
    assert login(client, "20260004", LDAP_PASSWORD).status_code == 401
    assert login(client, "20260004", "").status_code == 200  # empty password: the form asks for one
    assert get_user(ldap_app, "20260004").last_login_at is None


def test_directory_person_without_tifa_account_is_told_to_ask_the_admin(ldap_app: Flask,
                                                                      client: FlaskClient) -> None:
    response = login(client, "20268888", LDAP_PASSWORD)
    assert response.status_code == 403
    assert "尚未开通提法卡账号" in response.get_data(as_text=True)
    with session_scope(ldap_app) as db:
        assert db.scalar(select(func.count()).select_from(User)) == 0


def test_unknown_staff_number_gets_the_generic_message(ldap_app: Flask, client: FlaskClient) -> None:
    response = login(client, "nobody", LDAP_PASSWORD)
    assert response.status_code == 401
    assert "工号或密码错误" in response.get_data(as_text=True)


def test_unreachable_directory_is_not_counted_as_a_wrong_password(app: Flask, client: FlaskClient,
                                                                  slapd_server: Slapd, make_user) -> None:
    app.config.update(slapd_server.config(), LDAP_URL=f"ldap://127.0.0.1:{free_port()}")
    make_user("20260001")
    response = login(client, "20260001", LDAP_PASSWORD)
    assert response.status_code == 503
    assert "暂时无法连接" in response.get_data(as_text=True)
    assert get_user(app, "20260001").failed_logins == 0


def test_plain_ldap_without_starttls_never_sends_the_password(app: Flask, client: FlaskClient,
                                                              slapd_server: Slapd, make_user) -> None:
    app.config.update(slapd_server.config(), LDAP_STARTTLS=False)
    make_user("20260001")
    assert login(client, "20260001", LDAP_PASSWORD).status_code == 503
    assert get_user(app, "20260001").last_login_at is None


def test_certificate_not_signed_by_the_configured_ca_is_refused(app: Flask, client: FlaskClient,
                                                                slapd_server: Slapd, make_user, tmp_path) -> None:
    import subprocess

    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(other)], check=True, capture_output=True)
    app.config.update(slapd_server.config(), LDAP_CA_FILE=str(other))
    make_user("20260001")
    assert login(client, "20260001", LDAP_PASSWORD).status_code == 503
    assert get_user(app, "20260001").last_login_at is None


def test_password_change_points_directory_users_to_the_directory(ldap_app: Flask, client: FlaskClient,
                                                                 make_user) -> None:
    make_user("20260001")
    make_user("admin", role="super_admin")
    assert login(client, "20260001", LDAP_PASSWORD).status_code == 302
    page = client.get("/account/password", follow_redirects=True)
    assert "请到统一身份认证平台修改" in page.get_data(as_text=True)
    assert page.request.path != "/account/password"
    admin = ldap_app.test_client()
    assert login(admin, "admin").status_code == 302
    assert admin.get("/account/password").status_code == 200  # the local super admin keeps a local password
