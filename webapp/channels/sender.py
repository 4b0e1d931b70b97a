"""POST a markdown message to a robot: a timeout on every request, retries with exponential backoff.

Errors never carry the webhook address: requests' exception texts include the URL (and so the key),
so each failure is described in our own words.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from . import platforms

#: Seconds to wait before the 2nd, 3rd and 4th attempt.
BACKOFF = (2.0, 4.0, 8.0)
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class PostResult:
    ok: bool
    attempts: int
    error: str = ""  # Chinese, masked; what the jobs page shows
    answer: str = ""  # the platform's reply, for the test button


class Sender:
    """Posts to WeCom and DingTalk robots. ``sleep`` and ``clock`` are injectable so tests are fast and
    can sign with a stale timestamp."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, backoff: tuple[float, ...] = BACKOFF,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        self.timeout = timeout
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock

    @classmethod
    def from_config(cls, config: dict) -> Sender:
        return cls(timeout=float(config.get("CHANNEL_TIMEOUT") or DEFAULT_TIMEOUT))

    def post_once(self, kind: str, url: str, secret: str, title: str, markdown: str) -> platforms.Reply:
        # DingTalk checks the timestamp against its clock: sign afresh for every attempt.
        target = platforms.signed_url(url, secret, int(self.clock() * 1000)) if kind == platforms.DINGTALK else url
        body = json.dumps(platforms.payload(kind, title, markdown), ensure_ascii=False).encode("utf-8")
        host = urlsplit(url).hostname or "?"
        try:
            # No redirects: a webhook that redirects would carry the key to another host.
            response = requests.post(target, data=body, timeout=self.timeout, allow_redirects=False,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        except requests.ConnectTimeout:
            return platforms.Reply(False, f"连接 {host} 超时（{self.timeout:g} 秒）", retryable=True, answer="超时")
        except requests.Timeout:
            # The robot had the message and did not answer in time: it may have posted it, so no automatic
            # retry (a duplicate in the group is worse than one the admin re-sends after a look).
            return platforms.Reply(False, f"{host} 在 {self.timeout:g} 秒内没有回复（超时），消息可能已经发出："
                                   "请先看看群里，再决定是否重试", answer="超时")
        except requests.ConnectionError:
            return platforms.Reply(False, f"无法连接 {host}：请检查网络、代理或防火墙是否允许访问", retryable=True,
                                   answer="无法连接")
        except requests.RequestException as exc:
            return platforms.Reply(False, f"请求失败（{exc.__class__.__name__}）", answer=exc.__class__.__name__)
        with response:
            return platforms.read_reply(kind, response.status_code, response.content)

    def post(self, kind: str, url: str, secret: str, title: str, markdown: str, retry: bool = True) -> PostResult:
        """Post, retrying a retryable failure after each delay in ``backoff``; never raises."""
        delays = self.backoff if retry else ()
        attempt = 0
        while True:
            attempt += 1
            reply = self.post_once(kind, url, secret, title, markdown)
            if reply.ok:
                return PostResult(True, attempt, answer=reply.answer)
            if not reply.retryable or attempt > len(delays):
                return PostResult(False, attempt, reply.error, reply.answer)
            self.sleep(delays[attempt - 1])
