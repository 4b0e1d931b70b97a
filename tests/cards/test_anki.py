"""cards.anki: the .apkg export, checked by importing it with the official anki package."""

from __future__ import annotations

import html
import io
import json
import os
import re
import sqlite3
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anki_helpers import (
    import_apkg,
    import_into_collection,
    nid_for_guid,
    open_collection,
    stored_notes,
    study,
)
from cards import cloze
from cards.anki import (
    MODEL_ID,
    MODEL_NAME,
    RETIRED_TAG,
    ExportDeck,
    ExportError,
    ExportNote,
    apkg_bytes,
    build_package,
    cloze_field_html,
    deck_id,
    deck_name,
    next_modified,
    note_guid,
    note_mtime,
    note_tags,
    write_apkg,
)

T0 = datetime(2026, 10, 9, 8, 30, 0, 250_000, tzinfo=UTC)
TERM = "2023-2024学年第一学期"
W11 = f"政治学习::{TERM}::第11周 进一步推动长江经济带高质量发展"
W12 = f"政治学习::{TERM}::第12周 学习贯彻党的二十大精神"


def note(key: str, text: str, *, kind: str = "cloze", extra: str = "", source: str = "第1段",
         modified: datetime = T0, retired: bool = False) -> ExportNote:
    return ExportNote(key=key, kind=kind, text=text, extra=extra or text, source=source,
                      modified=modified, retired=retired)


def week11() -> ExportDeck:
    return ExportDeck(
        key="2023-2024-1-w11", title="进一步推动长江经济带高质量发展", term=TERM, week=11,
        notes=[
            note("w11-a", "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}", kind="list",
                 extra="要坚持共抓大保护、不搞大开发，走生态优先、绿色发展之路。",
                 source="进一步推动长江经济带高质量发展 第2段"),
            note("w11-b", "长江{{c1::十年禁渔::四字}}", kind="term", extra="推进长江“十年禁渔”。"),
            note("w11-c", "推动长江经济带发展{{c1::近 8 年}}来", kind="number"),
            note("w11-d", "<b>A&B</b> {{c1::x<y & \"z\"}} 之后"),  # markup is text here, not HTML
            note("w11-old", "{{c1::已经停用}}的提法", retired=True),
        ],
    )


def week12() -> ExportDeck:
    return ExportDeck(
        key="2023-2024-1-w12", title="学习贯彻党的二十大精神", term=TERM, week=12,
        notes=[
            note("w12-a", "{{c1::中国式现代化}}是{{c2::人口规模巨大}}的现代化", kind="cloze"),
            note("w12-b", "全面建成{{c1::社会主义现代化强国}}", kind="term"),
            note("w12-c", "把我国建成{{c1::富强、民主、文明、和谐、美丽}}的社会主义现代化强国", kind="list"),
        ],
    )


def cloze_count(n: ExportNote) -> int:
    return len(cloze.validate_cloze(n.text))


# --- names, ids, tags ---------------------------------------------------------------------------

def test_deck_name_is_root_term_week_title() -> None:
    assert deck_name(week11()) == W11
    no_week = ExportDeck(key="k", title="  专题 学习 ", term=TERM, week=None, notes=[])
    assert deck_name(no_week) == f"政治学习::{TERM}::专题 学习"
    # "::" would add a level in Anki; it is kept as text instead.
    odd = ExportDeck(key="k", title="a::b", term="", week=3, notes=[])
    assert deck_name(odd) == "政治学习::第3周 a：b"


def test_ids_and_guids_are_stable_and_distinct() -> None:
    a, b = week11(), week12()
    assert deck_id(a) == deck_id(week11())
    assert deck_id(a) != deck_id(b)
    assert all(1 < deck_id(d) < 2**31 for d in (a, b))
    guids = {note_guid(n) for n in a.notes + b.notes}
    assert len(guids) == len(a.notes) + len(b.notes)
    edited = note("w11-a", "completely different wording {{c1::x}}")
    assert note_guid(edited) == note_guid(a.notes[0])  # key, not text, decides the GUID


