"""Admin pages: materials and decks, staff and departments, progress, background jobs.

Each area is one module; importing it registers its views on ``bp``.
"""

from flask import Blueprint

from .access import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(admin_required)

from . import audit, calendar, channels, decks, home, jobs, materials, progress, staff  # noqa: E402,F401
