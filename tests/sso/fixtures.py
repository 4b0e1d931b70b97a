"""The loopback SSO servers as session fixtures; tests/sso/conftest.py and the browser test import them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sso.servers import CasServer, Slapd, slapd_missing, start_cas, start_slapd, stop


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    reason = slapd_missing()
    if reason:
        pytest.skip(reason)
    server = start_slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    stop(server.proc)


@pytest.fixture(scope="session")
def cas_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CasServer]:
    pytest.importorskip("cas_server", reason="django-cas-server is missing: pip install -e '.[test]'")
    server = start_cas(tmp_path_factory.mktemp("cas"))
    yield server
    stop(server.proc)
