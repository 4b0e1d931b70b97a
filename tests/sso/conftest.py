"""Fixtures for the SSO tests: slapd and django-cas-server on loopback (one each per run), and a live Tifa."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sso import fixtures
from sso.servers import CasServer, Slapd
from werkzeug.serving import make_server

# The session-scoped servers, shared with tests/browser/test_sso_browser.py.
cas_server = fixtures.cas_server
slapd_server = fixtures.slapd_server


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
