"""Anki downloads: one deck or every deck a person may see, as .apkg."""

from flask import Blueprint

bp = Blueprint("downloads", __name__, url_prefix="/decks")

from . import routes  # noqa: E402,F401
