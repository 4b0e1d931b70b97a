"""Anki package (.apkg) export of Tifa decks.

Pure Python: plain dataclasses in, an .apkg out; no Flask, no database.

How a re-import behaves in Anki (2.1.50+ / 23.10+ importer, default options):
- notes are matched by GUID (= hash of the note's stable key), so wording edits update the note in
  place and keep its cards' review history;
- a note is updated only when the incoming modification time is *newer* than the one in the
  collection, so every note carries its own last-edit time (whole seconds, see ``note_mtime``),
  never the export time: unchanged notes are skipped, edited ones updated;
- Anki never deletes on import, so retired notes are still exported, tagged ``tifa::retired``;
- Anki files notes into decks by *name* (it gives decks ids of its own), so a renamed material
  becomes a new deck for its new notes, while cards already imported stay where they are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import io
import itertools
import math
import os
import re
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import genanki

from cards import cloze

__all__ = [
    "DECK_ROOT",
    "MODEL_ID",
    "MODEL_NAME",
    "RETIRED_TAG",
    "ExportDeck",
    "ExportError",
    "ExportNote",
    "ExportSummary",
    "apkg_bytes",
    "build_package",
    "cloze_field_html",
    "deck_id",
    "deck_name",
    "next_modified",
    "note_guid",
    "note_mtime",
    "note_tags",
    "plain_field_html",
    "write_apkg",
]

# Fixed forever: Anki identifies the note type by this id, so changing it would make every
# re-import create a second note type and duplicate every note.
MODEL_ID = 1_607_392_319
MODEL_NAME = "提法填空 (Tifa)"
# Version stamp of the templates/CSS below. Anki replaces its copy of the note type only when the
# incoming one is newer, so bump this (to the current Unix time) whenever TEMPLATE/CSS change;
# keeping it fixed otherwise leaves a user's own tweaks to the note type alone on every re-import.
MODEL_MTIME = 1_795_910_400  # 2026-11-29T00:00:00Z

DECK_ROOT = "政治学习"
TAG_PREFIX = "tifa"
RETIRED_TAG = f"{TAG_PREFIX}::retired"

# Anki renders {{Subdeck}} as the last component of the deck name, i.e. "第11周 <title>": the
# header needs no extra field, and stays right in every Anki client.
FRONT_TEMPLATE = """\
<div class="tifa-header">{{Subdeck}}</div>
<div class="tifa-text">{{cloze:Text}}</div>
"""

BACK_TEMPLATE = """\
<div class="tifa-header">{{Subdeck}}</div>
<div class="tifa-text">{{cloze:Text}}</div>
<hr id="answer">
{{#Extra}}<div class="tifa-extra"><span class="tifa-label">原文</span>{{Extra}}</div>{{/Extra}}
{{#Source}}<div class="tifa-source"><span class="tifa-label">出处</span>{{Source}}</div>{{/Source}}
"""

# Desktop and AnkiMobile put .nightMode on the card, AnkiDroid .night_mode: style both.
CSS = """\
.card {
  font-family: "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Source Han Sans SC",
    "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif;
  font-size: 21px;
  line-height: 1.75;
  text-align: left;
  color: #1f2328;
  background-color: #fbfaf7;
  max-width: 40em;
  margin: 0 auto;
  padding: 12px 16px;
  word-break: break-word;
  -webkit-text-size-adjust: 100%;
}
.tifa-header {
  font-size: 14px;
  line-height: 1.5;
  color: #8a5a44;
  border-bottom: 1px solid #e6dfd6;
  padding-bottom: 6px;
  margin-bottom: 14px;
}
.tifa-text { margin: 8px 0; }
.cloze { font-weight: 700; color: #b3261e; }
.cloze-inactive { color: inherit; }
.tifa-extra, .tifa-source { font-size: 17px; margin-top: 12px; color: #3d4148; }
.tifa-source { font-size: 14px; color: #6b6f76; }
.tifa-label {
  display: inline-block;
  font-size: 12px;
  color: #fff;
  background: #a0522d;
  border-radius: 3px;
  padding: 0 6px;
  margin-right: 8px;
  vertical-align: 2px;
  line-height: 1.6;
}
hr#answer { border: none; border-top: 1px dashed #d8d0c5; margin: 16px 0 4px; }
.card.nightMode, .card.night_mode, .nightMode .card, .night_mode .card {
  color: #e6e1da;
  background-color: #1e1f22;
}
.nightMode .tifa-header, .night_mode .tifa-header { color: #d9a386; border-bottom-color: #3a3b3f; }
.nightMode .cloze, .night_mode .cloze { color: #ff8a80; }
.nightMode .cloze-inactive, .night_mode .cloze-inactive { color: inherit; }
.nightMode .tifa-extra, .night_mode .tifa-extra { color: #cfcac3; }
.nightMode .tifa-source, .night_mode .tifa-source { color: #9a968f; }
.nightMode .tifa-label, .night_mode .tifa-label { background: #7a3e22; color: #f3e9e2; }
.nightMode hr#answer, .night_mode hr#answer { border-top-color: #3a3b3f; }
@media (max-width: 480px) {
  .card { font-size: 19px; padding: 8px 10px; }
  .tifa-extra { font-size: 16px; }
}
"""

_SPACE_RE = re.compile(r"\s+")


class ExportError(Exception):
    """Input that cannot become a useful .apkg.

    ``code`` is stable (the web app maps it to an API error), ``message`` is Chinese for users,
    ``english`` a short gloss for logs and the CLI (as ``cards.errors.MaterialError`` has).
    """

    def __init__(self, code: str, message: str, english: str, *, deck_key: str | None = None,
                 note_key: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.english = english
        self.deck_key = deck_key
        self.note_key = note_key

    def one_line(self) -> str:
        """Chinese message and English gloss on one line, for the command line."""
        return f"{self.message} / {self.english}"


@dataclass
class ExportNote:
    """One note. ``modified`` must move forward on every change that should reach Anki, retiring
    and un-retiring included (a retire that keeps the old time is skipped by Anki's import, so
    the tag never arrives); store ``next_modified(previous)`` on each edit."""

    key: str  # stable note key -> GUID
    kind: str  # cloze | list | number | term
    text: str  # Anki cloze syntax, plain text (not HTML), e.g. 坚持{{c1::共抓大保护}}
    extra: str  # full source sentence, plain text
    source: str  # human-readable source, plain text
    modified: datetime  # this note's last edit (timezone-aware)
    retired: bool = False


@dataclass
class ExportDeck:
    key: str  # stable deck key -> deck id
    title: str
    term: str
    week: int | None
    notes: list[ExportNote] = field(default_factory=list)


@dataclass(frozen=True)
class ExportSummary:
    decks: int
    notes: int  # including retired ones
    retired: int
    cards: int  # one per cloze number of each note
    size: int  # bytes of the .apkg


class _TifaNote(genanki.Note):
    """A genanki note stamped with its own last-edit time instead of the package's export time."""

    def __init__(self, *, mtime: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.mtime = mtime

    def write_to_db(self, cursor, timestamp: float, deck_id, id_gen) -> None:  # type: ignore[override]
        super().write_to_db(cursor, self.mtime, deck_id, id_gen)


class _TifaModel(genanki.Model):
    """genanki stamps the note type with the export time too; pin it to the template version."""

    def to_json(self, timestamp: float, deck_id):  # type: ignore[override]
        return super().to_json(MODEL_MTIME, deck_id)


def _model() -> genanki.Model:
    # A fresh instance per package: genanki mutates the dicts it is given while serialising.
    return _TifaModel(
        model_id=MODEL_ID,
        name=MODEL_NAME,
        model_type=genanki.Model.CLOZE,
        fields=[
            {"name": "Text", "font": "Noto Sans CJK SC", "size": 20},
            {"name": "Extra", "font": "Noto Sans CJK SC", "size": 18},
            {"name": "Source", "font": "Noto Sans CJK SC", "size": 14},
        ],
        templates=[{"name": "提法填空", "qfmt": FRONT_TEMPLATE, "afmt": BACK_TEMPLATE}],
        css=CSS,
        sort_field_index=0,
    )


def _stable_int(namespace: str, key: str) -> int:
    # 31-bit positive, never the small ids Anki reserves (1 is the Default deck).
    digest = hashlib.sha256(f"tifa:{namespace}:{key}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") & 0x3FFF_FFFF) | 0x4000_0000


def deck_id(deck: ExportDeck) -> int:
    return _stable_int("deck", deck.key)


def note_guid(note: ExportNote) -> str:
    return genanki.guid_for("tifa", note.key)


def note_mtime(modified: datetime) -> int:
    """Anki's note mtime (whole Unix seconds) for an aware datetime."""
    if modified.tzinfo is None or modified.utcoffset() is None:
        raise ExportError("naive_time", "笔记的修改时间缺少时区信息，无法导出。",
                          "note modification time is not timezone-aware")
    return math.floor(modified.timestamp())


def next_modified(previous: datetime | None, now: datetime | None = None) -> datetime:
    """Last-edit time to store for an edit made at ``now``.

    Anki keeps whole-second mtimes and updates a note only when the incoming one is strictly
    newer, so two edits within one second would make the second invisible to a re-import. This
    returns ``now`` unless that falls in ``previous``'s second, then the start of the next second.
    """
    now = now or datetime.now(UTC)
    if previous is None or note_mtime(now) > note_mtime(previous):
        return now
    return datetime.fromtimestamp(note_mtime(previous) + 1, UTC)


def _component(value: str) -> str:
    # "::" separates deck levels and tag levels in Anki; runs of whitespace collapse.
    return _SPACE_RE.sub(" ", value.replace("::", "：")).strip()


def deck_name(deck: ExportDeck) -> str:
    """政治学习::<term>::第<week>周 <title> (levels without a value are left out)."""
    title = _component(deck.title) or deck.key
    leaf = f"第{deck.week}周 {title}" if deck.week is not None else title
    parts = [DECK_ROOT, _component(deck.term), leaf]
    return "::".join(p for p in parts if p)


def _tag_component(value: str) -> str:
    # Anki splits tags on whitespace.
    return _SPACE_RE.sub("_", value.replace("::", ":").strip())


def note_tags(deck: ExportDeck, note: ExportNote) -> list[str]:
    tags = []
    if term := _tag_component(deck.term):
        tags.append(f"{TAG_PREFIX}::term::{term}")
    if deck.week is not None:
        tags.append(f"{TAG_PREFIX}::week::{deck.week}")
    tags.append(f"{TAG_PREFIX}::kind::{_tag_component(note.kind)}")
    if note.retired:
        tags.append(RETIRED_TAG)
    return tags


def plain_field_html(text: str) -> str:
    """Plain text -> field HTML: escaped, line breaks kept."""
    return html.escape(text, quote=False).replace("\r\n", "\n").replace("\n", "<br>")


def cloze_field_html(text: str) -> str:
    """Plain cloze text -> field HTML: everything escaped, the {{cN::answer::hint}} markers kept.

    Parsed by ``cards.cloze`` (the web app's parser), so both see the same clozes. A series
    answer without a hint gets the web prompt's count as its hint ("…4项"), so Anki's front
    shows the same cue as the web app's. ValueError (Chinese message) on bad markup.
    """
    out: list[str] = []
    for part in cloze.parse(text):
        if isinstance(part, str):
            out.append(plain_field_html(part))
            continue
        hint = part.hint
        if hint is None and (items := cloze.list_size(part.answer)) > 1:
            hint = f"…{items}项"
        marker = f"{{{{c{part.number}::{plain_field_html(part.answer)}"
        out.append(f"{marker}::{plain_field_html(hint)}}}}}" if hint else f"{marker}}}}}")
    return "".join(out)


def _note_fields(deck: ExportDeck, note: ExportNote) -> tuple[list[str], int]:
    """The note's Text / Extra / Source field HTML and its card count (distinct cloze numbers)."""
    text = note.text.strip()
    try:
        numbers = cloze.validate_cloze(text)
        fields = [cloze_field_html(text), plain_field_html(note.extra.strip()),
                  plain_field_html(note.source.strip())]
    except ValueError as exc:
        raise ExportError(
            "invalid_cloze",
            f"卡组“{deck.title}”中的笔记“{text[:30]}”无法生成卡片：{exc}",
            f"note {note.key!r} has invalid cloze markup",
            deck_key=deck.key, note_key=note.key,
        ) from exc
    return fields, len(numbers)


def _build(decks: Sequence[ExportDeck]) -> tuple[genanki.Package, ExportSummary]:
    """The package and its counts (size still 0: known only once serialised)."""
    if not decks:
        raise ExportError("no_decks", "没有选择要导出的卡组。", "no decks to export")
    model = _model()
    seen_decks: dict[int, str] = {}
    seen_notes: set[str] = set()
    anki_decks = []
    n_notes = n_retired = n_cards = 0
    for deck in decks:
        did = deck_id(deck)
        if did in seen_decks:
            raise ExportError(
                "duplicate_deck", f"卡组“{deck.title}”在导出列表中出现了两次。",
                f"deck {deck.key!r} listed twice", deck_key=deck.key,
            )
        seen_decks[did] = deck.key
        if not any(not n.retired for n in deck.notes):
            raise ExportError(
                "empty_deck", f"卡组“{deck.title}”没有可导出的笔记（有效笔记为 0 条）。",
                f"deck {deck.key!r} has no active notes", deck_key=deck.key,
            )
        anki_deck = genanki.Deck(
            deck_id=did,
            name=deck_name(deck),
            description="由提法卡导出。重新导入会更新已修改的笔记并保留学习记录；"
            "Anki 导入不会删除笔记，已停用的笔记带有 tifa::retired 标签。",
        )
        for note in deck.notes:
            if note.key in seen_notes:
                raise ExportError(
                    "duplicate_note", f"卡组“{deck.title}”中有重复的笔记（同一标识出现两次）。",
                    f"note key {note.key!r} appears twice", deck_key=deck.key, note_key=note.key,
                )
            seen_notes.add(note.key)
            fields, n_note_cards = _note_fields(deck, note)
            anki_deck.add_note(_TifaNote(
                model=model,
                fields=fields,
                tags=note_tags(deck, note),
                guid=note_guid(note),
                mtime=note_mtime(note.modified),
            ))
            n_notes += 1
            n_retired += note.retired
            n_cards += n_note_cards
        anki_decks.append(anki_deck)
    summary = ExportSummary(decks=len(anki_decks), notes=n_notes, retired=n_retired, cards=n_cards, size=0)
    return genanki.Package(anki_decks), summary


def build_package(decks: Sequence[ExportDeck]) -> genanki.Package:
    """A genanki package of ``decks`` (one Anki deck each); raises ExportError on bad input."""
    return _build(decks)[0]


def _package_bytes(package: genanki.Package, timestamp: float | None = None) -> bytes:
    # genanki's own write_to_file leaves its temporary SQLite file behind in /tmp; build the
    # collection in memory instead and zip its serialised bytes.
    timestamp = time.time() if timestamp is None else timestamp
    conn = sqlite3.connect(":memory:")
    try:
        cursor = conn.cursor()
        # Only note/card ids come from this counter; Anki matches notes by GUID, not id.
        package.write_to_db(cursor, timestamp, itertools.count(int(timestamp * 1000)))
        conn.commit()
        db = conn.serialize()
    finally:
        conn.close()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr("collection.anki2", db)
        zf.writestr("media", "{}")
    return buf.getvalue()


def _render(decks: Sequence[ExportDeck]) -> tuple[bytes, ExportSummary]:
    package, summary = _build(decks)
    data = _package_bytes(package)
    return data, dataclasses.replace(summary, size=len(data))


def apkg_bytes(decks: Sequence[ExportDeck]) -> bytes:
    """The .apkg for ``decks`` as bytes (for web downloads)."""
    return _render(decks)[0]


def write_apkg(decks: Sequence[ExportDeck], path: str | os.PathLike[str]) -> ExportSummary:
    """Write the .apkg atomically: on any error nothing is left at (or next to) ``path``."""
    data, summary = _render(decks)
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".tifa-", suffix=".apkg.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return summary
