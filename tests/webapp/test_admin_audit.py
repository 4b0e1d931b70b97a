"""Audit log: written by every admin action, browsed and exported (CSV with BOM, formulas neutralised)."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask

from admin_helpers import as_admin, post
from helpers import csrf_token, login
from webapp.db import session_scope
from webapp.models import User
from webapp.services.audit import audit, csv_bytes, safe_cell


def _fill(app: Flask, actor_id: int, n: int, action: str = "user.update", **details) -> None:  # noqa: ANN003
    with session_scope(app, write=True) as db:
        actor = db.get(User, actor_id)
        for i in range(n):
            audit(db, actor, action, "user", i, **details)


def test_browse_filter_and_paginate(app: Flask, client, make_user) -> None:  # noqa: ANN001
    boss = as_admin(client, make_user)
    other = make_user("other", role="super_admin", name="另一位")
    _fill(app, boss, 60)
    _fill(app, other, 3, action="deck.publish")
    page1 = client.get("/admin/audit").get_data(as_text=True)
    assert "共 63 条" in page1 and page1.count('data-action="') == 50 and "下一页" in page1
    assert client.get("/admin/audit?page=2").get_data(as_text=True).count('data-action="') == 13
    published = client.get("/admin/audit?action=deck.publish").get_data(as_text=True)
    assert published.count('data-action="deck.publish"') == 3 and "共 3 条" in published
    by_name = client.get("/admin/audit?actor=另一位").get_data(as_text=True)
    assert "共 3 条" in by_name
    assert "共 60 条" in client.get("/admin/audit?actor=boss").get_data(as_text=True)


def test_export_is_utf8_with_bom_and_neutralises_formulas(app: Flask, client, make_user) -> None:  # noqa: ANN001
    boss = as_admin(client, make_user)
    with session_scope(app, write=True) as db:
        actor = db.get(User, boss)
        actor.name = "@管理员"
        audit(db, actor, "user.update", "user", "=cmd|' /C calc'!A0", name={"before": "-2+3", "after": "张三"})
    resp = client.get("/admin/audit.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["时间", "操作人工号", "操作人", "操作"]
    assert rows[1][2] == "'@管理员" and rows[1][3] == "修改人员"
    assert rows[1][5] == "'=cmd|' /C calc'!A0"
    assert rows[1][6] == "name: -2+3 → 张三"  # does not start with a formula character: left as is


@pytest.mark.parametrize(("value", "expected"), [("=1+1", "'=1+1"), ("+86", "'+86"), ("-5", "'-5"),
                                                 ("@SUM(A1)", "'@SUM(A1)"), ("张三", "张三"), (None, "")])
def test_safe_cell(value, expected) -> None:  # noqa: ANN001
    assert safe_cell(value) == expected
    assert csv_bytes(["h"], [[value]]).decode("utf-8-sig").splitlines()[1].strip('"') == expected


def test_admin_actions_are_audited_with_before_and_after(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    uid = make_user("s1")
    post(client, f"/admin/staff/{uid}", {"name": "新名", "email": "", "department_id": ""})
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "修改人员" in html and "用户s1 → 新名" in html


@pytest.mark.parametrize("role", ["anonymous", "staff", "dept_admin"])
def test_only_super_admins_see_the_log(client, make_user, role: str) -> None:  # noqa: ANN001
    if role != "anonymous":
        make_user("u1", role=role)
        login(client, "u1")
    for url in ("/admin/audit", "/admin/audit.csv"):
        resp = client.get(url)
        if role == "anonymous":
            assert resp.status_code == 302 and "/login" in resp.headers["Location"]
        else:
            assert resp.status_code == 403


def test_admin_home_links_every_area(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    html = client.get("/admin/").get_data(as_text=True)
    for link in ("link-materials", "link-decks", "link-staff", "link-import", "link-departments", "link-audit"):
        assert f'id="{link}"' in html
    # Areas from other modules are linked when they are installed.
    assert ('id="link-progress"' in html) == ("admin.progress" in app.view_functions)
    assert ('id="link-jobs"' in html) == ("admin.jobs_page" in app.view_functions)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    make_user("sec", role="dept_admin")
    login(client, "sec")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="link-staff"' in html and 'id="link-materials"' not in html and 'id="link-audit"' not in html
