"""Import .apkg files with the official ``anki`` package (26.x) and read back what Anki stored.

Reusable by any test that needs "does real Anki accept this file?" (e.g. the web download).
anki 26.x has no legacy ``anki.importing``; the Rust importer behind ``import_anki_package`` is
the one Anki desktop runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# anki.collection must be imported before anki.scheduler (circular import inside anki).
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from anki.import_export_pb2 import ImportResponse
from anki.scheduler.v3 import CardAnswer


def open_collection(col_path: str | os.PathLike[str]) -> Collection:
    """A collection at ``col_path`` (created with its folder when missing); close with ``col.close()``."""
    os.makedirs(os.path.dirname(os.path.abspath(col_path)), exist_ok=True)
    return Collection(os.fspath(col_path))


def import_apkg(col: Collection, apkg_path: str | os.PathLike[str]) -> ImportResponse.Log:
    """Import as Anki's import dialog does by default (update notes only when newer)."""
    request = ImportAnkiPackageRequest(
        package_path=os.fspath(apkg_path),
        options=ImportAnkiPackageOptions(with_scheduling=False, with_deck_configs=False),
    )
    log = col.import_anki_package(request).log
    # The importer runs in Anki's Rust backend; the Python side caches note types and would
    # keep serving the pre-import copy (Anki's GUI clears it after every operation too).
    col.models._clear_cache()
    return log


def import_into_collection(apkg_path: str | os.PathLike[str],
                           col_path: str | os.PathLike[str]) -> Collection:
    """Import ``apkg_path`` into the collection at ``col_path`` (fresh when missing); caller closes it."""
    col = open_collection(col_path)
    import_apkg(col, apkg_path)
    return col


def nid_for_guid(col: Collection, guid: str) -> int:
    # Not a "guid:" search: genanki GUIDs hold characters that Anki's search syntax treats specially.
    nid = col.db.scalar("select id from notes where guid = ?", guid)
    assert nid is not None, f"no note with guid {guid!r}"
    return nid


@dataclass(frozen=True)
class StoredNote:
    guid: str
    mtime: int
    tags: frozenset[str]
    fields: dict[str, str]
    deck_names: frozenset[str]
    card_ords: tuple[int, ...]


def stored_notes(col: Collection) -> dict[str, StoredNote]:
    """Every note in ``col`` by GUID, with its cards' ordinals and deck names."""
    out = {}
    for nid in col.find_notes(""):
        note = col.get_note(nid)
        cards = note.cards()
        out[note.guid] = StoredNote(
            guid=note.guid,
            mtime=note.mod,
            tags=frozenset(note.tags),
            fields=dict(note.items()),
            deck_names=frozenset(col.decks.name(c.did) for c in cards),
            card_ords=tuple(sorted(c.ord for c in cards)),
        )
    return out


def study(col: Collection, deck_name: str, count: int,
          rating: CardAnswer.Rating.V = CardAnswer.GOOD) -> list[int]:
    """Answer the next ``count`` queued cards of ``deck_name`` like a user would; returns card ids."""
    col.decks.select(col.decks.id_for_name(deck_name))
    answered = []
    for _ in range(count):
        queued = col.sched.get_queued_cards().cards[0]
        card = col.get_card(queued.card.id)
        card.start_timer()
        col.sched.answer_card(col.sched.build_answer(card=card, states=queued.states, rating=rating))
        answered.append(card.id)
    return answered
