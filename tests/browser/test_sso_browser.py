"""CAS and LDAP login end to end in Debian's Chromium, against slapd and django-cas-server on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sso import fixtures
from sso.servers import CAS_PASSWORD, LDAP_PASSWORD, CasServer, Slapd

from helpers import get_user
from webapp.db import session_scope
from webapp.models import SsoSession

pytestmark = pytest.mark.browser

cas_server = fixtures.cas_server
slapd_server = fixtures.slapd_server


def test_cas_login_and_single_logout_in_the_browser(app: Flask, cas_server: CasServer, live_server: str,
                                                    new_page: Callable[..., Any], make_user, artifacts) -> None:
    app.config.update(CAS_URL=cas_server.url, CAS_VERSION="3")
    make_user("20260001", name="旧名字")
    page = new_page(phone=True)
    page.goto(f"{live_server}/login?next=/today")
    button = page.locator("#cas-login").bounding_box()
    assert button["height"] >= 44 and button["width"] >= 300  # a full-width touch target on a phone
    page.screenshot(path=str(artifacts / "sso-login-page.png"))
    page.click("#cas-login")
    page.wait_for_url(f"{cas_server.url}login*")
    page.fill("#id_username", "20260001")
    page.fill("#id_password", CAS_PASSWORD)
    page.console_errors.clear()  # the test CAS server's pages lack their CDN jQuery; not ours to judge
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/today")  # back at Tifa, where the person was going
    assert page.console_errors == []
    assert page.locator("nav.nav").is_visible()
    page.screenshot(path=str(artifacts / "sso-cas-logged-in.png"))
    assert get_user(app, "20260001").name == "张三"

    # Single logout: logging out at the CAS server ends the Tifa session too.
    page.goto(f"{cas_server.url}logout")
    with session_scope(app) as db:
        assert db.scalar(select(SsoSession.revoked_at)) is not None
    page.console_errors.clear()
    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/login")
    assert page.locator("nav.nav").count() == 0
    assert "您已在统一身份认证中退出登录" in page.content()
    assert page.console_errors == []


def test_ldap_login_in_the_browser(app: Flask, slapd_server: Slapd, live_server: str,
                                   new_page: Callable[..., Any], make_user, artifacts) -> None:
    app.config.update(slapd_server.config())
    make_user("20260001", name="旧名字")
    page = new_page(phone=True)
    page.goto(f"{live_server}/login")
    assert page.locator("#cas-login").count() == 0  # CAS not configured: no button
    page.fill("#username", "20260001")
    page.fill("#password", "wrong-password")
    page.click("form.form button[type=submit]")
    assert "工号或密码错误" in page.content()
    page.fill("#password", LDAP_PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert not page.url.startswith(f"{live_server}/login")
    assert page.locator("nav.nav").is_visible()
    page.screenshot(path=str(artifacts / "sso-ldap-logged-in.png"))
    user = get_user(app, "20260001")
    assert (user.name, user.failed_logins) == ("张三", 0)
    errors = [e for e in page.console_errors if "401" not in e]  # the wrong password's page is a 401 by design
    assert errors == []
