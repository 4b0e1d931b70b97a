"""Fingerprinted static URLs: every ``url_for('static', ...)`` carries the file's content hash,
so a reverse proxy or browser may cache it for a year and a new release is fetched at once."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

ONE_YEAR = 365 * 24 * 3600


@lru_cache(maxsize=512)
def _fingerprint(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def init_app(app: Flask) -> None:
    static_folder = Path(app.static_folder or "")

    @app.url_defaults
    def _add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint != "static" or "v" in values or "filename" not in values:
            return
        file = static_folder / values["filename"]
        try:
            values["v"] = _fingerprint(str(file), file.stat().st_mtime_ns)
        except OSError:
            return

    @app.after_request
    def _cache_fingerprinted(response: Response) -> Response:
        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.cache_control.public = True
            response.cache_control.max_age = ONE_YEAR
            response.cache_control.immutable = True
        return response
