"""Fuzzing with hypothesis: the cloze validator and renderer, the material loader, the staff importer, and the
review API's JSON bodies. Example counts come from the profile in conftest.py (``ci`` bounded; ``long`` for a
night). The text extractor's own properties live in tests/cards/test_cards_properties.py.
"""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import func, select

import cards
from cards.cloze import render_answer, render_prompt, validate_cloze
from helpers import login
from review_helpers import ReviewClient, make_deck
from webapp.db import session_scope
from webapp.models import AuditLog, Department, ReviewLog, ReviewState, User
from webapp.services.review import issue_token
from webapp.services.staff import plan_import

GENRE = "坚持共抓大保护不搞大开发推进高质量发展党的领导、，。；：“”《》"
MARKUP = ["{{", "}}", "::", "c1", "c2", "c0", "c10", "<", ">", "&", '"', "'", "<script>", "</span>", "\u202e", "\u200b"]
cloze_text = st.lists(st.one_of(st.sampled_from(MARKUP), st.text(alphabet=GENRE, max_size=8), st.text(max_size=4)),
                      max_size=14).map("".join)
ALLOWED_TAG = re.compile(r'<span class="cloze">|</span>')


@given(text=cloze_text)
def test_cloze_validator_and_renderer(text: str, counts: Any) -> None:
    """Any text: a Chinese ValueError, or cloze numbers whose rendering holds no markup but our own spans."""
    counts.add("fuzz_cloze_texts")
    try:
        numbers = validate_cloze(text)
    except ValueError as exc:
        assert re.search(r"[\u4e00-\u9fff]", str(exc)), str(exc)
        return
    assert numbers and numbers == sorted(set(numbers)) and all(n >= 1 for n in numbers)
    for n in numbers:
        for html in (render_prompt(text, n), render_answer(text, n)):
            assert "<" not in ALLOWED_TAG.sub("", html), html
            assert '"' not in ALLOWED_TAG.sub("", html)


SUFFIXES = st.sampled_from(["x.txt", "x.docx", "x.pdf", "x.md", "x", "x.doc", "x.exe", "../x.txt"])
payloads = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.text(alphabet=GENRE, max_size=400).map(lambda s: s.encode("gb18030")),
    st.binary(max_size=400).map(lambda b: b"PK\x03\x04" + b),
    st.binary(max_size=400).map(lambda b: b"%PDF-1.4\n" + b),
)


@given(data=payloads, filename=SUFFIXES)
def test_material_loader_refuses_or_returns_text(data: bytes, filename: str, counts: Any) -> None:
    """Any bytes under any name: text, or a MaterialError with a Chinese message and a code; nothing else."""
    counts.add("fuzz_material_files")
    try:
        text = cards.load_material(data, filename)
    except cards.MaterialError as exc:
        assert exc.code and re.search(r"[\u4e00-\u9fff]", exc.message)
        return
    assert isinstance(text, str) and text.strip()


cells = st.one_of(st.text(max_size=12), st.sampled_from(["=1+1", "@SUM(A1)", "管理员", "超级管理员", "员工", "",
                                                        "党委办公室", "a" * 70, "x@y", '"', "\n", "，"]))
HEADERS = ["工号", "姓名", "部门", "邮箱", "角色"]
tables = st.lists(st.lists(cells, min_size=0, max_size=6), min_size=0, max_size=6)


@given(header=st.lists(st.sampled_from([*HEADERS, "", "未知"]), max_size=6), rows=tables,
       delimiter=st.sampled_from([",", "\t", ";", "，"]), encoding=st.sampled_from(["utf-8-sig", "gb18030", "utf-8"]),
       raw=st.one_of(st.none(), st.binary(max_size=300)))
# Found by the long profile: a lone carriage return in a cell made csv.reader raise (a 500 on the import page).
@example(header=[], rows=[["", "\r"]], delimiter="\t", encoding="utf-8-sig", raw=None)
def test_staff_import_plan_never_crashes_or_writes(app: Flask, make_user: Any, header: list[str],
                                                  rows: list[list[str]], delimiter: str, encoding: str,
                                                  raw: bytes | None, counts: Any) -> None:
    counts.add("fuzz_import_files", 2)
    if not hasattr(app, "_fuzz_actor"):
        app._fuzz_actor = make_user("fuzz-secretary", role="dept_admin", department="党委办公室")  # type: ignore[attr-defined]
    out = io.StringIO()
    import csv

    writer = csv.writer(out, delimiter=delimiter if len(delimiter) == 1 else ",")
    for row in [header, *rows]:
        writer.writerow(row)
    data = raw if raw is not None else out.getvalue().encode(encoding, "replace")
    with session_scope(app) as db:
        before = [db.scalar(select(func.count()).select_from(t)) for t in (User, Department, AuditLog)]
        actor = db.get(User, app._fuzz_actor)  # type: ignore[attr-defined]
        for filename in ("staff.csv", "staff.xlsx"):
            plan = plan_import(db, actor, data, filename)
            assert plan.errors or plan.rows or not plan.ok
            for r in plan.rows:
                assert r.action in ("create", "update", "unchanged", None) or r.errors
        db.rollback()
        after = [db.scalar(select(func.count()).select_from(t)) for t in (User, Department, AuditLog)]
    assert after == before


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
              st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(body=st.one_of(
    json_values,
    st.fixed_dictionaries({"quality": json_values, "token": json_values}, optional={"ms": json_values}),
    st.fixed_dictionaries({"quality": st.one_of(st.integers(-3, 9), st.floats(allow_nan=False), st.booleans(),
                                                st.text(max_size=3)),
                           "ms": json_values, "valid_token": st.booleans()}),
), card_shift=st.sampled_from([0, 0, 0, 1, -1, 10**6]))
def test_review_api_bodies_never_500_and_4xx_leaves_state(app: Flask, make_user: Any, body: Any,
                                                          card_shift: int, counts: Any) -> None:
    if not hasattr(app, "_fuzz_client"):
        make_deck(app, [f"第{i}条：推进{{{{c1::高质量发展}}}}" for i in range(200)], new_per_day=1000)
        make_user("fuzzer")
        client = app.test_client()
        login(client, "fuzzer")
        app._fuzz_client = ReviewClient(client)  # type: ignore[attr-defined]
    api: ReviewClient = app._fuzz_client  # type: ignore[attr-defined]
    card = api.next()
    if card is None:  # everything graded: nothing left to fuzz against in this app
        return
    card_id = card["card_id"] + card_shift
    if isinstance(body, dict) and body.pop("valid_token", False):
        with session_scope(app) as db:
            user_id = db.scalar(select(User.id).where(User.username == "fuzzer"))
        body["token"] = issue_token(app.config["SECRET_KEY"], user_id, card_id, 0)
    before = _review_rows(app)
    response = api.post(f"/api/v1/review/{card_id}", body)
    counts.add("fuzz_api_bodies")
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        payload = response.get_json()
        assert payload["code"] and re.search(r"[\u4e00-\u9fff]", payload["message"])
        assert _review_rows(app) == before
    else:
        assert response.status_code == 200


def _review_rows(app: Flask) -> tuple[Any, ...]:
    with session_scope(app) as db:
        return (tuple(db.execute(select(ReviewState.card_id, ReviewState.repetitions, ReviewState.easiness_cents,
                                        ReviewState.interval, ReviewState.due_day, ReviewState.version)
                                 .order_by(ReviewState.card_id)).all()),
                db.scalar(select(func.count()).select_from(ReviewLog)))
