"""Every route x every role, from ``app.url_map``: who gets in, who is sent to the login page, who is refused.

A route that is not classified in ``ACCESS`` fails the test, so every new route must be classified here.
Path parameters name objects of another department (see ``hardening.world``). Every response, whatever its
status, must carry the security headers; behind a proxy that says https, HSTS too.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from hardening.world import ROLES, World, build_world, client_as

LOGIN, DENY, ALLOW = "login", "deny", "allow"

# Who may do what. "public": everyone; "user": any active signed-in person; "admin": super and department
# admins; "super": super admins only; "assigned": people the object (department B's deck) is assigned to;
# "admin_or_assigned": admins (all published decks) and people it is assigned to.
LEVELS: dict[str, dict[str, str]] = {
    "public": {r: ALLOW for r in ROLES},
    "sso_off": {r: DENY for r in ROLES},  # CAS routes answer 404 while CAS is not configured
    "logout": {r: LOGIN for r in ROLES},  # signing out always lands on the login page
    "user": {"anonymous": LOGIN, "staff": ALLOW, "other_staff": ALLOW, "dept_admin": ALLOW, "super_admin": ALLOW,
             "deactivated": LOGIN},
    "admin": {"anonymous": LOGIN, "staff": DENY, "other_staff": DENY, "dept_admin": ALLOW, "super_admin": ALLOW,
              "deactivated": LOGIN},
    "super": {"anonymous": LOGIN, "staff": DENY, "other_staff": DENY, "dept_admin": DENY, "super_admin": ALLOW,
              "deactivated": LOGIN},
    "assigned": {"anonymous": LOGIN, "staff": DENY, "other_staff": ALLOW, "dept_admin": DENY, "super_admin": DENY,
                 "deactivated": LOGIN},
    "admin_or_assigned": {"anonymous": LOGIN, "staff": DENY, "other_staff": ALLOW, "dept_admin": ALLOW,
                          "super_admin": ALLOW, "deactivated": LOGIN},
}

# (endpoint, method) -> level. Object-scoped admin routes carry department B's objects, so a department
# admin of A is refused there ("super" in effect) while the same page without an object is "admin".
ACCESS: dict[tuple[str, str], str] = {
    ("static", "GET"): "public",
    ("main.healthz", "GET"): "public",
    ("auth.login", "GET"): "public",
    ("auth.login", "POST"): "public",
    ("auth.cas_login", "GET"): "sso_off",
    ("auth.cas_single_logout", "POST"): "public",  # CAS's back-channel: a 400 without a logoutRequest
    ("main.index", "GET"): "user",
    ("auth.change_password", "GET"): "user",
    ("auth.change_password", "POST"): "user",
    ("auth.logout", "POST"): "logout",
    ("review.today", "GET"): "user",
    ("review.review", "GET"): "user",
    ("downloads.index", "GET"): "user",
    ("downloads.all_apkg", "GET"): "user",
    ("downloads.deck_apkg", "GET"): "admin_or_assigned",
    ("api.review_next", "GET"): "user",
    ("api.review_summary", "GET"): "user",
    ("api.review_undo", "POST"): "user",
    ("api.review_grade", "POST"): "assigned",
    ("admin.index", "GET"): "admin",
    ("admin.decks", "GET"): "admin",
    ("admin.deck_editor", "GET"): "super",
    ("admin.deck_assign", "GET"): "admin",
    ("admin.deck_assign", "POST"): "admin",
    ("admin.deck_unassign", "POST"): "super",
    ("admin.note_add", "POST"): "super",
    ("admin.note_edit", "POST"): "super",
    ("admin.note_delete", "POST"): "super",
    ("admin.note_restore", "POST"): "super",
    ("admin.deck_publish", "POST"): "super",
    ("admin.deck_settings", "POST"): "super",
    ("admin.cloze_preview", "POST"): "admin",  # renders posted text only, touches no data
    ("admin.departments", "GET"): "admin",
    ("admin.departments", "POST"): "super",
    ("admin.jobs_page", "GET"): "super",
    ("admin.jobs_run", "POST"): "super",
    ("admin.weekly_report_download", "GET"): "super",
    ("admin.materials", "GET"): "super",
    ("admin.material_cancel", "POST"): "super",
    ("admin.material_confirm", "POST"): "super",
    ("admin.material_upload", "POST"): "super",
    ("admin.progress", "GET"): "admin",
    ("admin.progress_csv", "GET"): "admin",
    ("admin.progress_xlsx", "GET"): "admin",
    ("admin.progress_user", "GET"): "super",
    ("admin.staff", "GET"): "admin",
    ("admin.staff_edit", "GET"): "super",
    ("admin.staff_edit", "POST"): "super",
    ("admin.staff_activate", "POST"): "super",
    ("admin.staff_deactivate", "POST"): "super",
    ("admin.staff_password", "POST"): "super",
    ("admin.staff_role", "POST"): "super",
    ("admin.staff_import", "GET"): "admin",
    ("admin.staff_import", "POST"): "admin",
    ("admin.staff_import_confirm", "POST"): "admin",
    ("admin.staff_new", "GET"): "admin",
    ("admin.staff_new", "POST"): "admin",
    ("admin.audit_log", "GET"): "super",
    ("admin.audit_export", "GET"): "super",
    ("admin.calendar_page", "GET"): "super",
    ("admin.calendar_pause_save", "POST"): "super",
    ("admin.calendar_pause_delete", "POST"): "super",
    ("admin.calendar_term_save", "POST"): "super",
    ("admin.calendar_term_delete", "POST"): "super",
    ("admin.channels_list", "GET"): "admin",
    ("admin.channel_edit", "GET"): "super",  # department B's robots
    ("admin.channel_save", "POST"): "super",
    ("admin.channel_test", "POST"): "super",
    ("admin.channel_delete", "POST"): "super",
    ("admin.channel_retry", "POST"): "super",
}

# Routes that take their CSRF token from somewhere else (the CAS server cannot send one).
CSRF_EXEMPT = {("auth.cas_single_logout", "POST")}
# Runs last: it ends the session the other requests use.
LAST = {("auth.logout", "POST")}

STATIC_FILE = "css/app.css"
JOB_NAME = "snapshot"
CHANNEL_KIND = "wecom"
QUERY = {"admin.progress_csv": "?table=summary"}


def routes(app: Flask) -> list[tuple[Rule, str]]:
    found = [(rule, method) for rule in app.url_map.iter_rules()
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(found, key=lambda rm: ((rm[0].endpoint, rm[1]) in LAST, rm[0].rule, rm[1]))


def fill(rule: Rule, world: World) -> str:
    values: dict[str, Any] = {}
    for arg in rule.arguments:
        if arg == "filename":
            values[arg] = STATIC_FILE
        elif arg == "name":
            values[arg] = JOB_NAME
        elif arg == "kind":
            values[arg] = CHANNEL_KIND
        else:
            values[arg] = world.ids[arg]
    path = rule.build(values, append_unknown=False)
    assert path is not None
    return path[1] + QUERY.get(rule.endpoint, "")


def request(client: FlaskClient, method: str, path: str, token: str | None, body: dict | None = None):  # noqa: ANN201
    if method == "GET":
        return client.get(path)
    if path.startswith("/api/"):
        headers = {"X-CSRFToken": token} if token else {}
        return client.post(path, json=body or {}, headers=headers)
    return client.post(path, data={"csrf_token": token} if token else {})


def grade_body(app: Flask, world: World, role: str, endpoint: str) -> dict | None:
    """For the grade route, a token correctly signed for this person and department B's card: as if a grade
    token leaked, the card must still be refused to anyone it is not assigned to."""
    if endpoint != "api.review_grade" or role not in world.usernames:
        return None
    from helpers import get_user
    from webapp.services.review import issue_token

    user_id = get_user(app, world.usernames[role]).id
    return {"quality": 4, "token": issue_token(app.config["SECRET_KEY"], user_id, world.ids["card_id"], 0)}


def outcome(response: Any, path: str) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status == 401 or (status == 302 and location.split("?")[0].endswith("/login")):
        return LOGIN
    if status in (403, 404):
        return DENY
    return ALLOW


def check_headers(response: Any, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("default-src") == "default-src 'self'", where
    for name in ("script-src", "style-src"):
        assert "unsafe-inline" not in directives.get(name, ""), where
    assert "frame-ancestors 'none'" in csp, where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")


def test_every_route_is_classified(app: Flask) -> None:
    unclassified = [(r.endpoint, m, r.rule) for r, m in routes(app) if (r.endpoint, m) not in ACCESS]
    assert not unclassified, f"classify these routes in tests/hardening/test_access_matrix.py ACCESS: {unclassified}"
    stale = set(ACCESS) - {(r.endpoint, m) for r, m in routes(app)}
    assert not stale, f"routes in ACCESS that no longer exist: {stale}"


@pytest.mark.parametrize("role", ROLES)
def test_route_by_role(app: Flask, make_user: Any, role: str, counts: Any) -> None:
    world = build_world(app, make_user)
    client, token = client_as(app, world, role)
    wrong: list[str] = []
    for rule, method in routes(app):
        level = ACCESS.get((rule.endpoint, method))
        if level is None:
            continue  # reported by test_every_route_is_classified
        path = fill(rule, world)
        response = request(client, method, path, token, grade_body(app, world, role, rule.endpoint))
        response.close()
        where = f"{role} {method} {path}"
        assert response.status_code < 500, f"{where}: {response.status_code}"
        check_headers(response, where)
        counts.add("header_checks")
        expected = LEVELS[level][role]
        got = outcome(response, path)
        if got != expected:
            wrong.append(f"{where}: expected {expected}, got {got} ({response.status_code} "
                         f"{response.headers.get('Location', '')})")
        counts.add("route_role_checks")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ["staff", "super_admin"])
def test_every_post_refuses_missing_or_wrong_csrf(app: Flask, make_user: Any, role: str, counts: Any) -> None:
    """No token, and a token from another session: 400 before the view runs, for every POST route."""
    world = build_world(app, make_user)
    client, _token = client_as(app, world, role)
    _other_client, other_token = client_as(app, world, "other_staff")
    posts = [(r, m) for r, m in routes(app) if m == "POST" and (r.endpoint, m) not in CSRF_EXEMPT]
    assert len(posts) >= 25
    for rule, method in posts:
        path = fill(rule, world)
        for token in (None, other_token, "x" * 40):
            response = request(client, method, path, token)
            assert response.status_code == 400, f"{role} POST {path} with token {token!r}: {response.status_code}"
            body = response.get_data(as_text=True)
            assert "CSRF" in body, f"{path}: {body[:200]}"
            counts.add("csrf_probes")
    # The session is still signed in and nothing was logged out or changed by the refused requests.
    assert client.get("/today").status_code == 200


def test_hsts_only_behind_https_proxy(db_url: str, tmp_path: Any, make_user: Any, app: Flask, counts: Any) -> None:
    """TIFA_PROXY_COUNT=1 + X-Forwarded-Proto: https gives HSTS and a Secure cookie; plain http neither."""
    from webapp import create_app

    build_world(app, make_user)
    proxied = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret",
                          "INSTANCE_PATH": str(tmp_path / "instance"), "SCHEDULER": False, "PROXY_COUNT": 1})
    client = proxied.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.1", "X-Forwarded-Host": "tifa.example.edu.cn"}
    token = _login_over(client, https)
    plain = proxied.test_client()
    _login_over(plain, {})
    gets = [(r, m) for r, m in routes(proxied) if m == "GET" and "<" not in r.rule or r.endpoint == "static"]
    for rule, _method in gets:
        path = fill(rule, World(ids={}))
        response = client.get(path, headers=https)
        response.close()
        assert response.headers.get("Strict-Transport-Security", "").startswith("max-age="), path
        check_headers(response, path)
        bare = plain.get(path)
        bare.close()
        assert "Strict-Transport-Security" not in bare.headers, path
        counts.add("header_checks", 2)
    assert token
    from webapp.db import get_engine

    get_engine(proxied).dispose()


def _login_over(client: FlaskClient, headers: dict[str, str]) -> str:
    import re

    page = client.get("/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "boss", "password": "correct-horse-7", "csrf_token": token},
                           headers={**headers, "Referer": "https://tifa.example.edu.cn/login"} if headers else {})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    cookie = response.headers.get("Set-Cookie", "")
    assert ("Secure" in cookie) == bool(headers), cookie
    return token
