"""Privilege boundaries around passwords and roles: who may reset whom, and the last super admin stays.

A department admin manages the *staff* of their departments; an administrator who happens to sit in that
department (a super admin, another department admin) is out of reach, or resetting their password would hand
over their rights.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from admin_helpers import as_admin, post, post_multipart
from helpers import get_user, login

DEPT = "党委办公室"


def _hash(app: Flask, username: str) -> tuple[str | None, str, bool, str]:
    user = get_user(app, username)
    return user.password_hash, user.role, user.active, user.name


@pytest.mark.parametrize("action", ["password", "deactivate", "role", "edit"])
def test_department_admin_cannot_touch_an_admin_of_their_department(app: Flask, make_user: Any, action: str,
                                                                    counts: Any) -> None:
    boss = make_user("boss", role="super_admin", department=DEPT)
    make_user("boss2", role="super_admin", department="其他部门")
    peer = make_user("peer", role="dept_admin", department=DEPT)
    client = app.test_client()
    as_admin(client, make_user, "secretary", role="dept_admin", department=DEPT)
    for username, user_id in (("boss", boss), ("peer", peer)):
        before = _hash(app, username)
        url = {"password": f"/admin/staff/{user_id}/password", "deactivate": f"/admin/staff/{user_id}/deactivate",
               "role": f"/admin/staff/{user_id}/role", "edit": f"/admin/staff/{user_id}"}[action]
        response = post(client, url, {"role": "staff", "name": "被改名", "email": ""})
        assert response.status_code in (403, 404), (username, action, response.status_code)
        assert _hash(app, username) == before
        counts.add("privilege_probes")


def test_department_admin_still_manages_their_staff(app: Flask, make_user: Any) -> None:
    staff = make_user("clerk", department=DEPT)
    client = app.test_client()
    as_admin(client, make_user, "secretary", role="dept_admin", department=DEPT)
    before = _hash(app, "clerk")
    response = post(client, f"/admin/staff/{staff}/password")
    assert response.status_code == 200
    assert _hash(app, "clerk")[0] != before[0]


def test_staff_cannot_reset_passwords(app: Flask, make_user: Any, counts: Any) -> None:
    target = make_user("victim", department=DEPT)
    make_user("mallory", department=DEPT)
    client = app.test_client()
    assert login(client, "mallory").status_code == 302
    before = _hash(app, "victim")
    from helpers import csrf_token

    token = csrf_token(client, "/today")
    response = client.post(f"/admin/staff/{target}/password", data={"csrf_token": token})
    assert response.status_code == 403
    assert _hash(app, "victim") == before
    counts.add("privilege_probes")


def test_department_admin_import_cannot_demote_or_rename_an_admin(app: Flask, make_user: Any, counts: Any) -> None:
    make_user("boss", role="super_admin", department=DEPT)
    make_user("boss2", role="super_admin", department="其他部门")
    client = app.test_client()
    as_admin(client, make_user, "secretary", role="dept_admin", department=DEPT)
    before = _hash(app, "boss")
    csv = f"工号,姓名,部门,角色\nboss,被改名,{DEPT},员工\n".encode()
    preview = post_multipart(client, "/admin/staff/import", {"file": (io.BytesIO(csv), "staff.csv")})
    html = preview.get_data(as_text=True)
    assert preview.status_code in (200, 400, 422)
    assert "是管理员" in html
    # The plan must refuse the row; if a token to confirm is offered anyway, confirming must not apply it.
    import re

    token = re.search(r'name="token" value="([^"]*)"', html)
    if token:
        post(client, "/admin/staff/import/confirm", {"token": token.group(1)})
    assert _hash(app, "boss") == before
    counts.add("privilege_probes")


def test_last_super_admin_cannot_be_demoted_or_deactivated(app: Flask, make_user: Any, counts: Any) -> None:
    client = app.test_client()
    boss = as_admin(client, make_user, "boss")
    other = make_user("boss2", role="super_admin", department=DEPT)
    # With two, one may step down; then the remaining one may not.
    assert post(client, f"/admin/staff/{other}/role", {"role": "staff"}).status_code == 302
    response = post(client, f"/admin/staff/{boss}/role", {"role": "staff"})
    assert response.status_code == 400
    assert "最后一位超级管理员" in response.get_data(as_text=True)
    response = post(client, f"/admin/staff/{boss}/deactivate")
    assert response.status_code == 400
    assert get_user(app, "boss").role == "super_admin" and get_user(app, "boss").active
    counts.add("privilege_probes", 2)
