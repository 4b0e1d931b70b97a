"""Review API: next card, grade, undo and today's summary for the signed-in person."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_login import current_user

from ..db import get_db
from ..errors import error_response
from ..models import utcnow
from ..services import review as service
from ..services.queue import day_figures
from . import bp


def api_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Like flask_login's, but answers JSON 401 instead of redirecting to the login page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return error_response(401, "unauthorized", "请先登录后再复习。")
        return view(*args, **kwargs)

    return wrapper


def _now() -> datetime:
    """Aware UTC now; tests (and a dry run) set app.config["CLOCK"] to a callable to move time."""
    clock = current_app.config.get("CLOCK") or utcnow
    return clock()


def _tz() -> str:
    return current_app.config["TIMEZONE"]


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _failed(exc: service.ReviewError) -> Response:
    return error_response(exc.status, exc.code, exc.message)


@bp.get("/review/next")
@api_login_required
def review_next() -> Response:
    today = service.study_day(_now(), _tz())
    payload = service.next_card(get_db(), _secret(), current_user, today)
    if payload is None:
        return Response(status=204)
    resp = jsonify(payload)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/review/<int:card_id>")
@api_login_required
def review_grade(card_id: int) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "bad_request", "请求内容应为 JSON：{\"quality\": 0-5, \"token\": \"…\"}。")
    try:
        result = service.grade_card(get_db(), _secret(), current_user, card_id, body.get("quality"),
                                    body.get("token"), body.get("ms"), _now(), _tz())
    except service.ReviewError as exc:
        return _failed(exc)
    return jsonify(result)


@bp.post("/review/undo")
@api_login_required
def review_undo() -> Response:
    try:
        payload = service.undo_last(get_db(), _secret(), current_user, _now(), _tz())
    except service.ReviewError as exc:
        return _failed(exc)
    return jsonify(payload)


@bp.get("/review/summary")
@api_login_required
def review_summary() -> Response:
    today = service.study_day(_now(), _tz())
    return jsonify(day_figures(get_db(), current_user, today))
