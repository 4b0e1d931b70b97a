"""Helpers for the admin tests: log in with a role, post forms with the page's CSRF token, a material."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from helpers import csrf_token, login

SEED = Path(__file__).resolve().parent.parent / "seeds" / "2023-2024-1-week11.txt"
TERM = "2023-2024学年第一学期"


def material_text(paragraphs: int = 4) -> str:
    """The seed material's title and first paragraphs (enough for a few dozen notes, quick to extract)."""
    lines = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    return "\n".join(lines[: paragraphs + 1]) + "\n"


def as_admin(client: FlaskClient, make_user: Any, username: str = "boss", role: str = "super_admin",
             department: str | None = "党委办公室") -> int:
    user_id = make_user(username, role=role, department=department)
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return user_id


def post(client: FlaskClient, url: str, data: dict | None = None, **kw: Any):  # noqa: ANN201
    """POST a form as a browser would, with the session's CSRF token."""
    payload = dict(data or {})
    payload["csrf_token"] = csrf_token(client, "/admin/")
    return client.post(url, data=payload, **kw)


def post_multipart(client: FlaskClient, url: str, form: dict[str, Any]):  # noqa: ANN201
    """POST a multipart form encoded in memory (the test client's own encoder leaves a temp file open
    for bodies over 500 KB when the app never reads them, e.g. a 413)."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import stream_encode_multipart

    payload = {k: FileStorage(v[0], filename=v[1]) if isinstance(v, tuple) else v for k, v in form.items()}
    payload["csrf_token"] = csrf_token(client, "/admin/")
    stream, _length, boundary = stream_encode_multipart(payload, use_tempfile=False)
    return client.post(url, data=stream.getvalue(), content_type=f"multipart/form-data; boundary={boundary}")


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def upload(client: FlaskClient, text: str, *, week: int = 11, filename: str | None = None,
           data: bytes | None = None, identity: str = "", title: str = ""):  # noqa: ANN201
    """Upload a material (pasted text, or a file when filename is given) and return the preview response."""
    import io

    form: dict[str, Any] = {"title": title, "term": TERM, "week": str(week), "identity": identity}
    if filename:
        form["file"] = (io.BytesIO(data if data is not None else text.encode("utf-8")), filename)
    else:
        form["text"] = text
    return post_multipart(client, "/admin/materials/upload", form)
