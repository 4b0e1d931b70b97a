"""Fixtures for the SSO tests: slapd and django-cas-server on loopback (one each per run), and a live Tifa."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sso.servers import CasServer, Slapd, slapd_missing, start_cas, start_slapd, stop
from werkzeug.serving import make_server


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


@pytest.fixture
def ldap_app(app: Flask, slapd_server: Slapd) -> Flask:
    app.config.update(slapd_server.config())
    return app


@pytest.fixture
def tifa_server(app: Flask) -> Iterator[str]:
    """The app on a loopback port: the CAS server must reach it (service URL, single logout)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="tifa-sso", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = base
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def cas_app(app: Flask, cas_server: CasServer, tifa_server: str) -> Flask:
    app.config.update(CAS_URL=cas_server.url, CAS_VERSION="3")
    return app
