"""Drive django-cas-server's login form with requests, as a browser without JavaScript would."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

INPUT = re.compile(r"<input\b[^>]*>", re.I)
ATTR = re.compile(r'(\w+)="([^"]*)"')


def form_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in INPUT.findall(html):
        attrs = dict(ATTR.findall(tag))
        if "name" in attrs and attrs.get("type", "text") in {"hidden", "text", "password"}:
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


def cas_ticket(http: requests.Session, cas_url: str, service: str, username: str, password: str) -> str:
    """Log in at the CAS server for ``service`` and return the service ticket it redirects with."""
    answer = http.get(cas_url + "login", params={"service": service}, allow_redirects=False)
    if answer.status_code == 200:  # not yet logged in at the CAS server: fill in its form
        fields = form_fields(answer.text)
        fields.update(username=username, password=password)
        answer = http.post(answer.url, data=fields, allow_redirects=False)
    assert answer.status_code == 302, f"CAS login refused ({answer.status_code})"
    target = urlsplit(answer.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == service
    return parse_qs(target.query)["ticket"][0]


def cas_login(http: requests.Session, tifa: str, username: str, password: str) -> requests.Response:
    """The whole round trip: Tifa → CAS login form → back to Tifa with a ticket; the final response."""
    page = http.get(tifa + "/login/cas")
    page.raise_for_status()
    assert "/cas/login" in page.url, page.url
    fields = form_fields(page.text)
    fields.update(username=username, password=password)
    return http.post(page.url, data=fields)
