"""A 10-second smoke run of bench/load.py against gunicorn + PostgreSQL: multi-process serving works,
no request fails, and every acknowledged grade is in the review log exactly once."""

from __future__ import annotations

import os
import shutil

import pytest

from bench import load

PG_URL = os.environ.get("TIFA_TEST_DATABASE_URL", "")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (set TIFA_TEST_DATABASE_URL)"),
]


def test_gunicorn_postgres_smoke(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("gunicorn", path=os.path.dirname(os.sys.executable)) is None:
        pytest.fail("gunicorn is a test dependency and must be installed next to this Python")
    monkeypatch.setattr(load, "PG_URL", PG_URL)
    result = load.run("gunicorn-postgres", users=8, seconds=10, workers=2, procs=1, cards=300)
    assert result["errors"] == 0, result["error_samples"]
    assert result["round_trips"] > 50
    assert result["logged"] == result["round_trips"]
    assert result["doubled"] == 0
