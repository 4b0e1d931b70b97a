"""CAS login and single logout against a real django-cas-server on loopback."""

from __future__ import annotations

import time

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sso.cas_flow import cas_login, cas_ticket
from sso.servers import CAS_PASSWORD, CasServer

from helpers import get_user, login
from webapp.db import session_scope
from webapp.models import AuditLog, SsoSession, User


def _logged_in(http: requests.Session, tifa: str) -> bool:
    """Whether Tifa treats this browser as logged in (the home page does not send it to /login)."""
    response = http.get(tifa + "/", allow_redirects=False)
    return response.status_code == 200 or (
        response.status_code == 302 and "/login" not in response.headers["Location"])


@pytest.mark.parametrize("version", ["2", "3"])
def test_cas_login_maps_the_staff_number_and_released_name(cas_app: Flask, cas_server: CasServer, tifa_server: str,
                                                           make_user, version: str) -> None:
    cas_app.config["CAS_VERSION"] = version  # 2: serviceValidate, 3: p3/serviceValidate (attributes)
    make_user("20260001", name="旧名字", department="原部门", must_change_password=True)
    http = requests.Session()
    assert not _logged_in(http, tifa_server)
    final = cas_login(http, tifa_server, "20260001", CAS_PASSWORD)
    assert final.status_code == 200
    assert final.url.startswith(tifa_server)
    assert _logged_in(http, tifa_server)
    user = get_user(cas_app, "20260001")
    assert user.last_login_at is not None
    with session_scope(cas_app) as db:
        rows = db.scalars(select(SsoSession)).all()
        assert [(r.user_id, r.revoked_at) for r in rows] == [(user.id, None)]
        assert db.get(User, user.id).department.name == "原部门"  # admins' department is kept
    # django-cas-server releases attributes on serviceValidate too (a CAS 3 extension many servers have).
    assert user.name == "张三"
    assert not user.must_change_password  # an imported account's initial password is irrelevant to CAS


def test_with_cas_on_only_super_admins_keep_local_passwords(cas_app: Flask, client: FlaskClient,
                                                           make_user) -> None:
    make_user("20260001")
    make_user("admin", role="super_admin")
    staff = login(client, "20260001")
    assert staff.status_code == 403
    assert "统一身份认证登录" in staff.get_data(as_text=True)
    assert get_user(cas_app, "20260001").last_login_at is None
    assert login(client, "admin").status_code == 302


def test_unknown_staff_number_is_refused_with_a_message(cas_app: Flask, tifa_server: str) -> None:
    final = cas_login(requests.Session(), tifa_server, "20269999", CAS_PASSWORD)
    assert final.status_code == 403
    assert "尚未开通提法卡账号" in final.text and "20269999" in final.text
    with session_scope(cas_app) as db:
        assert db.scalar(select(User).where(User.username == "20269999")) is None


def test_autocreate_uses_the_released_department(cas_app: Flask, tifa_server: str) -> None:
    cas_app.config.update(CAS_AUTOCREATE=True, CAS_DEFAULT_DEPARTMENT="待分配")
    http = requests.Session()
    assert cas_login(http, tifa_server, "20269999", CAS_PASSWORD).status_code == 200
    assert _logged_in(http, tifa_server)
    with session_scope(cas_app) as db:
        user = db.scalar(select(User).where(User.username == "20269999"))
        assert (user.name, user.department.name, user.role, user.password_hash) == ("王五", "新设学院", "staff", None)
        entry = db.scalar(select(AuditLog).where(AuditLog.action == "user.create"))
        assert (entry.actor_id, entry.target_id, entry.details["source"]) == (None, str(user.id), "cas_autocreate")


def test_autocreate_without_released_department_uses_the_default(cas_app: Flask, tifa_server: str) -> None:
    cas_app.config.update(CAS_AUTOCREATE=True, CAS_DEFAULT_DEPARTMENT="待分配")
    assert cas_login(requests.Session(), tifa_server, "20260002", CAS_PASSWORD).status_code == 200
    with session_scope(cas_app) as db:
        user = db.scalar(select(User).where(User.username == "20260002"))
        assert (user.name, user.department.name) == ("李四", "待分配")


def test_a_ticket_works_once(cas_app: Flask, cas_server: CasServer, tifa_server: str, make_user) -> None:
    make_user("20260001")
    ticket = cas_ticket(requests.Session(), cas_server.url, tifa_server + "/login/cas", "20260001", CAS_PASSWORD)
    first, second = requests.Session(), requests.Session()
    assert first.get(tifa_server + "/login/cas", params={"ticket": ticket}).status_code == 200
    assert _logged_in(first, tifa_server)
    replay = second.get(tifa_server + "/login/cas", params={"ticket": ticket})
    assert replay.status_code == 401
    assert "只能使用一次" in replay.text
    assert not _logged_in(second, tifa_server)


