"""Hostile text planted in notes, deck titles, people's names and departments, and the checks that it stays text."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from review_helpers import make_deck
from webapp.db import session_scope
from webapp.models import Department, User

# Valid cloze notes carrying markup, attribute breakouts, SQL, right-to-left and zero-width characters.
NOTES = [
    '坚持<script>window.__xss=1;alert("xss1")</script>{{c1::<img src=x onerror="window.__xss=2;alert(2)">}}原则',
    '"><img src=x onerror=alert(3)>推进{{c1::<b>x</b>}}高质量发展',
    "'; DROP TABLE notes; --实现{{c1::伟大复兴}}\u202e倒序文字\u200b零宽\u200f",
    "加强{{c1::<svg onload=alert(4)>::<i>提示</i>}}建设{{c2::'); DELETE FROM users; --}}",
]
EXTRA = '{{ 7*7 }}{% raw %}<script>alert("extra")</script>${7*7}'
TITLE = '<script>alert("title")</script>{{ 7*7 }}第11周'
PERSON = '<img src=x onerror=alert("name")>张三'
DEPARTMENT = '=HYPERLINK("http://evil.example","点我")'
FORMULA_NAMES = ["+1+1", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1"]

# Raw markup that must never reach a page unescaped.
RAW_MARKERS = ["<script>alert", "<script>window", "<img src=x", "<b>x</b>", "<svg", "<i>提示"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^-?\d+(\.\d+)?%?$")


def plant(app: Flask, make_user: Any) -> dict[str, int]:
    """A department with a formula for a name, staff with hostile names, a deck of hostile notes assigned to them."""
    ids: dict[str, int] = {}
    ids["boss"] = make_user("boss", role="super_admin", department="党委办公室")
    ids["victim"] = make_user("victim", name=PERSON, department=DEPARTMENT)
    for i, name in enumerate(FORMULA_NAMES):
        make_user(f"formula{i}", name=name, department=DEPARTMENT)
    with session_scope(app) as db:
        dept = db.scalar(select(Department.id).where(Department.name == DEPARTMENT))
    ids["deck"] = make_deck(app, NOTES, key="hostile", title=TITLE, everyone=False, department_id=dept,
                            new_per_day=100)
    with session_scope(app, write=True) as db:
        from webapp.models import Note

        for note in db.scalars(select(Note).where(Note.deck_id == ids["deck"])):
            note.extra = EXTRA
        victim = db.get(User, ids["victim"])
        assert victim is not None and victim.name == PERSON
    return ids


def assert_inert(html: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: unescaped {marker!r}"


def assert_no_formula_cells(rows: list[list[Any]], where: str) -> int:
    """Every text cell that would start a formula carries the leading apostrophe; returns cells checked."""
    checked = 0
    for row in rows:
        for cell in row:
            checked += 1
            if isinstance(cell, str) and cell.startswith(FORMULA_START):
                assert NUMBER.match(cell), f"{where}: formula cell {cell!r}"
    return checked


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
