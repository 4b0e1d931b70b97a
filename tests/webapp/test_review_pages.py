"""Today and review pages: counts per deck, empty states, and nothing inline (CSP default-src 'self')."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import login
from review_helpers import NOON, ReviewClient, make_deck


@pytest.fixture
def staff(app: Flask, client: FlaskClient, make_user: Callable[..., int], monkeypatch: pytest.MonkeyPatch
          ) -> FlaskClient:
    for module in ("webapp.api.review", "webapp.review.routes"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: NOON)
    make_user("p1")
    assert login(client, "p1").status_code == 302
    return client


def number(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}">(\d+)<', html)
    assert match, element_id
    return int(match.group(1))


def test_pages_need_login(client: FlaskClient) -> None:
    for path in ("/today", "/review"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_login_lands_on_today(app: Flask, client: FlaskClient, make_user: Callable[..., int]) -> None:
    make_user("p2")
    resp = login(client, "p2")
    assert client.get(resp.headers["Location"]).headers["Location"].endswith("/today")


def test_today_with_nothing_assigned(staff: FlaskClient) -> None:
    html = staff.get("/today").get_data(as_text=True)
    assert "还没有分配给您的卡组" in html
    assert 'id="start-review"' not in html


def test_today_counts_and_start_button(app: Flask, staff: FlaskClient) -> None:
    make_deck(app, new_per_day=3)
    html = staff.get("/today").get_data(as_text=True)
    assert number(html, "today-new") == 3 and number(html, "today-review") == 0
    assert "开始复习（3 张）" in html and "第11周学习材料" in html and "第 11 周" in html
    assert re.search(r'class="n-unseen">5<', html)
    api = ReviewClient(staff)
    api.grade(api.next(), 2)
    html = staff.get("/today").get_data(as_text=True)
    assert number(html, "today-new") == 2 and number(html, "today-learning") == 1
    assert re.search(r'class="n-learning">1<', html) and re.search(r'class="n-unseen">4<', html)


def test_today_when_everything_is_done(app: Flask, staff: FlaskClient) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}"])
    api = ReviewClient(staff)
    api.grade(api.next(), 5)
    html = staff.get("/today").get_data(as_text=True)
    assert "今天的复习已全部完成" in html and "明天预计复习 1 张" in html
    assert number(html, "today-streak") == 1


def test_pages_have_no_inline_script_or_style_and_assets_are_served(app: Flask, staff: FlaskClient) -> None:
    make_deck(app)
    for path in ("/today", "/review"):
        resp = staff.get(path)
        html = resp.get_data(as_text=True)
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
        assert "<style" not in html and "style=" not in html
        assert not re.search(r"\son[a-z]+=", html), "inline event handler"
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            static = staff.get(asset)
            assert static.status_code == 200, asset
            static.close()
    review = staff.get("/review").get_data(as_text=True)
    assert "js/review.js" in review and "css/review.css" in review
    for label in ("完全忘记", "轻松想起", "撤销", "输入答案"):
        assert label in review
