from __future__ import annotations

from flask import jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import text
from werkzeug.wrappers import Response

from ..db import get_db
from . import bp


@bp.route("/")
def index() -> Response:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("review.today"))


@bp.route("/healthz")
def healthz() -> Response:
    get_db().execute(text("SELECT 1"))
    return jsonify(status="ok")
