"""A local stand-in for the WeCom and DingTalk robot endpoints: a real HTTP server on 127.0.0.1:0.

It checks each request against the platform's documented robot format (msgtype markdown, the required
keys, WeCom's 4096-byte content limit) and DingTalk's 加签 (recomputes the HMAC, refuses a timestamp more
than an hour off), answers as the platforms do ({"errcode": 0, "errmsg": "ok"} or a refusal), and can be
told to fail the next requests (HTTP 500, an errcode, or a reply slower than the client's timeout).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DINGTALK_TOKEN = "c2ff9d3a6e7b4f0b8a1d5e2f3c4b5a6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"
DINGTALK_SECRET = "SEC" + "0123456789abcdef" * 4

SIGN_MISMATCH = ("description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，"
                 "请确认机器人的密钥加密和填写正确;")
STALE = "description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在 timestampms 以内;"

SCRIPTED_ERRMSG = {"310000": "keywords not in content", "130101": "send too fast, exceed 20 times per minute",
                   "93000": "invalid webhook url"}


@dataclass
class Request:
    path: str
    query: dict[str, str]
    body: bytes
    content_type: str


@dataclass
class RobotServer:
    """What the robots received; ``fail(...)`` scripts the next replies."""

    url: str = ""
    secret: str = DINGTALK_SECRET  # the 加签 secret DingTalk expects ("" = keyword mode, no signature)
    requests: list[Request] = field(default_factory=list)  # every request, accepted or not
    accepted: list[dict[str, Any]] = field(default_factory=list)  # {"kind": ..., "payload": ...}
    script: list[str] = field(default_factory=list)  # "500", "310000", "130101", "93000", "slow"
    slow_seconds: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def wecom_url(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={WECOM_KEY}"

    @property
    def dingtalk_url(self) -> str:
        return f"{self.url}/robot/send?access_token={DINGTALK_TOKEN}"

    def fail(self, *modes: str) -> None:
        with self.lock:
            self.script.extend(modes)

    def texts(self, kind: str) -> list[str]:
        key = "content" if kind == "wecom" else "text"
        return [m["payload"]["markdown"][key] for m in self.accepted if m["kind"] == kind]


def _dingtalk_check(server: RobotServer, query: dict[str, str]) -> tuple[int, str] | None:
    if query.get("access_token") != DINGTALK_TOKEN:
        return 300001, "token is not exist"
    if not server.secret:
        return None
    if "timestamp" not in query or "sign" not in query:
        return 310000, SIGN_MISMATCH
    try:
        stamp = int(query["timestamp"])
    except ValueError:
        return 310000, SIGN_MISMATCH
    if abs(time.time() * 1000 - stamp) > 3600 * 1000:
        return 310000, STALE
    expected = base64.b64encode(hmac.new(server.secret.encode(), f"{stamp}\n{server.secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(query["sign"], expected):  # parse_qs has undone the URL encoding
        return 310000, SIGN_MISMATCH
    return None


def _payload_check(kind: str, data: Any) -> tuple[int, str] | None:
    if not isinstance(data, dict) or data.get("msgtype") != "markdown" or not isinstance(data.get("markdown"), dict):
        return (40008, "invalid message type") if kind == "wecom" else (40035, "缺少参数 msgtype/markdown")
    markdown = data["markdown"]
    if kind == "wecom":
        content = markdown.get("content")
        if not isinstance(content, str) or not content:
            return 41009, "missing markdown content"
        if len(content.encode("utf-8")) > 4096:
            return 40058, "markdown.content exceed max length 4096"
        return None
    if not all(isinstance(markdown.get(k), str) and markdown.get(k) for k in ("title", "text")):
        return 40035, "缺少参数 title 或 text"
    return None


def _handler(server: RobotServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, data: dict[str, Any] | None = None) -> None:
            body = json.dumps(data or {}, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with server.lock:
                server.requests.append(Request(parts.path, query, body, self.headers.get("Content-Type", "")))
                mode = server.script.pop(0) if server.script else ""
            if mode == "slow":
                time.sleep(server.slow_seconds)
            elif mode == "500":
                self._reply(500, {"error": "internal"})
                return
            elif mode:
                self._reply(200, {"errcode": int(mode), "errmsg": SCRIPTED_ERRMSG.get(mode, "error")})
                return
            kind = {"/cgi-bin/webhook/send": "wecom", "/robot/send": "dingtalk"}.get(parts.path)
            if kind is None:
                self._reply(404, {"errcode": 404, "errmsg": "not found"})
                return
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                self._reply(200, {"errcode": 40035, "errmsg": "不合法的参数: content type"})
                return
            if kind == "wecom" and query.get("key") != WECOM_KEY:
                self._reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
                return
            refusal = _dingtalk_check(server, query) if kind == "dingtalk" else None
            try:
                data = json.loads(body.decode("utf-8"))
            except ValueError:
                refusal = refusal or (40035, "不合法的参数: json")
                data = None
            refusal = refusal or _payload_check(kind, data)
            if refusal:
                self._reply(200, {"errcode": refusal[0], "errmsg": refusal[1]})
                return
            with server.lock:
                server.accepted.append({"kind": kind, "payload": data, "query": query})
            self._reply(200, {"errcode": 0, "errmsg": "ok"})

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a slow reply closed its socket: expected here


@contextmanager
def robot_server() -> Iterator[RobotServer]:
    state = RobotServer()
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
