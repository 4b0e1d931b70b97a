"""The admin landing page: one link per area the current admin may use."""

from __future__ import annotations

from flask import current_app, render_template, url_for

from . import bp


def _progress_url() -> str | None:
    # The progress dashboard is built separately; link it once its endpoint exists.
    return url_for("admin.progress") if "admin.progress" in current_app.view_functions else None


@bp.route("/")
def index() -> str:
    return render_template("admin/index.html", progress_url=_progress_url())