def test_a_ticket_for_another_service_is_refused(cas_app: Flask, cas_server: CasServer, tifa_server: str,
                                                 make_user) -> None:
    make_user("20260001")
    # A ticket the CAS server issued to another application (which could replay it to us).
    ticket = cas_ticket(requests.Session(), cas_server.url, "http://127.0.0.1:1/login/cas", "20260001",
                        CAS_PASSWORD)
    http = requests.Session()
    response = http.get(tifa_server + "/login/cas", params={"ticket": ticket})
    assert response.status_code == 401
    assert not _logged_in(http, tifa_server)
    assert get_user(cas_app, "20260001").last_login_at is None


def test_single_logout_ends_the_tifa_session(cas_app: Flask, cas_server: CasServer, tifa_server: str,
                                             make_user) -> None:
    make_user("20260001")
    http, other_device = requests.Session(), requests.Session()
    assert cas_login(http, tifa_server, "20260001", CAS_PASSWORD).status_code == 200
    assert cas_login(other_device, tifa_server, "20260001", CAS_PASSWORD).status_code == 200
    assert _logged_in(http, tifa_server) and _logged_in(other_device, tifa_server)
    http.get(cas_server.url + "logout")  # the CAS server POSTs a logoutRequest to our service URL
    deadline = time.monotonic() + 10
    while _logged_in(http, tifa_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _logged_in(http, tifa_server)
    page = http.get(tifa_server + "/")
    assert page.url.startswith(tifa_server + "/login")
    assert _logged_in(other_device, tifa_server)  # only the session named by the ticket ends
    with session_scope(cas_app) as db:
        revoked = [r.revoked_at is not None for r in db.scalars(select(SsoSession).order_by(SsoSession.created_at))]
    assert sorted(revoked) == [False, True]


LOGOUT_REQUEST = """<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0"
 IssueInstant="2026-11-29T00:00:00Z"><saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"></saml:NameID>
<samlp:SessionIndex>{ticket}</samlp:SessionIndex></samlp:LogoutRequest>"""


def test_logout_endpoint_takes_only_cas_logout_requests(cas_app: Flask, tifa_server: str, make_user) -> None:
    make_user("20260001")
    http = requests.Session()
    assert cas_login(http, tifa_server, "20260001", CAS_PASSWORD).status_code == 200
    with session_scope(cas_app) as db:
        ticket = db.scalar(select(SsoSession.ticket))
    post = requests.post  # no CSRF token, no cookies: as the CAS server sends it
    assert post(tifa_server + "/login/cas", data={"logoutRequest": "not xml"}).status_code == 400
    assert post(tifa_server + "/login/cas", data={"logoutRequest": f"<Logout><SessionIndex>{ticket}</SessionIndex>"
                                                                   "</Logout>"}).status_code == 400
    entity = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY t SYSTEM "file:///etc/hostname">]>'
              + LOGOUT_REQUEST.format(ticket="&t;"))
    assert post(tifa_server + "/login/cas", data={"logoutRequest": entity}).status_code == 400
    unknown = post(tifa_server + "/login/cas", data={"logoutRequest": LOGOUT_REQUEST.format(ticket="ST-nope")})
    assert (unknown.status_code, unknown.text) == (200, "unknown ticket\n")
    assert _logged_in(http, tifa_server)
    assert http.get(tifa_server + "/api/v1/review/summary").status_code == 200
    done = post(tifa_server + "/login/cas", data={"logoutRequest": LOGOUT_REQUEST.format(ticket=ticket)})
    assert (done.status_code, done.text) == (200, "revoked\n")
    api = http.get(tifa_server + "/api/v1/review/summary")
    assert (api.status_code, api.json()["code"]) == (401, "logged_out")
    assert not _logged_in(http, tifa_server)


def test_local_logout_revokes_the_cas_session_record(cas_app: Flask, tifa_server: str, make_user) -> None:
    make_user("20260001")
    http = requests.Session()
    assert cas_login(http, tifa_server, "20260001", CAS_PASSWORD).status_code == 200
    page = http.get(tifa_server + "/account/password")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    http.post(tifa_server + "/logout", data={"csrf_token": token})
    with session_scope(cas_app) as db:
        assert db.scalar(select(SsoSession.revoked_at)) is not None


def test_login_page_offers_cas_only_when_configured(app: Flask, client: FlaskClient) -> None:
    assert "统一身份认证登录" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/cas").status_code == 404
    app.config["CAS_URL"] = "https://cas.example.edu.cn/cas/"
    html = client.get("/login?next=/review").get_data(as_text=True)
    assert 'href="/login/cas?next=/review"' in html and "统一身份认证登录" in html
    to_cas = client.get("/login/cas?next=/review")
    assert to_cas.status_code == 302
    assert to_cas.headers["Location"] == ("https://cas.example.edu.cn/cas/login?service="
                                          "http%3A%2F%2Flocalhost%2Flogin%2Fcas")
