"""JSON API under /api/v1 for the pages, tests and other clients. Errors are {"code", "message"}."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import review  # noqa: E402,F401  (registers the views)
