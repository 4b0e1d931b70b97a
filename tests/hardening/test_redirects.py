"""Open redirect via ``next``: whatever is posted, the login lands on a path of this site."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask

from helpers import login

HOSTILE_NEXT = ["//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
                "/\n/evil.example", " //evil.example", "/%2F%2Fevil.example", "javascript:alert(1)",
                "http:evil.example",
                "///evil.example", "/\r\n/evil.example", "/%09/evil.example", "\x00//evil.example",
                "data:text/html,<script>alert(1)</script>", "/..//evil.example"]


def browser_target(location: str) -> tuple[str, str]:
    """Where a browser would go: it drops tabs and newlines from URLs and reads backslashes as slashes."""
    cleaned = "".join(ch for ch in location if ch not in "\t\n\r").replace("\\", "/")
    resolved = urlsplit(urljoin("http://tifa.local/login", cleaned))
    return resolved.scheme, resolved.netloc


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_redirects_off_site(app: Flask, make_user: Any, target: str, counts: Any) -> None:
    make_user("walker")
    response = login(app.test_client(), "walker", next_url=target)
    assert response.status_code == 302
    assert browser_target(response.headers["Location"]) == ("http", "tifa.local"), response.headers["Location"]
    counts.add("bad_inputs_tried")
