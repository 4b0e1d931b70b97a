"""Error pages in Chinese, and JSON errors ``{"code", "message"}`` under /api/."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("bad_request", "请求有误，请检查后重试。"),
    401: ("unauthorized", "请先登录。"),
    403: ("forbidden", "您没有权限访问此页面。"),
    404: ("not_found", "找不到该页面或对象。"),
    405: ("method_not_allowed", "不支持该请求方式。"),
    409: ("conflict", "数据已在别处更新，请刷新后重试。"),
    413: ("too_large", "上传的文件太大（上限 20 MB）。请压缩或拆分后重新上传。"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试。"),
    500: ("internal_error", "服务器内部错误，已记录。请稍后重试。"),
    503: ("unavailable", "数据库暂时不可用，请稍后重试；您的数据没有丢失。"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str | None = None, message: str | None = None) -> Response:
    default_code, default_message = MESSAGES.get(status, ("error", "出错了。"))
    code, message = code or default_code, message or default_message
    if wants_json():
        resp = jsonify(code=code, message=message)
    else:
        resp = Response(render_template("error.html", status=status, message=message), mimetype="text/html")
    resp.status_code = status
    if status == 503:
        resp.headers["Retry-After"] = "2"
    return resp


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(400, "csrf", "页面已过期或缺少安全令牌（CSRF），请刷新页面后重试。")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = None
        if status not in MESSAGES and exc.description:
            message = exc.description
        return error_response(status, message=message)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _db_down(exc: DBAPIError) -> Response:
        log.warning("database unavailable: %s", exc.orig if hasattr(exc, "orig") else exc)
        if getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError):
            return error_response(503)
        log.exception("database error")
        return error_response(500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.path)
        return error_response(500)
