"""Pure parts of the group-chat channels: payload formats, DingTalk's signature, masking, validation,
reply reading and the markdown messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from webapp.channels import messages, platforms

SECRET = "SEC" + "0123456789abcdef" * 4


def test_wecom_payload_is_the_documented_markdown_message() -> None:
    assert platforms.wecom_payload("### 标题\n**加粗**") == {
        "msgtype": "markdown", "markdown": {"content": "### 标题\n**加粗**"}}


def test_dingtalk_payload_has_title_and_text() -> None:
    assert platforms.dingtalk_payload("提法卡", "正文") == {
        "msgtype": "markdown", "markdown": {"title": "提法卡", "text": "正文"}}


@given(st.text(alphabet=st.sampled_from("学习贯彻、，。ab😀\n"), min_size=0, max_size=3000))
def test_content_is_cut_to_4096_utf8_bytes_at_a_character_boundary(text: str) -> None:
    content = platforms.wecom_payload(text)["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    if len(text.encode("utf-8")) <= 4096:
        assert content == text
    else:
        assert content.endswith("……") and text.startswith(content[: -len(platforms.ELLIPSIS)])


def test_dingtalk_sign_matches_the_documented_recipe() -> None:
    stamp = 1577262236757
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256)
                                .digest()).decode()
    assert platforms.dingtalk_sign(SECRET, stamp) == expected
    url = platforms.signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", SECRET, stamp)
    query = parse_qs(urlsplit(url).query)
    assert query == {"access_token": ["abc"], "timestamp": [str(stamp)], "sign": [expected]}
    assert "+" not in url.split("sign=")[1] and "/" not in url.split("sign=")[1]  # URL-encoded base64
    assert platforms.signed_url("https://x/robot/send?access_token=abc", "", stamp).endswith("access_token=abc")


def test_masking_hides_keys_tokens_and_secrets() -> None:
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    masked = platforms.mask_url(url)
    assert masked == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****5aaa"
    assert "693a91f6" not in platforms.mask_url("https://u:p@h:8443/robot/send?access_token=693a91f6abcdefgh")
    assert "u:p" not in platforms.mask_url("https://u:p@h:8443/robot/send?access_token=693a91f6abcdefgh")
    assert platforms.mask_secret(SECRET) == "SEC****cdef"
    assert platforms.mask("short") == "****"


def test_validation_accepts_the_platforms_addresses() -> None:
    assert platforms.validate("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "") == []
    assert platforms.validate("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=abc", SECRET) == []
    assert platforms.validate("dingtalk", "http://10.0.0.5:8080/robot/send?access_token=abc", "") == []


def test_validation_explains_each_mistake_in_chinese() -> None:
    def one(kind: str, url: str, secret: str = "") -> str:
        (error,) = platforms.validate(kind, url, secret)
        return error

    assert "请填写企业微信机器人的 Webhook 地址" in one("wecom", "")
    assert "https:// 或 http://" in one("wecom", "ftp://qyapi.weixin.qq.com/send?key=abc")
    assert "https:// 或 http://" in one("wecom", "javascript:alert(1)?key=abc")
    assert "含空格" in one("wecom", "https://qyapi.weixin.qq.com/send?key=a b")
    assert "应含 key=" in one("wecom", "https://oapi.dingtalk.com/robot/send?access_token=abc")
    assert "应含 access_token=" in one("dingtalk", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc")
    assert "应以 SEC 开头" in one("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=a", "abc123456789")
    assert "没有加签密钥" in one("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=a", SECRET)
    assert "请选择平台" in one("feishu", "https://x/?key=a")


def test_reply_reading() -> None:
    assert platforms.read_reply("wecom", 200, b'{"errcode":0,"errmsg":"ok"}').ok
    refused = platforms.read_reply("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}')
    assert not refused.ok and not refused.retryable
    assert "errcode 310000" in refused.error and "sign not match" in refused.error and "加签密钥" in refused.error
    limited = platforms.read_reply("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}')
    assert limited.retryable and "每分钟最多 20 条" in limited.error
    bad_gateway = platforms.read_reply("wecom", 502, b"<html>bad gateway</html>")
    assert bad_gateway.retryable and bad_gateway.error == "HTTP 502"
    assert platforms.read_reply("wecom", 404, b"").error == "HTTP 404"
    # Another server's page is never quoted back (the address could point anywhere on the intranet).
    other = platforms.read_reply("wecom", 200, b"<html>intranet secrets</html>")
    assert not other.ok and "没有 errcode" in other.error and "intranet" not in other.error + other.answer


def test_reminder_markdown_lists_people_and_links_today() -> None:
    due = [messages.Due(f"人{i:02d}", i) for i in range(1, 14)]
    title, text = messages.reminder("马克思主义学院", date(2026, 11, 30), due, "https://tifa.example.edu/")
    assert title == "提法卡：马克思主义学院今日复习提醒"
    assert "**马克思主义学院** 11月30日（周一）" in text
    assert "今天有 **13** 人有卡片待复习，共 **91** 张。" in text
    assert text.index("- 人13：13 张") < text.index("- 人12：12 张")  # most cards first
    assert "- 人04：4 张" in text and "人03" not in text and "- 等另外 3 人" in text
    assert "[打开今日复习](https://tifa.example.edu/today)" in text
    _, offline = messages.reminder("学院", date(2026, 11, 30), due[:1], "")
    assert "请登录提法卡" in offline and "](" not in offline


def test_names_cannot_inject_markdown() -> None:
    due = [messages.Due("[点我](https://evil.example)<font color=\"warning\">", 3)]
    _, text = messages.reminder("**部门**\n# 标题", date(2026, 11, 30), due, "")
    assert "[点我](" not in text and "<font" not in text and "\n# 标题" not in text
    assert "［点我］（https://evil.example）" in text


def test_reminder_for_a_huge_department_stays_under_the_limit() -> None:
    due = [messages.Due("欧阳" * 40 + str(i), i) for i in range(500)]
    _, text = messages.reminder("部门" * 100, date(2026, 11, 30), due, "https://t.example/")
    assert len(text.encode("utf-8")) <= 4096


def test_weekly_markdown() -> None:
    figures = messages.WeekFigures(staff=12, active=9, reviews=340, minutes=95, retention=0.874,
                                   top=[("张三", 7), ("李四", 6)])
    title, text = messages.weekly("党委办公室", "2026-W48", date(2026, 11, 23), date(2026, 11, 29), figures,
                                  "https://tifa.example.edu")
    assert title == "提法卡：党委办公室学习周报 2026-W48"
    assert "2026-W48（11-23 至 11-29）" in text
    assert "参加学习：**9** / 12 人" in text and "复习 **340** 次，共 95 分钟" in text
    assert "记忆保持率：87%" in text and "张三（7 天）、李四（6 天）" in text
    assert "还有 3 人没有学习" in text and "[打开提法卡](https://tifa.example.edu/today)" in text
