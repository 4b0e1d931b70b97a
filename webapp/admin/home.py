from __future__ import annotations

from flask import render_template

from . import bp


@bp.route("/")
def index() -> str:
    return render_template("admin/index.html")
