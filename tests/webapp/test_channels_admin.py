"""群机器人 admin pages: set up a department's robots, validation in Chinese, masking, the audit log, the
test message with the platform's answer, and scope (a department admin only touches their departments)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin_helpers import as_admin, post
from channel_helpers import DINGTALK_SECRET, DINGTALK_TOKEN, WECOM_KEY, RobotServer, robot_server
from webapp.db import session_scope
from webapp.models import AuditLog, ChannelDelivery, Department, DepartmentChannel

DEPT = "马克思主义学院"
OTHER = "外国语学院"


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    with robot_server() as server:
        yield server


def dept_id(app: Flask, name: str) -> int:
    with session_scope(app) as db:
        return db.scalar(select(Department.id).where(Department.name == name))


def channels(app: Flask) -> list[DepartmentChannel]:
    with session_scope(app) as db:
        return list(db.scalars(select(DepartmentChannel).order_by(DepartmentChannel.id)))


def audit_rows(app: Flask) -> list[AuditLog]:
    with session_scope(app) as db:
        return list(db.scalars(select(AuditLog).where(AuditLog.action.like("channel.%")).order_by(AuditLog.id)))


@pytest.fixture
def departments(app: Flask, make_user: Callable[..., int]) -> dict[str, int]:
    make_user("m1", department=DEPT)
    make_user("f1", department=OTHER)
    return {DEPT: dept_id(app, DEPT), OTHER: dept_id(app, OTHER)}


def test_super_admin_sets_up_both_robots_masked_everywhere(app: Flask, client: FlaskClient,
                                                           make_user: Callable[..., int],
                                                           departments: dict[str, int], robots: RobotServer) -> None:
    as_admin(client, make_user)
    dept = departments[DEPT]
    listing = client.get("/admin/channels").get_data(as_text=True)
    assert DEPT in listing and OTHER in listing and "未设置" in listing and "群机器人" in listing

    saved = post(client, f"/admin/channels/{dept}/wecom", {"webhook_url": robots.wecom_url, "enabled": "1"},
                 follow_redirects=True)
    assert "已保存马克思主义学院的企业微信群机器人" in saved.get_data(as_text=True)
    post(client, f"/admin/channels/{dept}/dingtalk",
         {"webhook_url": robots.dingtalk_url, "secret": DINGTALK_SECRET, "enabled": "1"})
    (wecom, ding) = channels(app)
    assert (wecom.kind, wecom.webhook_url, wecom.enabled) == ("wecom", robots.wecom_url, True)
    assert (ding.kind, ding.secret) == ("dingtalk", DINGTALK_SECRET)

    for page in (client.get(f"/admin/channels/{dept}"), client.get("/admin/channels"), client.get("/admin/audit")):
        html = page.get_data(as_text=True)
        assert WECOM_KEY not in html and DINGTALK_TOKEN not in html and DINGTALK_SECRET not in html
    edit = client.get(f"/admin/channels/{dept}").get_data(as_text=True)
    assert "key=****5aaa" in edit and "SEC****cdef" in edit
    rows = audit_rows(app)
    assert [r.action for r in rows] == ["channel.save", "channel.save"]
    assert rows[0].details["url"]["after"].endswith("key=****5aaa")
    assert rows[1].details["secret"]["after"] == "SEC****cdef"
    assert all(WECOM_KEY not in str(r.details) and DINGTALK_SECRET not in str(r.details) for r in rows)

    # Blank fields keep what is stored; unticking 启用 disables it.
    post(client, f"/admin/channels/{dept}/dingtalk", {"webhook_url": "", "secret": ""})
    (_, ding) = channels(app)
    assert (ding.webhook_url, ding.secret, ding.enabled) == (robots.dingtalk_url, DINGTALK_SECRET, False)
    assert audit_rows(app)[-1].details["enabled"] == {"before": True, "after": False}
    post(client, f"/admin/channels/{dept}/dingtalk", {"clear_secret": "1", "enabled": "1"})
    assert channels(app)[1].secret == ""

    deleted = post(client, f"/admin/channels/{dept}/wecom/delete", follow_redirects=True)
    assert "已删除" in deleted.get_data(as_text=True)
    assert [c.kind for c in channels(app)] == ["dingtalk"]
    assert audit_rows(app)[-1].action == "channel.delete"
    again = post(client, f"/admin/channels/{dept}/wecom/delete", follow_redirects=True)  # a second click
    assert "没有设置企业微信群机器人" in again.get_data(as_text=True)
    departments_page = client.get("/admin/departments").get_data(as_text=True)
    assert f'href="/admin/channels/{dept}"' in departments_page


@pytest.mark.parametrize(("kind", "form", "message"), [
    ("wecom", {"webhook_url": "ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"}, "https:// 或 http://"),
    ("wecom", {"webhook_url": ""}, "请填写企业微信机器人的 Webhook 地址"),
    ("wecom", {"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=abc"}, "应含 key="),
    ("dingtalk", {"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=abc", "secret": "abc"},
     "应以 SEC 开头"),
    ("wecom", {"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=a", "secret": DINGTALK_SECRET},
     "没有加签密钥"),
], ids=["not-http", "empty", "wrong-platform", "secret-not-SEC", "wecom-with-secret"])
def test_invalid_settings_are_refused_in_chinese(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                                 departments: dict[str, int], kind: str, form: dict[str, str],
                                                 message: str) -> None:
    as_admin(client, make_user)
    response = post(client, f"/admin/channels/{departments[DEPT]}/{kind}", {**form, "enabled": "1"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and "form-error" in html
    assert channels(app) == [] and audit_rows(app) == []


def test_post_without_csrf_is_refused(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                      departments: dict[str, int], robots: RobotServer) -> None:
    as_admin(client, make_user)
    response = client.post(f"/admin/channels/{departments[DEPT]}/wecom", data={"webhook_url": robots.wecom_url})
    assert response.status_code == 400 and channels(app) == []


def test_test_message_shows_the_platforms_answer(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                                 departments: dict[str, int], robots: RobotServer) -> None:
    as_admin(client, make_user)
    dept = departments[DEPT]
    post(client, f"/admin/channels/{dept}/dingtalk",
         {"webhook_url": robots.dingtalk_url, "secret": DINGTALK_SECRET, "enabled": "1"})
    html = post(client, f"/admin/channels/{dept}/dingtalk/test", follow_redirects=True).get_data(as_text=True)
    assert "测试消息已发到马克思主义学院的钉钉群。平台回复：errcode 0，ok" in html
    (message,) = robots.accepted
    assert message["payload"]["markdown"]["title"] == "提法卡：群机器人测试消息"
    assert "马克思主义学院** 的钉钉群机器人设置正确" in message["payload"]["markdown"]["text"]

    robots.fail("310000")
    html = post(client, f"/admin/channels/{dept}/dingtalk/test", follow_redirects=True).get_data(as_text=True)
    assert "测试消息没有发出：钉钉拒绝（errcode 310000）：keywords not in content" in html
    assert "检查机器人 Webhook 地址或加签密钥" in html and DINGTALK_TOKEN not in html
    assert len(robots.requests) == 2  # the test button tries once: the admin is waiting
    tests = [r for r in audit_rows(app) if r.action == "channel.test"]
    assert [t.details["result"] for t in tests][0] == "成功" and "310000" in tests[1].details["result"]


def test_department_admin_manages_only_their_departments(app: Flask, client: FlaskClient,
                                                         make_user: Callable[..., int], departments: dict[str, int],
                                                         robots: RobotServer) -> None:
    as_admin(client, make_user, username="sec", role="dept_admin", department=DEPT)
    mine, other = departments[DEPT], departments[OTHER]
    listing = client.get("/admin/channels").get_data(as_text=True)
    assert DEPT in listing and OTHER not in listing
    ok = post(client, f"/admin/channels/{mine}/wecom", {"webhook_url": robots.wecom_url, "enabled": "1"})
    assert ok.status_code == 302 and len(channels(app)) == 1
    with session_scope(app, write=True) as db:
        db.add(DepartmentChannel(department_id=other, kind="wecom", webhook_url=robots.wecom_url + "&x=1"))
    assert client.get(f"/admin/channels/{other}").status_code == 404
    assert post(client, f"/admin/channels/{other}/wecom", {"webhook_url": robots.wecom_url}).status_code == 404
    assert post(client, f"/admin/channels/{other}/wecom/test").status_code == 404
    assert post(client, f"/admin/channels/{other}/wecom/delete").status_code == 404
    assert robots.requests == [] and len(channels(app)) == 2
    assert channels(app)[1].webhook_url == robots.wecom_url + "&x=1"
    # The jobs page and its 重试 stay with super admins.
    assert client.get("/admin/jobs").status_code == 403
    assert post(client, "/admin/jobs/deliveries/1/retry").status_code == 403


def test_staff_cannot_reach_the_pages(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                      departments: dict[str, int]) -> None:
    as_admin(client, make_user, username="s9", role="staff", department=DEPT)
    assert client.get("/admin/channels").status_code == 403
    assert client.get(f"/admin/channels/{departments[DEPT]}").status_code == 403


def test_department_admin_sees_their_robots_latest_posts_and_failures(
        app: Flask, client: FlaskClient, make_user: Callable[..., int], departments: dict[str, int],
        robots: RobotServer) -> None:
    as_admin(client, make_user, username="sec", role="dept_admin", department=DEPT)
    dept = departments[DEPT]
    post(client, f"/admin/channels/{dept}/wecom", {"webhook_url": robots.wecom_url, "enabled": "1"})
    with session_scope(app, write=True) as db:
        channel_id = db.scalar(select(DepartmentChannel.id))
        db.add_all([ChannelDelivery(channel_id=channel_id, kind="remind", period="2026-11-30", status="failed",
                                    attempts=4, error="HTTP 500"),
                    ChannelDelivery(channel_id=channel_id, kind="weekly_report", period="2026-W48", status="sent",
                                    attempts=1)])
    html = client.get(f"/admin/channels/{dept}").get_data(as_text=True)
    assert "复习提醒 2026-11-30" in html and "发送失败（尝试 4 次）" in html and "HTTP 500" in html
    assert "检查机器人 Webhook 地址或加签密钥" in html and "学习周报 2026-W48" in html and "已发送" in html


def test_audit_log_names_the_robot_actions(app: Flask, client: FlaskClient, make_user: Callable[..., int],
                                           departments: dict[str, int], robots: RobotServer) -> None:
    as_admin(client, make_user)
    post(client, f"/admin/channels/{departments[DEPT]}/wecom", {"webhook_url": robots.wecom_url, "enabled": "1"})
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "设置群机器人" in html and "key=****5aaa" in html and WECOM_KEY not in html
