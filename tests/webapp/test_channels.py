"""Department group-chat reminders and weekly summaries against a local robot server that checks each
platform's documented format and DingTalk's signature: delivery, retries with backoff, failures on the
jobs page, the 重试 button, and never posting twice."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from admin_helpers import as_admin, post
from channel_helpers import DINGTALK_SECRET, DINGTALK_TOKEN, WECOM_KEY, RobotServer, robot_server
from review_helpers import make_deck
from webapp import jobs
from webapp.channels.sender import Sender
from webapp.db import session_scope
from webapp.mailer import RecordingMailer
from webapp.models import Card, ChannelDelivery, Department, DepartmentChannel, Pause, ReviewState, User
from webapp.services.review import grade_card, issue_token

TZ = "Asia/Shanghai"
DEPT = "马克思主义学院"


def at(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


MONDAY_0730 = at(2026, 11, 30, 7, 30)


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    with robot_server() as server:
        yield server


@pytest.fixture
def staff(app: Flask, make_user: Callable[..., int]) -> dict[str, int]:
    ids = {"zhang": make_user("t1", name="张三", department=DEPT, email="t1@example.edu"),
           "li": make_user("t2", name="李四", department=DEPT),
           "wang": make_user("t3", name="王五", department=DEPT),
           "other": make_user("o1", name="赵六", department="外国语学院")}
    with session_scope(app, write=True) as db:
        db.execute(update(User).where(User.id == ids["wang"]).values(reminder_opt_out=True))
    return ids


def add_channel(app: Flask, kind: str, url: str, secret: str = "", department: str = DEPT,
                enabled: bool = True) -> int:
    with session_scope(app, write=True) as db:
        dept = db.scalar(select(Department).where(Department.name == department))
        channel = DepartmentChannel(department_id=dept.id, kind=kind, webhook_url=url, secret=secret, enabled=enabled)
        db.add(channel)
        db.flush()
        return channel.id


def deliveries(app: Flask) -> list[ChannelDelivery]:
    with session_scope(app) as db:
        return list(db.scalars(select(ChannelDelivery).order_by(ChannelDelivery.id)))


class Delays:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def remind(app: Flask, sender: Sender, now: datetime = MONDAY_0730, base_url: str = "https://tifa.example.edu/",
           mailer: RecordingMailer | None = None) -> str:
    with session_scope(app) as db:
        return jobs.remind(db, mailer or RecordingMailer(), now, tz=TZ, base_url=base_url, channels=sender)


def test_reminder_goes_to_both_platforms_with_due_counts_and_link(app: Flask, staff: dict[str, int],
                                                                    robots: RobotServer) -> None:
    make_deck(app)  # 5 new cards for everyone
    add_channel(app, "wecom", robots.wecom_url)
    add_channel(app, "dingtalk", robots.dingtalk_url, DINGTALK_SECRET)
    add_channel(app, "wecom", robots.wecom_url + "&other=1", department="外国语学院", enabled=False)
    mailer = RecordingMailer()
    summary = remind(app, Sender(sleep=Delays()), mailer=mailer)

    assert [m.to for m in mailer.messages] == [["t1@example.edu"]]  # the email reminder still goes out
    assert [m["kind"] for m in robots.accepted] == ["dingtalk", "wecom"]  # the disabled robot gets nothing
    (wecom,) = robots.texts("wecom")
    (ding,) = robots.texts("dingtalk")
    assert wecom == ding
    assert f"**{DEPT}** 11月30日（周一）" in wecom
    assert "今天有 **2** 人有卡片待复习，共 **10** 张。" in wecom  # 王五 opted out of reminders
    assert "- 张三：5 张" in wecom and "- 李四：5 张" in wecom and "王五" not in wecom and "赵六" not in wecom
    assert "[打开今日复习](https://tifa.example.edu/today)" in wecom
    dingtalk = next(m for m in robots.accepted if m["kind"] == "dingtalk")
    assert dingtalk["payload"]["markdown"]["title"] == f"提法卡：{DEPT}今日复习提醒"
    assert set(dingtalk["query"]) == {"access_token", "timestamp", "sign"}  # signed, and the server checked it
    assert all(r.content_type.startswith("application/json") for r in robots.requests)
    rows = deliveries(app)
    assert {(r.kind, r.period, r.status, r.attempts) for r in rows} == {("remind", "2026-11-30", "sent", 1)}
    assert "群消息：发送 2" in summary


def test_rerun_and_second_scheduler_never_post_twice(app: Flask, staff: dict[str, int], robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    remind(app, Sender())
    summary = remind(app, Sender(), now=MONDAY_0730 + timedelta(hours=5))  # same study day
    assert len(robots.requests) == 1
    assert "已发过 1" in summary
    # A row already claimed by another process ('pending') is left alone too.
    with session_scope(app, write=True) as db:
        db.execute(update(ChannelDelivery).values(status="pending"))
    remind(app, Sender(), now=MONDAY_0730 + timedelta(hours=6))
    assert len(robots.requests) == 1
    remind(app, Sender(), now=MONDAY_0730 + timedelta(days=1))  # the next day is a new message
    assert len(robots.accepted) == 2 and "12月1日（周二）" in robots.texts("wecom")[1]


def test_nothing_due_posts_nothing(app: Flask, staff: dict[str, int], robots: RobotServer) -> None:
    add_channel(app, "wecom", robots.wecom_url)
    summary = remind(app, Sender())  # no deck assigned: nobody has cards
    assert robots.requests == [] and deliveries(app) == []
    assert "无内容的部门 1" in summary


def test_holiday_pause_posts_nothing(app: Flask, staff: dict[str, int], robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    with session_scope(app, write=True) as db:
        db.add(Pause(name="寒假", kind="寒假", first_day=date(2026, 11, 28), last_day=date(2026, 12, 2)))
    assert "假期暂停" in remind(app, Sender())
    assert robots.requests == [] and deliveries(app) == []


def test_no_robot_leaves_the_summary_as_it_was(app: Flask, staff: dict[str, int]) -> None:
    make_deck(app)
    assert "群消息" not in remind(app, Sender())


def test_http_500_is_retried_with_exponential_backoff(app: Flask, staff: dict[str, int],
                                                       robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    robots.fail("500", "500")
    delays = Delays()
    remind(app, Sender(sleep=delays))
    assert delays.waits == [2.0, 4.0]
    assert len(robots.requests) == 3 and len(robots.accepted) == 1
    (row,) = deliveries(app)
    assert (row.status, row.attempts, row.error) == ("sent", 3, "")


def test_rate_limit_is_retried_and_signature_is_fresh_each_time(app: Flask, staff: dict[str, int],
                                                               robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "dingtalk", robots.dingtalk_url, DINGTALK_SECRET)
    robots.fail("130101")
    clock = iter([time.time() - 30, time.time()])
    delays = Delays()
    remind(app, Sender(sleep=delays, clock=lambda: next(clock)))
    assert delays.waits == [2.0]
    stamps = [r.query["timestamp"] for r in robots.requests]
    assert len(stamps) == 2 and stamps[0] != stamps[1]
    assert deliveries(app)[0].status == "sent"


def test_lasting_failure_is_recorded_and_shown_on_the_jobs_page(app: Flask, client: FlaskClient,
                                                              make_user: Callable[..., int], staff: dict[str, int],
                                                              robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    robots.fail("500", "500", "500", "500")
    delays = Delays()
    summary = remind(app, Sender(sleep=delays))
    assert delays.waits == [2.0, 4.0, 8.0]
    (row,) = deliveries(app)
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.error.startswith("HTTP 500") and WECOM_KEY not in row.error
    assert "失败 1" in summary and "HTTP 500" in summary

    as_admin(client, make_user)
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "群消息发送失败" in html and "检查机器人 Webhook 地址或加签密钥" in html
    failure_row = html[html.index(f'data-delivery="{row.id}"'):]
    failure_row = failure_row[:failure_row.index("</tr>")]
    for text in (DEPT, "企业微信", "复习提醒 2026-11-30", "4 次", "HTTP 500", "重试"):
        assert text in failure_row
    assert WECOM_KEY not in html

    response = post(client, f"/admin/jobs/deliveries/{row.id}/retry", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已重新发送。平台回复：errcode 0，ok" in page
    assert len(robots.accepted) == 1 and deliveries(app)[0].status == "sent" and deliveries(app)[0].attempts == 5
    assert "没有发送失败的群消息" in page
    again = post(client, f"/admin/jobs/deliveries/{row.id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "已经发出或正在发送，未重复发送" in again and len(robots.requests) == 5


def test_sign_mismatch_is_not_retried_and_says_what_to_check(app: Flask, staff: dict[str, int],
                                                             robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "dingtalk", robots.dingtalk_url, "SEC" + "f" * 64)  # not the robot's secret
    delays = Delays()
    remind(app, Sender(sleep=delays))
    (row,) = deliveries(app)
    assert delays.waits == [] and row.attempts == 1 and row.status == "failed"
    assert "errcode 310000" in row.error and "机器人发送签名不匹配" in row.error and "检查加签密钥" in row.error
    assert DINGTALK_TOKEN not in row.error and "SEC" + "f" * 64 not in row.error


def test_stale_timestamp_is_refused_like_dingtalk(app: Flask, staff: dict[str, int], robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "dingtalk", robots.dingtalk_url, DINGTALK_SECRET)
    remind(app, Sender(clock=lambda: time.time() - 3700))  # the server's clock is more than an hour off
    (row,) = deliveries(app)
    assert row.status == "failed" and "签名过期" in row.error and robots.accepted == []


def test_slow_robot_times_out_and_is_not_posted_again_blindly(app: Flask, staff: dict[str, int],
                                                               robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    robots.slow_seconds = 1.0
    robots.fail("slow")
    delays = Delays()
    started = time.monotonic()
    remind(app, Sender(timeout=0.3, sleep=delays))
    assert time.monotonic() - started < 1.0
    (row,) = deliveries(app)
    # The robot got the message but answered late: it may have posted it, so no automatic second POST.
    assert (row.status, row.attempts, delays.waits) == ("failed", 1, [])
    assert "0.3 秒内没有回复（超时），消息可能已经发出" in row.error and "127.0.0.1" in row.error
    assert WECOM_KEY not in row.error
    time.sleep(1.0)
    assert len(robots.accepted) == 1  # it had indeed been posted, once


def test_unreachable_robot_error_hides_the_key(app: Flask, staff: dict[str, int]) -> None:
    make_deck(app)
    with robot_server() as gone:
        url = gone.wecom_url  # the port is closed once the server stops
    add_channel(app, "wecom", url)
    remind(app, Sender(backoff=(), timeout=2))
    (row,) = deliveries(app)
    assert row.status == "failed" and "无法连接 127.0.0.1" in row.error and WECOM_KEY not in row.error


def grade(app: Flask, user_id: int, card_id: int, quality: int, now: datetime) -> None:
    with session_scope(app) as db:
        user = db.get(User, user_id)
        version = db.scalar(select(ReviewState.version).where(ReviewState.user_id == user_id,
                                                             ReviewState.card_id == card_id)) or 0
        token = issue_token(app.config["SECRET_KEY"], user_id, card_id, version)
        grade_card(db, app.config["SECRET_KEY"], user, card_id, quality, token, 60000, now, TZ)


def test_weekly_summary_per_department_and_retry_on_the_next_daily_run(app: Flask, staff: dict[str, int],
                                                                       robots: RobotServer) -> None:
    deck = make_deck(app, ["推进{{c1::高质量发展}}", "“{{c1::十年禁渔}}”成效显著"])
    with session_scope(app) as db:
        cards = list(db.scalars(select(Card.id).where(Card.deck_id == deck).order_by(Card.id)))
    grade(app, staff["zhang"], cards[0], 5, at(2026, 11, 24, 9))
    grade(app, staff["zhang"], cards[1], 5, at(2026, 11, 25, 9))
    grade(app, staff["li"], cards[0], 4, at(2026, 11, 25, 20))
    add_channel(app, "wecom", robots.wecom_url)
    add_channel(app, "dingtalk", robots.dingtalk_url, DINGTALK_SECRET)
    robots.fail("93000")  # the first robot (钉钉, by name order) refuses
    monday = at(2026, 11, 30, 8, 0)
    with session_scope(app) as db:
        summary = jobs.weekly_report(db, RecordingMailer(), monday, tz=TZ, base_url="https://tifa.example.edu",
                                     channels=Sender(sleep=Delays()))
    (text,) = robots.texts("wecom")
    assert f"**{DEPT}** 2026-W48（11-23 至 11-29）" in text
    assert "参加学习：**2** / 3 人" in text and "复习 **3** 次，共 3 分钟" in text
    assert "张三（2 天）、李四（1 天）" in text and "还有 1 人没有学习" in text
    assert "赵六" not in text
    assert "群消息：发送 1，失败 1" in summary
    failed = [r for r in deliveries(app) if r.status == "failed"]
    assert [(r.kind, r.period) for r in failed] == [("weekly_report", "2026-W48")]
    assert "errcode 93000" in failed[0].error

    # Tuesday's daily reminder run posts the week's failed report again (and its own reminder).
    remind(app, Sender(sleep=Delays()), now=at(2026, 12, 1, 7, 30))
    ding = [m["payload"]["markdown"] for m in robots.accepted if m["kind"] == "dingtalk"]
    assert [m["title"] for m in ding] == [f"提法卡：{DEPT}今日复习提醒", f"提法卡：{DEPT}学习周报 2026-W48"]
    assert all(r.status == "sent" for r in deliveries(app))
    # A later run finds nothing left to post.
    before = len(robots.requests)
    remind(app, Sender(), now=at(2026, 12, 1, 9, 0))
    assert len(robots.requests) == before


def test_scheduled_run_uses_configured_timeout_and_base_url(app: Flask, staff: dict[str, int],
                                                             robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    add_channel(app, "wecom", robots.wecom_url, department="外国语学院")
    app.config.update(BASE_URL="https://study.example.edu", CHANNEL_TIMEOUT=0.3)
    robots.slow_seconds = 1.0
    robots.fail("slow")  # 外国语学院 (first by name) answers too late
    outcome = jobs.run_job(app, "remind", now=MONDAY_0730, mailer=RecordingMailer())
    assert outcome.status == "ok" and "群消息：发送 1，失败 1" in outcome.summary
    assert "0.3 秒内没有回复" in outcome.summary
    time.sleep(1.0)
    texts = robots.texts("wecom")
    assert len(texts) == 2 and all("[打开今日复习](https://study.example.edu/today)" in t for t in texts)
    assert not jobs.run_job(app, "remind", now=MONDAY_0730 + timedelta(hours=1), mailer=RecordingMailer()).ran
    assert len(robots.requests) == 2


def test_two_schedulers_at_once_post_once(app: Flask, staff: dict[str, int], robots: RobotServer) -> None:
    import threading

    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    add_channel(app, "dingtalk", robots.dingtalk_url, DINGTALK_SECRET)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            remind(app, Sender())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(m["kind"] for m in robots.accepted) == ["dingtalk", "wecom"]
    assert len(robots.requests) == 2 and len(deliveries(app)) == 2


def test_failure_leaves_the_jobs_page_once_a_later_message_gets_through(
        app: Flask, client: FlaskClient, make_user: Callable[..., int], staff: dict[str, int],
        robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    robots.fail("93000")
    remind(app, Sender())
    as_admin(client, make_user)
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "errcode 93000" in html and "Webhook 地址无效或机器人已被移出群" in html
    remind(app, Sender(), now=MONDAY_0730 + timedelta(days=1))  # the next day's reminder reaches the group
    assert [r.status for r in deliveries(app)] == ["failed", "sent"]
    assert len(robots.accepted) == 1 and "12月1日" in robots.texts("wecom")[0]  # yesterday's is not re-posted
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "errcode 93000" not in html and "没有发送失败的群消息" in html


def test_message_left_mid_post_is_shown_and_only_retried_by_hand(
        app: Flask, client: FlaskClient, make_user: Callable[..., int], staff: dict[str, int],
        robots: RobotServer) -> None:
    make_deck(app)
    add_channel(app, "wecom", robots.wecom_url)
    remind(app, Sender())
    # As if the process had stopped during the POST an hour ago: the row stays 'pending'.
    with session_scope(app, write=True) as db:
        db.execute(update(ChannelDelivery).values(status="pending", updated_at=datetime.now(UTC) - timedelta(hours=1)))
    remind(app, Sender(), now=MONDAY_0730 + timedelta(hours=2))
    assert len(robots.requests) == 1  # never re-posted on its own: it may have gone out
    as_admin(client, make_user)
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "发送中断" in html and "消息可能已经发出" in html
    (row,) = deliveries(app)
    page = post(client, f"/admin/jobs/deliveries/{row.id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "已重新发送" in page and len(robots.accepted) == 2 and deliveries(app)[0].status == "sent"
