"""The admin landing page: one link per area the current admin may use."""

from __future__ import annotations

from flask import render_template

from . import bp


@bp.route("/")
def index() -> str:
    return render_template("admin/index.html")