def test_tags_carry_term_week_kind_without_spaces() -> None:
    deck = ExportDeck(key="k", title="t", term="2023-2024 学年 第一学期", week=11, notes=[])
    tags = note_tags(deck, note("n", "{{c1::x}}", kind="list", retired=True))
    assert tags == ["tifa::term::2023-2024_学年_第一学期", "tifa::week::11", "tifa::kind::list", RETIRED_TAG]
    assert not any(" " in t for t in tags)


def test_cloze_field_escapes_text_and_keeps_markers() -> None:
    assert cloze_field_html("<b>A&B</b> {{c1::x<y & z::提示<>}} 后") == (
        "&lt;b&gt;A&amp;B&lt;/b&gt; {{c1::x&lt;y &amp; z::提示&lt;&gt;}} 后"
    )
    plain = "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"
    assert cloze_field_html(plain) == plain


_genre = st.text(alphabet=st.sampled_from("提法坚持发展、，。；：“”《》<>&\"' ab"), max_size=12)


@given(st.lists(st.tuples(_genre, st.integers(1, 5), _genre.filter(lambda s: s.strip())), min_size=1, max_size=4),
       _genre)
def test_cloze_field_round_trips_to_the_plain_text(parts: list[tuple[str, int, str]], tail: str) -> None:
    text = "".join(f"{before}{{{{c{n}::{answer}}}}}" for before, n, answer in parts) + tail
    field = cloze_field_html(text)
    assert "<" not in field and ">" not in field.replace("&gt;", "")
    exported = cloze.parse(html.unescape(field))

    def without_hints(ps: list) -> list:
        return [(p.number, p.answer) if isinstance(p, cloze.Cloze) else p for p in ps]

    assert without_hints(exported) == without_hints(cloze.parse(text))
    for p in exported:  # the only addition: a series answer's item count as its hint
        if isinstance(p, cloze.Cloze):
            items = cloze.list_size(p.answer)
            assert p.hint == (f"…{items}项" if items > 1 else None)


def test_series_answers_get_the_web_prompts_item_count_as_hint() -> None:
    assert cloze_field_html("坚持{{c1::共抓大保护、不搞大开发}}") == "坚持{{c1::共抓大保护、不搞大开发::…2项}}"
    assert cloze_field_html("{{c1::甲、乙::两项}}") == "{{c1::甲、乙::两项}}"  # an explicit hint wins
    assert cloze_field_html("{{c1::“甲、乙”}}") == "{{c1::“甲、乙”}}"  # 、 inside quotes is one item


# --- next_modified ------------------------------------------------------------------------------

def test_next_modified_moves_to_a_later_whole_second() -> None:
    prev = datetime(2026, 1, 1, 0, 0, 0, 100_000, tzinfo=UTC)
    same_second = prev + timedelta(milliseconds=500)
    bumped = next_modified(prev, same_second)
    assert note_mtime(bumped) == note_mtime(prev) + 1
    later = prev + timedelta(seconds=5)
    assert next_modified(prev, later) == later
    assert next_modified(None, later) == later


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("decks", "code"),
    [
        ([], "no_decks"),
        ([ExportDeck(key="e", title="空卡组", term=TERM, week=1, notes=[])], "empty_deck"),
        ([ExportDeck(key="r", title="全停用", term=TERM, week=1, notes=[note("x", "{{c1::a}}", retired=True)])],
         "empty_deck"),
        ([ExportDeck(key="c", title="无挖空", term=TERM, week=1, notes=[note("x", "没有挖空")])], "invalid_cloze"),
        ([ExportDeck(key="c", title="空挖空", term=TERM, week=1, notes=[note("x", "{{c1::}}")])], "invalid_cloze"),
        ([ExportDeck(key="c", title="t", term=TERM, week=1,
                     notes=[note("x", "{{c1::a}}", modified=datetime(2026, 1, 1))])], "naive_time"),
        ([week11(), week11()], "duplicate_deck"),
        ([ExportDeck(key="d", title="t", term=TERM, week=1, notes=[note("x", "{{c1::a}}"), note("x", "{{c1::b}}")])],
         "duplicate_note"),
    ],
)
def test_bad_input_raises_and_writes_nothing(tmp_path: Path, decks: list[ExportDeck], code: str) -> None:
    target = tmp_path / "out.apkg"
    with pytest.raises(ExportError) as info:
        write_apkg(decks, target)
    assert info.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(info.value))  # a Chinese message
    assert info.value.english and info.value.english in info.value.one_line()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError):
        apkg_bytes(decks)


