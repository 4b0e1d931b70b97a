"""In Chromium: hostile notes and names on the review page, the deck editor, the staff list and the dashboard.

No dialog may open, no injected element may exist in the DOM, and no injected script may have run (the payloads
set ``window.__xss`` and call ``alert``). The pages are walked as a person would: every card shown, its answer
revealed, graded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from hardening.hostile import plant
from helpers import PASSWORD

pytestmark = pytest.mark.browser

# Elements only the payloads would create: <img src=x>, <svg>, <b>x</b> and <i> inside the card text.
INJECTED = ("() => document.querySelectorAll('img[src=\"x\"], svg, #prompt b, #answer-html b, #prompt i,"
            " #answer-html i, .editor b, td b, script:not([src])').length")
XSS_RAN = "() => window.__xss === undefined ? null : window.__xss"


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_load_state("networkidle")


def watch(page: Any) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def assert_clean(page: Any, dialogs: list[str], where: str) -> None:
    assert dialogs == [], f"{where}: a dialog opened: {dialogs}"
    assert page.evaluate(INJECTED) == 0, f"{where}: injected element in the DOM"
    assert page.evaluate(XSS_RAN) is None, f"{where}: injected script ran"


def test_hostile_text_never_runs_in_chromium(app: Flask, make_user: Any, live_server: str,
                                             new_page: Callable[..., Any], counts: Any) -> None:
    ids = plant(app, make_user)
    page = new_page(phone=True)
    dialogs = watch(page)
    sign_in(page, live_server, "victim")
    page.goto(f"{live_server}/review")
    shown = 0
    page.wait_for_selector("#card:not(.hidden), #done:not(.hidden)")
    while not page.locator("#done").is_visible():
        assert_clean(page, dialogs, f"review prompt {shown}")
        text = page.inner_text("#prompt")
        assert "<" in text or "DROP TABLE" in text or "建设" in text  # the markup is shown as characters
        page.click("#reveal")
        page.wait_for_selector("#grades:not(.hidden)")
        assert_clean(page, dialogs, f"review answer {shown}")
        with page.expect_response(lambda r: "/api/v1/review/" in r.url and r.request.method == "POST"):
            page.click(".grade.g5")
        page.wait_for_function("() => document.querySelector('#answer').classList.contains('hidden')"
                               " || !document.querySelector('#done').classList.contains('hidden')")
        shown += 1
        counts.add("bad_inputs_rendered_in_browser")
    assert shown == 5
    for path in ("/today", "/decks/"):
        page.goto(f"{live_server}{path}")
        assert_clean(page, dialogs, path)
    assert not [e for e in page.console_errors if "Content Security Policy" not in e], page.console_errors

    admin = new_page()
    admin_dialogs = watch(admin)
    sign_in(admin, live_server, "boss")
    for path in (f"/admin/decks/{ids['deck']}", "/admin/staff", "/admin/progress",
                 f"/admin/progress/user/{ids['victim']}", f"/admin/decks/{ids['deck']}/assign"):
        admin.goto(f"{live_server}{path}")
        admin.wait_for_load_state("networkidle")
        assert_clean(admin, admin_dialogs, path)
        counts.add("bad_inputs_rendered_in_browser")
    editor_text = admin.goto(f"{live_server}/admin/decks/{ids['deck']}") and admin.content()
    assert "&lt;script&gt;" in editor_text
