from __future__ import annotations

import io
import re
from collections.abc import Sequence

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from cards.anki import ExportError, apkg_bytes, deck_name

from ..db import get_db
from ..models import DECK_PUBLISHED, Deck
from ..services.anki_export import load_export_decks, to_export_deck
from ..services.visibility import assigned_deck_ids, visible_decks
from . import bp

APKG_MIMETYPE = "application/apkg"


def _downloadable() -> list[Deck]:
    db = get_db()
    if current_user.is_admin:
        query = select(Deck).where(Deck.status == DECK_PUBLISHED).order_by(Deck.term, Deck.week, Deck.id)
    else:
        query = visible_decks(current_user)
    return list(db.scalars(query))


def _send(deck_ids: Sequence[int], filename: str) -> Response:
    try:
        data = apkg_bytes(load_export_decks(get_db(), deck_ids=deck_ids))
    except ExportError as exc:
        flash(exc.message, "error")
        return redirect(url_for("downloads.index"))
    # send_file writes filename* (RFC 5987) for the Chinese name, so phones keep it.
    return send_file(io.BytesIO(data), mimetype=APKG_MIMETYPE, as_attachment=True, download_name=filename)


def _filename(title: str) -> str:
    cleaned = re.sub(r'[\\/:*?"<>|\s]+', "_", title).strip("_") or "tifa"
    return f"{cleaned}.apkg"


@bp.route("/")
@login_required
def index() -> str:
    decks = _downloadable()
    return render_template("downloads/index.html", decks=decks,
                           names={d.id: deck_name_for(d) for d in decks})


def deck_name_for(deck: Deck) -> str:
    return deck_name(to_export_deck(deck))


@bp.route("/<int:deck_id>/anki.apkg")
@login_required
def deck_apkg(deck_id: int) -> Response:
    db = get_db()
    deck = db.get(Deck, deck_id)
    if deck is None:
        abort(404)
    if not current_user.is_admin:
        allowed = db.scalar(select(Deck.id).where(Deck.id == deck_id, Deck.id.in_(assigned_deck_ids(current_user))))
        if allowed is None:
            abort(404)  # do not tell staff which other decks exist
    week = f"第{deck.week}周_" if deck.week else ""
    return _send([deck.id], _filename(f"提法卡_{week}{deck.title}"))


@bp.route("/all.apkg")
@login_required
def all_apkg() -> Response:
    decks = _downloadable()
    if not decks:
        flash("还没有可以下载的卡组。", "error")
        return redirect(url_for("downloads.index"))
    return _send([d.id for d in decks], "提法卡_全部卡组.apkg")