def test_failed_export_leaves_the_previous_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "out.apkg"
    write_apkg([week11()], target)
    before = target.read_bytes()
    with pytest.raises(ExportError):
        write_apkg([], target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.apkg"]


# --- the package itself -------------------------------------------------------------------------

def _package_db(data: bytes, tmp_path: Path) -> sqlite3.Connection:
    db = tmp_path / "collection.anki2"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert set(zf.namelist()) == {"collection.anki2", "media"}
        db.write_bytes(zf.read("collection.anki2"))
    return sqlite3.connect(db)


def test_package_has_the_tifa_model_and_per_note_mtimes(tmp_path: Path) -> None:
    deck = week11()
    deck.notes[1].modified = T0 + timedelta(days=3)
    conn = _package_db(apkg_bytes([deck]), tmp_path)
    models = json.loads(conn.execute("select models from col").fetchone()[0])
    model = models[str(MODEL_ID)]
    assert model["name"] == MODEL_NAME
    assert model["type"] == 1  # cloze
    assert [f["name"] for f in model["flds"]] == ["Text", "Extra", "Source"]
    tmpl = model["tmpls"][0]
    assert "{{cloze:Text}}" in tmpl["qfmt"] and "{{Subdeck}}" in tmpl["qfmt"]
    assert "{{Extra}}" not in tmpl["qfmt"]
    assert tmpl["afmt"].index("{{cloze:Text}}") < tmpl["afmt"].index("{{Extra}}") < tmpl["afmt"].index("{{Source}}")
    for selector in (".nightMode", ".night_mode", "PingFang SC", "Noto Sans CJK SC", "@media"):
        assert selector in model["css"]
    decks = json.loads(conn.execute("select decks from col").fetchone()[0])
    assert decks[str(deck_id(deck))]["name"] == W11
    mods = dict(conn.execute("select guid, mod from notes").fetchall())
    assert mods == {note_guid(n): note_mtime(n.modified) for n in deck.notes}
    assert mods[note_guid(deck.notes[1])] == note_mtime(T0) + 3 * 86400


def test_exports_differ_only_in_what_changed(tmp_path: Path) -> None:
    def rows(decks: list[ExportDeck], sub: str) -> set[tuple]:
        (tmp_path / sub).mkdir()
        conn = _package_db(apkg_bytes(decks), tmp_path / sub)
        return set(conn.execute("select guid, mod, tags, flds from notes"))

    first = rows([week11(), week12()], "1")
    assert rows([week11(), week12()], "2") == first
    edited = week11()
    edited.notes[0].text = "坚持{{c1::共抓大保护}}，{{c2::不搞大开发}}"
    edited.notes[0].modified = next_modified(T0)
    changed = rows([edited, week12()], "3") ^ first
    assert {r[0] for r in changed} == {note_guid(edited.notes[0])}


def test_build_package_returns_one_genanki_deck_per_export_deck() -> None:
    package = build_package([week11(), week12()])
    assert [d.name for d in package.decks] == [W11, W12]
    assert [len(d.notes) for d in package.decks] == [5, 3]


# --- verified by the real Anki ------------------------------------------------------------------

def test_anki_imports_notes_cards_decks_tags_and_fields(tmp_path: Path) -> None:
    decks = [week11(), week12()]
    summary = write_apkg(decks, tmp_path / "tifa.apkg")
    all_notes = [(d, n) for d in decks for n in d.notes]
    assert summary.decks == 2
    assert summary.notes == 8 and summary.retired == 1
    assert summary.cards == sum(cloze_count(n) for _, n in all_notes) == 10
    assert summary.size == (tmp_path / "tifa.apkg").stat().st_size

    col = import_into_collection(tmp_path / "tifa.apkg", tmp_path / "col" / "collection.anki2")
    try:
        assert col.note_count() == 8
        assert col.card_count() == 10
        assert {"政治学习", f"政治学习::{TERM}", W11, W12} <= {d.name for d in col.decks.all_names_and_ids()}
        stored = stored_notes(col)
        assert set(stored) == {note_guid(n) for _, n in all_notes}
        for deck, n in all_notes:
            s = stored[note_guid(n)]
            assert s.fields == {"Text": cloze_field_html(n.text), "Extra": html.escape(n.extra, quote=False),
                                "Source": html.escape(n.source, quote=False)}
            assert s.tags == set(note_tags(deck, n))
            assert s.deck_names == {deck_name(deck)}
            assert len(s.card_ords) == cloze_count(n)  # one card per cloze number
            assert s.mtime == note_mtime(n.modified)
            assert col.get_note(nid_for_guid(col, s.guid)).note_type()["id"] == MODEL_ID
        # Spelled out once, so the check above is not only the code agreeing with itself.
        a = stored[note_guid(decks[0].notes[0])]
        assert a.fields["Text"] == "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"
        assert a.tags == {"tifa::term::2023-2024学年第一学期", "tifa::week::11", "tifa::kind::list"}
        assert a.card_ords == (0, 1)
        assert stored[note_guid(decks[0].notes[3])].fields["Text"] == (
            '&lt;b&gt;A&amp;B&lt;/b&gt; {{c1::x&lt;y &amp; "z"}} 之后'
        )
        assert RETIRED_TAG in stored[note_guid(decks[0].notes[4])].tags
        assert len(col.find_notes(f"tag:{RETIRED_TAG}")) == 1
    finally:
        col.close()


def test_anki_renders_header_cloze_and_back(tmp_path: Path) -> None:
    write_apkg([week11()], tmp_path / "w11.apkg")
    col = import_into_collection(tmp_path / "w11.apkg", tmp_path / "collection.anki2")
    try:
        nid = nid_for_guid(col, note_guid(week11().notes[0]))
        c1, c2 = sorted(col.get_note(nid).cards(), key=lambda c: c.ord)
        front, back = c1.question(), c1.answer()
        assert "第11周 进一步推动长江经济带高质量发展" in front
        assert front.index("第11周") < front.index("[...]")
        assert "共抓大保护" not in front.split("</style>")[-1].replace('data-cloze="共抓大保护"', "")
        assert "不搞大开发" in front  # the other cloze stays visible on card 1
        assert "[...]" in c2.question() and "共抓大保护" in c2.question()
        assert '<span class="cloze" data-ordinal="1">共抓大保护</span>' in back
        assert "要坚持共抓大保护、不搞大开发，走生态优先、绿色发展之路。" in back
        assert "进一步推动长江经济带高质量发展 第2段" in back
        hint = col.get_note(nid_for_guid(col, note_guid(week11().notes[1]))).cards()[0]
        assert "[四字]" in hint.question()
        escaped = col.get_note(nid_for_guid(col, note_guid(week11().notes[3]))).cards()[0]
        assert "&lt;b&gt;A&amp;B&lt;/b&gt;" in escaped.question()  # shown as text, not bold
    finally:
        col.close()


def test_reexport_updates_exactly_the_edited_notes_and_keeps_history(tmp_path: Path) -> None:
    col_path = tmp_path / "col" / "collection.anki2"
    write_apkg([week11(), week12()], tmp_path / "v1.apkg")
    col = import_into_collection(tmp_path / "v1.apkg", col_path)
    try:
        studied = study(col, "政治学习", 4)
        before_cards = {cid: _card_state(col, cid) for cid in col.find_cards("")}
        before_notes = stored_notes(col)
        revlog = col.db.scalar("select count() from revlog")
        assert revlog == 4

        # v2: one wording edit made within the same second as the last edit, one retirement,
        # one new cloze number on a third note; everything else untouched.
        w11, w12 = week11(), week12()
        edited, retired, grown = w11.notes[0], w11.notes[1], w12.notes[1]
        edited.text = "坚持{{c1::共抓大保护}}，{{c2::不搞大开发}}"
        edited.extra = "要坚持共抓大保护、不搞大开发。"
        edited.modified = next_modified(T0, T0 + timedelta(milliseconds=300))
        retired.retired = True
        retired.modified = next_modified(T0, T0 + timedelta(hours=2))
        grown.text = "全面建成{{c1::社会主义现代化强国}}，实现{{c2::第二个百年奋斗目标}}"
        grown.modified = next_modified(T0, T0 + timedelta(days=1))
        summary = write_apkg([w11, w12], tmp_path / "v2.apkg")
        assert summary.retired == 2

        log = import_apkg(col, tmp_path / "v2.apkg")
        changed = {edited.key, retired.key, grown.key}
        assert not log.new
        assert {n.id.nid for n in log.updated} == {nid_for_guid(col, note_guid(n)) for n in (edited, retired, grown)}
        after_notes = stored_notes(col)
        assert col.note_count() == 8
        assert col.card_count() == 11  # the grown note's new cloze number, nothing twice

        e = after_notes[note_guid(edited)]
        assert e.fields["Text"] == "坚持{{c1::共抓大保护}}，{{c2::不搞大开发}}"
        assert e.fields["Extra"] == "要坚持共抓大保护、不搞大开发。"
        assert e.mtime == note_mtime(T0) + 1
        assert RETIRED_TAG in after_notes[note_guid(retired)].tags
        assert after_notes[note_guid(grown)].card_ords == (0, 1)
        for n in w11.notes + w12.notes:
            if n.key not in changed:
                assert after_notes[note_guid(n)] == before_notes[note_guid(n)]  # mtime, fields, tags

        assert col.db.scalar("select count() from revlog") == revlog
        for cid, state in before_cards.items():
            assert _card_state(col, cid) == state, cid  # studied cards keep their schedule
        assert any(col.get_card(cid).nid == nid_for_guid(col, note_guid(edited)) for cid in studied)

        # Importing the same file again changes nothing.
        again = import_apkg(col, tmp_path / "v2.apkg")
        assert not again.new and not again.updated
        assert stored_notes(col) == after_notes
    finally:
        col.close()


def test_reexport_into_a_reopened_collection(tmp_path: Path) -> None:
    col_path = tmp_path / "collection.anki2"
    write_apkg([week11()], tmp_path / "v1.apkg")
    import_into_collection(tmp_path / "v1.apkg", col_path).close()
    deck = week11()
    deck.notes[2].text = "推动长江经济带发展{{c1::8 年}}来"
    deck.notes[2].modified = next_modified(T0, datetime.now(UTC))
    write_apkg([deck], tmp_path / "v2.apkg")
    col = open_collection(col_path)
    try:
        import_apkg(col, tmp_path / "v2.apkg")
        assert stored_notes(col)[note_guid(deck.notes[2])].fields["Text"] == "推动长江经济带发展{{c1::8 年}}来"
        assert col.note_count() == 5
    finally:
        col.close()


def _card_state(col, cid: int) -> tuple:
    c = col.get_card(cid)
    return (c.nid, c.did, c.ord, c.type, c.queue, c.due, c.ivl, c.factor, c.reps, c.lapses, c.mod)


def test_apkg_bytes_and_write_apkg_agree(tmp_path: Path) -> None:
    data = apkg_bytes([week12()])
    (tmp_path / "b.apkg").write_bytes(data)
    col = import_into_collection(tmp_path / "b.apkg", tmp_path / "collection.anki2")
    try:
        assert col.note_count() == 3 and col.card_count() == 4
    finally:
        col.close()
    assert os.path.getsize(tmp_path / "b.apkg") == len(data)


def test_note_type_is_replaced_only_when_its_version_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cards.anki as export

    write_apkg([week11()], tmp_path / "v1.apkg")
    col = import_into_collection(tmp_path / "v1.apkg", tmp_path / "collection.anki2")
    try:
        nt = col.models.get(MODEL_ID)
        assert nt["name"] == MODEL_NAME and nt["mod"] == export.MODEL_MTIME
        nt["css"] += "\n/* 用户自己的调整 */"
        col.models.update_dict(nt)
        # A later export of the same template version leaves the user's tweak alone...
        write_apkg([week11()], tmp_path / "v2.apkg")
        import_apkg(col, tmp_path / "v2.apkg")
        assert "用户自己的调整" in col.models.get(MODEL_ID)["css"]
        # ...a new template version replaces it; either way there is one Tifa note type.
        monkeypatch.setattr(export, "MODEL_MTIME", int(datetime.now(UTC).timestamp()) + 60)
        monkeypatch.setattr(export, "CSS", export.CSS + "\n.tifa-new { color: red; }")
        write_apkg([week11()], tmp_path / "v3.apkg")
        import_apkg(col, tmp_path / "v3.apkg")
        css = col.models.get(MODEL_ID)["css"]
        assert ".tifa-new" in css and "用户自己的调整" not in css
        assert [m.name for m in col.models.all_names_and_ids()].count(MODEL_NAME) == 1
        assert col.note_count() == 5
    finally:
        col.close()


def _text_div(card_html: str) -> str:
    """The visible text of the template's cloze line (tags dropped, entities decoded)."""
    body = re.search(r'<div class="tifa-text">(.*?)</div>', card_html, re.DOTALL)
    assert body, card_html
    return html.unescape(re.sub(r"<[^>]+>", "", body.group(1)))


def _hidden(card_html: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", m))
            for m in re.findall(r'<span class="cloze"[^>]*>(.*?)</span>', card_html, re.DOTALL)]


def test_anki_cards_show_what_the_web_app_shows(tmp_path: Path) -> None:
    decks = [week11(), week12()]
    write_apkg(decks, tmp_path / "all.apkg")
    col = import_into_collection(tmp_path / "all.apkg", tmp_path / "collection.anki2")
    try:
        checked = 0
        for n in (n for d in decks for n in d.notes):
            cards = {c.ord + 1: c for c in col.get_note(nid_for_guid(col, note_guid(n))).cards()}
            assert sorted(cards) == cloze.validate_cloze(n.text)  # same numbering
            for number, card in cards.items():
                prompt, answer = cloze.render_prompt(n.text, number), cloze.render_answer(n.text, number)
                # Anki's bare placeholder is "[...]", the web app's "[…]"; hints and counts match as is.
                front = _text_div(card.question()).replace("[...]", "[…]")
                assert front == _text_div(f'<div class="tifa-text">{prompt}</div>')
                assert _hidden(card.question().replace("[...]", "[…]")) == _hidden(prompt)
                assert _text_div(card.answer()) == _text_div(f'<div class="tifa-text">{answer}</div>')
                assert _hidden(card.answer()) == _hidden(answer)
                checked += 1
        assert checked == 10
        series = col.get_note(nid_for_guid(col, note_guid(decks[1].notes[2]))).cards()[0]
        assert "[…5项]" in series.question()
    finally:
        col.close()
