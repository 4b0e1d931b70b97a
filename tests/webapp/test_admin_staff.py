"""Staff and departments: create, edit, deactivate, reset passwords, roles, the last super admin, scope."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select

from admin_helpers import as_admin, post
from helpers import PASSWORD, csrf_token, get_user, login
from webapp.db import session_scope
from webapp.models import AuditLog, Department, User
from webapp.services.passwords import needs_rehash, verify_password
from webapp.services.staff import StaffError, set_active, set_role


def _dept(app: Flask, name: str) -> int:
    with session_scope(app) as db:
        return db.scalar(select(Department.id).where(Department.name == name))


def _temp_password(html: str) -> str:
    match = re.search(r'id="temp-password">([^<]+)<', html)
    assert match, html
    return match.group(1)


def _logout(client) -> None:  # noqa: ANN001
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})


def test_create_staff_shows_a_one_time_password_that_must_be_changed(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    dept = _dept(app, "党委办公室")
    resp = post(client, "/admin/staff/new", {"username": "20240001", "name": "张三", "department_id": str(dept),
                                             "email": "zhang@example.edu.cn"})
    assert resp.status_code == 200
    password = _temp_password(resp.get_data(as_text=True))
    user = get_user(app, "20240001")
    assert user.must_change_password and user.department_id == dept and verify_password(user.password_hash, password)
    assert "temp-password" not in client.get(f"/admin/staff/{user.id}").get_data(as_text=True)
    dup = post(client, "/admin/staff/new", {"username": "20240001", "name": "李四", "department_id": str(dept)})
    assert dup.status_code == 400 and "已存在" in dup.get_data(as_text=True)
    bad = post(client, "/admin/staff/new", {"username": "x1", "name": "王五", "email": "not-an-email"})
    assert bad.status_code == 400 and "邮箱" in bad.get_data(as_text=True)
    _logout(client)
    assert needs_rehash(user.password_hash)  # a light hash for a random temporary password...
    resp = login(client, "20240001", password)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/password")
    assert not needs_rehash(get_user(app, "20240001").password_hash)  # ...upgraded at the first login


def test_edit_deactivate_and_reactivate(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    uid = make_user("s1", department="外国语学院")
    dept = _dept(app, "党委办公室")
    resp = post(client, f"/admin/staff/{uid}", {"name": "新名字", "email": "", "department_id": str(dept)})
    assert resp.status_code == 302
    user = get_user(app, "s1")
    assert user.name == "新名字" and user.department_id == dept
    assert post(client, f"/admin/staff/{uid}/deactivate").status_code == 302
    assert get_user(app, "s1").active is False
    with session_scope(app) as db:
        actions = list(db.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions == ["user.update", "user.deactivate"]
    other = app.test_client()
    resp = login(other, "s1")
    assert resp.status_code == 403 and "已停用" in resp.get_data(as_text=True)
    assert "s1" not in client.get("/admin/staff").get_data(as_text=True)
    assert 'data-username="s1"' in client.get("/admin/staff?inactive=1").get_data(as_text=True)
    post(client, f"/admin/staff/{uid}/activate")
    assert login(other, "s1").status_code == 302


def test_reset_password_forces_a_change_and_unlocks(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    uid = make_user("s1")
    with session_scope(app, write=True) as db:
        db.get(User, uid).failed_logins = 7
    resp = post(client, f"/admin/staff/{uid}/password")
    password = _temp_password(resp.get_data(as_text=True))
    user = get_user(app, "s1")
    assert user.must_change_password and user.failed_logins == 0
    assert verify_password(user.password_hash, password) and not verify_password(user.password_hash, PASSWORD)
    with session_scope(app) as db:
        entry = db.scalar(select(AuditLog).where(AuditLog.action == "user.password_reset"))
        assert password not in str(entry.details)


def test_roles_and_the_last_super_admin(app: Flask, client, make_user) -> None:  # noqa: ANN001
    boss = as_admin(client, make_user)
    uid = make_user("s1", department="外国语学院")
    dept = _dept(app, "外国语学院")
    post(client, f"/admin/staff/{uid}/role", {"role": "dept_admin", "managed": str(dept)})
    user = get_user(app, "s1")
    with session_scope(app) as db:
        assert db.get(User, uid).role == "dept_admin"
        assert [d.name for d in db.get(User, uid).managed_departments] == ["外国语学院"]
        entry = db.scalar(select(AuditLog).where(AuditLog.action == "user.role"))
        assert entry.details["before"]["role"] == "staff" and entry.details["after"]["departments"] == ["外国语学院"]
    assert user.role == "dept_admin"
    # The only super admin can neither demote nor deactivate themself.
    resp = post(client, f"/admin/staff/{boss}/role", {"role": "staff"})
    assert resp.status_code == 400 and "最后一位超级管理员" in resp.get_data(as_text=True)
    resp = post(client, f"/admin/staff/{boss}/deactivate")
    assert resp.status_code == 400
    assert get_user(app, "boss").role == "super_admin" and get_user(app, "boss").active
    # With a second super admin, the first may step down.
    post(client, f"/admin/staff/{uid}/role", {"role": "super_admin"})
    assert post(client, f"/admin/staff/{boss}/role", {"role": "staff"}).status_code == 302
    assert get_user(app, "boss").role == "staff"


def test_last_super_admin_rule_in_the_service(app: Flask, make_user) -> None:
    a = make_user("a", role="super_admin")
    b = make_user("b", role="super_admin")
    with session_scope(app, write=True) as db:
        set_active(db, db.get(User, a), db.get(User, b), False)  # b deactivated: a is the last one
    with session_scope(app, write=True) as db:
        actor = db.get(User, a)
        with pytest.raises(StaffError, match="最后一位"):
            set_role(db, actor, actor, "staff", [])
        with pytest.raises(StaffError, match="不能停用自己"):
            set_active(db, actor, actor, False)


def test_departments_create_and_rename(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    assert post(client, "/admin/departments", {"name": "新部门"}).status_code == 302
    dept = _dept(app, "新部门")
    assert post(client, "/admin/departments", {"name": "新部门"}).status_code == 400
    assert post(client, "/admin/departments", {"department_id": str(dept), "name": "改名部门"}).status_code == 302
    assert _dept(app, "改名部门") == dept


# --- access and scope ------------------------------------------------------------------------------

STAFF_ROUTES = [("get", "/admin/staff"), ("get", "/admin/staff/new"), ("get", "/admin/staff/{u}"),
                ("post", "/admin/staff/{u}"), ("post", "/admin/staff/{u}/deactivate"),
                ("post", "/admin/staff/{u}/password"), ("post", "/admin/staff/{u}/role"),
                ("get", "/admin/departments"), ("post", "/admin/departments"), ("get", "/admin/staff/import")]


@pytest.mark.parametrize("role", ["anonymous", "staff"])
def test_staff_routes_keep_out_non_admins(app: Flask, client, make_user, role: str) -> None:  # noqa: ANN001
    uid = make_user("target")
    if role == "staff":
        make_user("u1")
        login(client, "u1")
    for method, pattern in STAFF_ROUTES:
        url = pattern.format(u=uid)
        if method == "get":
            resp = client.get(url)
        else:
            resp = post(client, url, {"name": "x", "role": "super_admin"}) if role == "staff" else client.post(url)
        if role == "anonymous":
            assert resp.status_code in (302, 400), url
            if resp.status_code == 302:
                assert "/login" in resp.headers["Location"]
        else:
            assert resp.status_code == 403, url
    target = get_user(app, "target")
    assert target.active and target.role == "staff" and target.name == "用户target"


def test_dept_admin_sees_and_changes_only_their_departments(app: Flask, client, make_user) -> None:  # noqa: ANN001
    mine = make_user("mine", department="马克思主义学院")
    theirs = make_user("theirs", department="外国语学院")
    as_admin(client, make_user, username="sec", role="dept_admin", department="马克思主义学院")
    listing = client.get("/admin/staff").get_data(as_text=True)
    assert 'data-username="mine"' in listing and 'data-username="theirs"' not in listing
    assert client.get(f"/admin/staff?department={_dept(app, '外国语学院')}").get_data(as_text=True).count(
        "data-username=") == 0
    # Changing the id in the URL does not reach another department's staff.
    assert client.get(f"/admin/staff/{theirs}").status_code == 404
    for url in (f"/admin/staff/{theirs}", f"/admin/staff/{theirs}/deactivate", f"/admin/staff/{theirs}/password"):
        assert post(client, url, {"name": "被改了", "department_id": str(_dept(app, "外国语学院"))}).status_code == 404
    assert post(client, f"/admin/staff/{theirs}/role", {"role": "staff"}).status_code == 403
    other = get_user(app, "theirs")
    assert other.active and other.name == "用户theirs" and not other.must_change_password
    # Nor can they move their own staff into another department, or create staff there.
    resp = post(client, f"/admin/staff/{mine}", {"name": "甲", "department_id": str(_dept(app, "外国语学院"))})
    assert resp.status_code == 400 and get_user(app, "mine").department_id == _dept(app, "马克思主义学院")
    resp = post(client, "/admin/staff/new", {"username": "n1", "name": "乙",
                                             "department_id": str(_dept(app, "外国语学院"))})
    assert resp.status_code == 400 and get_user(app, "n1") is None
    assert post(client, "/admin/departments", {"name": "私设部门"}).status_code == 403
    # Within their department everything works.
    assert post(client, f"/admin/staff/{mine}/deactivate").status_code == 302
    assert get_user(app, "mine").active is False
    assert client.get("/admin/audit").status_code == 403


def test_two_super_admins_demoting_each_other_at_once_leave_one(app: Flask, make_user) -> None:
    """The count of other super admins is read inside the writing transaction (rows locked on PostgreSQL,
    BEGIN IMMEDIATE on SQLite), so the second demotion sees the first and is refused."""
    import threading
    import time

    a = make_user("a", role="super_admin")
    b = make_user("b", role="super_admin")
    first_checked = threading.Event()
    outcome: dict[str, str] = {}

    def demote(actor_id: int, target_id: int, name: str, hold: bool) -> None:
        try:
            with session_scope(app, write=True) as db:
                set_role(db, db.get(User, actor_id), db.get(User, target_id), "staff", [])
                if hold:
                    first_checked.set()
                    time.sleep(0.3)  # the other demotion starts while this one is uncommitted
            outcome[name] = "ok"
        except StaffError as exc:
            outcome[name] = str(exc)
        finally:
            first_checked.set()

    first = threading.Thread(target=demote, args=(a, b, "first", True))
    first.start()
    first_checked.wait(10)
    second = threading.Thread(target=demote, args=(b, a, "second", False))
    second.start()
    first.join(20)
    second.join(20)
    assert outcome["first"] == "ok"
    # Refused either way: b is no longer a super admin (SQLite reads after the commit) or would be the
    # last one's demoter of the last (PostgreSQL re-checks the locked rows after the commit).
    assert outcome["second"] in ("只有超级管理员可以修改角色。",
                                 "这是最后一位超级管理员，不能取消其超级管理员角色：请先任命另一位超级管理员。")
    assert get_user(app, "a").role == "super_admin" and get_user(app, "b").role == "staff"
