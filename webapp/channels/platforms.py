"""Each platform's robot message format, DingTalk's signature, reply reading, masking and validation.

Pure functions (no Flask, no database, no network), following the platforms' published robot docs:

* WeCom group robot: POST ``{"msgtype": "markdown", "markdown": {"content": ...}}`` to
  ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``; content at most 4096 bytes of UTF-8.
* DingTalk custom robot: POST ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}`` to
  ``https://oapi.dingtalk.com/robot/send?access_token=TOKEN``; in 加签 mode add ``&timestamp=MS&sign=SIGN``
  where SIGN is urlencode(base64(HMAC-SHA256(key=secret, msg=f"{MS}\\n{secret}"))); DingTalk refuses a
  timestamp more than an hour off.

Both answer ``{"errcode": 0, "errmsg": "ok"}``; any other errcode is a refusal whose errmsg says why.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

WECOM = "wecom"
DINGTALK = "dingtalk"
KINDS = (WECOM, DINGTALK)
LABELS = {WECOM: "企业微信", DINGTALK: "钉钉"}

#: WeCom's documented markdown limit; DingTalk messages are kept under it too (ours are short).
MAX_BYTES = 4096
ELLIPSIS = "\n……"
#: The query parameter that carries each platform's credential (a secret: masked wherever shown).
CREDENTIAL_PARAM = {WECOM: "key", DINGTALK: "access_token"}
EXAMPLE_URL = {WECOM: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
               DINGTALK: "https://oapi.dingtalk.com/robot/send?access_token=…"}
DINGTALK_SECRET = re.compile(r"^SEC[0-9A-Za-z]{8,197}$")
MAX_URL = 1000
#: What to do, for the jobs page and the test button.
ADVICE = "检查机器人 Webhook 地址或加签密钥（在“群机器人”页面修改），然后点“重试”。"

# errcodes worth a Chinese hint next to the platform's own errmsg.
_HINTS = {
    (WECOM, 93000): "Webhook 地址无效或机器人已被移出群：请在群机器人资料中重新复制地址",
    (WECOM, 45009): "发送太频繁（每个机器人每分钟最多 20 条）",
    (DINGTALK, 310000): "签名、关键词或 IP 安全设置不符：检查加签密钥和服务器时间，"
                        "或在机器人安全设置的自定义关键词中加入“提法卡”",
    (DINGTALK, 300001): "access_token 无效：请重新复制机器人的 Webhook 地址",
    (DINGTALK, 400102): "机器人已停用：请在钉钉群设置中启用",
    (DINGTALK, 130101): "发送太频繁（每个机器人每分钟最多 20 条）",
}
#: Refusals that a second try a few seconds later may get past (rate limits, busy servers).
_RETRYABLE = {(WECOM, 45009), (WECOM, -1), (DINGTALK, 130101), (DINGTALK, -1)}


def fit_bytes(text: str, limit: int = MAX_BYTES) -> str:
    """``text`` cut at a character boundary so its UTF-8 is at most ``limit`` bytes (marked with ……)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    return data[:room].decode("utf-8", errors="ignore") + ELLIPSIS


_MARKDOWN_SPECIAL = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "*": "＊", "_": "＿", "`": "｀",
    "#": "＃", "|": "｜", "~": "～", "\\": "＼", "\r": " ", "\n": " ",
})


def plain(text: str) -> str:
    """Text from staff imports made inert in markdown: a name cannot become a link, a heading or a colour."""
    return text.translate(_MARKDOWN_SPECIAL)


def wecom_payload(markdown: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": fit_bytes(markdown)}}


def dingtalk_payload(title: str, markdown: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"title": title, "text": fit_bytes(markdown)}}


def payload(kind: str, title: str, markdown: str) -> dict[str, Any]:
    return dingtalk_payload(title, markdown) if kind == DINGTALK else wecom_payload(markdown)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")), before URL encoding."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The webhook address with DingTalk's timestamp and sign appended (unchanged without a secret)."""
    if not secret:
        return url
    sep = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{sep}timestamp={timestamp_ms}&sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}"


