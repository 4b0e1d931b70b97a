"""Staff pages: Today (今日) and the review session (复习)."""

from flask import Blueprint

bp = Blueprint("review", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
