"""Hardening suite: hypothesis profiles and the counts that SECURITY.md reports (browser fixtures: browser_fixtures).

Profiles: ``ci`` (default, bounded so the suite stays fast), ``dev`` and ``long`` (``HYPOTHESIS_PROFILE=long``
for an overnight run). Every test adds what it tried to ``counts``; at the end of the run the totals are
written to ``test-artifacts/hardening-counts-<database>.json`` (merged with earlier partial runs).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Per-test contributions, so a re-run of one test replaces its own figures instead of adding to them.
_BY_TEST: dict[str, Counter[str]] = {}


class Counts:
    """What one test tried: ``counts.add("bad_inputs", 3)``."""

    def __init__(self, bucket: Counter[str]) -> None:
        self._bucket = bucket

    def add(self, name: str, n: int = 1) -> None:
        self._bucket[name] += n


@pytest.fixture
def counts(request: pytest.FixtureRequest) -> Counts:
    bucket: Counter[str] = Counter()
    _BY_TEST[request.node.nodeid] = bucket
    return Counts(bucket)


@pytest.fixture(scope="session", autouse=True)
def _write_counts(_database: dict) -> Iterator[None]:
    yield
    if not _BY_TEST:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"hardening-counts-{_database['kind']}.json"
    try:
        previous = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    by_test = {**previous.get("by_test", {}), **{k: dict(v) for k, v in _BY_TEST.items()}}
    totals: Counter[str] = Counter()
    for figures in by_test.values():
        totals.update(figures)
    target.write_text(json.dumps({"database": _database["kind"], "totals": dict(sorted(totals.items())),
                                  "by_test": by_test}, ensure_ascii=False, indent=1), encoding="utf-8")