def mask(value: str) -> str:
    """A credential shown only by its last 4 characters."""
    if not value:
        return ""
    return "****" + value[-4:] if len(value) > 12 else "****"


def mask_secret(secret: str) -> str:
    return "SEC" + mask(secret[3:]) if secret.startswith("SEC") else mask(secret)


def mask_url(url: str) -> str:
    """The address with every query value (key, access_token, sign) and any user:password masked."""
    try:
        parts = urlsplit(url)
        query = urlencode([(k, mask(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, query, ""))
    except ValueError:
        return "（地址无法解析）"


def validate(kind: str, url: str, secret: str) -> list[str]:
    """Chinese problems with a channel's settings; an empty list when they are usable."""
    if kind not in KINDS:
        return ["请选择平台：企业微信或钉钉。"]
    label = LABELS[kind]
    errors = []
    url = url.strip()
    if not url:
        errors.append(f"请填写{label}机器人的 Webhook 地址，例如 {EXAMPLE_URL[kind]}")
    elif len(url) > MAX_URL or re.search(r"\s", url):
        errors.append("Webhook 地址过长或含空格、换行：请从机器人设置中重新复制完整地址。")
    else:
        try:
            parts = urlsplit(url)
            # .port raises ValueError for a port that is not a number
            ok = parts.scheme in ("https", "http") and bool(parts.hostname) and (parts.port or 0) >= 0
        except ValueError:
            ok = False
        if not ok:
            errors.append(f"Webhook 地址须以 https:// 或 http:// 开头，例如 {EXAMPLE_URL[kind]}")
        elif not dict(parse_qsl(parts.query)).get(CREDENTIAL_PARAM[kind]):
            errors.append(f"{label}机器人的 Webhook 地址应含 {CREDENTIAL_PARAM[kind]}=…，例如 {EXAMPLE_URL[kind]}"
                          "（请复制机器人设置中的完整地址；是否选错了平台？）")
    secret = secret.strip()
    if kind == WECOM and secret:
        errors.append("企业微信群机器人没有加签密钥：请留空。")
    if kind == DINGTALK and secret and not DINGTALK_SECRET.match(secret):
        errors.append("钉钉加签密钥应以 SEC 开头、只含字母和数字（在机器人“安全设置 → 加签”处复制）。")
    return errors


@dataclass(frozen=True)
class Reply:
    """What the platform answered: ok, or an error in Chinese (with the platform's errmsg) and whether a
    retry a few seconds later may help."""

    ok: bool
    error: str = ""
    retryable: bool = False
    answer: str = ""  # the platform's own words, for the test button


def read_reply(kind: str, status: int, body: bytes) -> Reply:
    """Only the robots' own JSON (errcode/errmsg) is quoted back: an address pointed at some other server
    on the intranet must not turn the test button into a way of reading its pages."""
    if status != 200:
        return Reply(False, f"HTTP {status}", retryable=status >= 500 or status == 429, answer=f"HTTP {status}")
    try:
        data = json.loads(body[:4000].decode("utf-8"))
        code = int(data.get("errcode"))
        message = str(data.get("errmsg", ""))[:500]
    except (ValueError, TypeError, AttributeError):
        return Reply(False, "回复不是机器人接口的格式（没有 errcode）：地址可能不是群机器人的 Webhook",
                     answer="无法识别的回复")
    answer = f"errcode {code}，{message}"
    if code == 0:
        return Reply(True, answer=answer)
    hint = _HINTS.get((kind, code))
    error = f"{LABELS.get(kind, kind)}拒绝（errcode {code}）：{message}" + (f"。{hint}" if hint else "")
    return Reply(False, error[:1000], retryable=(kind, code) in _RETRYABLE, answer=answer)
