"""The admin landing page: one link per area the current admin may use."""

from __future__ import annotations

from flask import current_app, render_template, url_for

from . import bp


def _url(endpoint: str) -> str | None:
    # Areas built in other modules are linked once their endpoint exists.
    return url_for(endpoint) if endpoint in current_app.view_functions else None


@bp.route("/")
def index() -> str:
    return render_template("admin/index.html", progress_url=_url("admin.progress"), jobs_url=_url("admin.jobs_page"))
