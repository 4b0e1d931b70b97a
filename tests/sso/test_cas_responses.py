"""Reading CAS answers: XML as django-cas-server really sends it, JSON as the CAS 3.0 protocol specifies it,
and single-logout requests."""

from __future__ import annotations

import json

import pytest
import requests
from cas import CASClientV2, CASClientV3
from sso.cas_flow import cas_ticket
from sso.servers import CAS_PASSWORD, CasServer

from webapp.auth.cas import CasError, logout_request_ticket, parse_json_response, parse_xml_response

SERVICE = "http://127.0.0.1:9/login/cas"


def _validate(cas_server: CasServer, suffix: str, ticket: str, service: str = SERVICE) -> bytes:
    response = requests.get(cas_server.url + suffix, params={"ticket": ticket, "service": service}, timeout=10)
    assert response.status_code == 200
    return response.content


@pytest.mark.parametrize(("suffix", "client_class"), [("serviceValidate", CASClientV2),
                                                      ("p3/serviceValidate", CASClientV3)])
def test_real_xml_success_then_replay_then_wrong_service(cas_server: CasServer, suffix: str,
                                                         client_class: type) -> None:
    client = client_class(service_url=SERVICE, server_url=cas_server.url)
    http = requests.Session()
    ticket = cas_ticket(http, cas_server.url, SERVICE, "20260001", CAS_PASSWORD)
    identity = parse_xml_response(client, _validate(cas_server, suffix, ticket))
    assert identity.username == "20260001"
    assert identity.attribute("name") == "张三"
    assert identity.attribute("department") == "马克思主义学院"
    assert identity.attribute("password") is None  # only the released attributes arrive

    with pytest.raises(CasError) as replay:
        parse_xml_response(client, _validate(cas_server, suffix, ticket))
    assert replay.value.code == "INVALID_TICKET"

    other = cas_ticket(http, cas_server.url, SERVICE, "20260001", CAS_PASSWORD)
    with pytest.raises(CasError) as wrong_service:
        parse_xml_response(client, _validate(cas_server, suffix, other, service="http://127.0.0.1:8/login/cas"))
    assert wrong_service.value.code == "INVALID_SERVICE"


def test_xml_that_is_not_a_service_response_is_refused() -> None:
    client = CASClientV3(service_url=SERVICE, server_url="http://127.0.0.1:9/cas/")
    for body in (b"<html>maintenance</html>", b"not xml",
                 b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"/>'):
        with pytest.raises(CasError) as refused:
            parse_xml_response(client, body)
        assert refused.value.code == "bad_response"


# The examples of the CAS 3.0 protocol specification (apereo.github.io/cas/…/CAS-Protocol-Specification.html).
JSON_SUCCESS = {"serviceResponse": {"authenticationSuccess": {
    "user": "20260001", "proxyGrantingTicket": "PGTIOU-84678-8a9d...",
    "attributes": {"name": ["张三"], "department": ["马克思主义学院", "党委宣传部"], "email": "z@example.edu.cn"}}}}
JSON_FAILURE = {"serviceResponse": {"authenticationFailure": {
    "code": "INVALID_TICKET", "description": "Ticket ST-1856339-aA5Yuvrxzpv8Tau1cYQ7 not recognized"}}}


def test_json_success_with_multi_valued_attributes() -> None:
    identity = parse_json_response(json.dumps(JSON_SUCCESS).encode())
    assert identity.username == "20260001"
    assert identity.attribute("name") == "张三"
    assert identity.attribute("department") == "马克思主义学院"  # the first value of a list
    assert identity.attribute("email") == "z@example.edu.cn"
    assert identity.attribute("missing") is None


def test_json_failure_and_garbage() -> None:
    with pytest.raises(CasError) as failure:
        parse_json_response(json.dumps(JSON_FAILURE).encode())
    assert (failure.value.code, "只能使用一次" in failure.value.message) == ("INVALID_TICKET", True)
    for body in (b"<xml/>", b"[]", b'{"serviceResponse": []}', b'{"serviceResponse": {"authenticationSuccess": {}}}'):
        with pytest.raises(CasError) as garbage:
            parse_json_response(body)
        assert garbage.value.code == "bad_response"


LOGOUT = ('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a" Version="2.0" '
          'IssueInstant="2026-11-29T00:00:00Z"><saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
          '</saml:NameID><samlp:SessionIndex>{index}</samlp:SessionIndex></samlp:LogoutRequest>')


def test_logout_request_ticket() -> None:
    assert logout_request_ticket(LOGOUT.format(index="ST-abc")) == "ST-abc"
    assert logout_request_ticket(LOGOUT.format(index="")) is None
    assert logout_request_ticket("<LogoutRequest><SessionIndex>ST-abc</SessionIndex></LogoutRequest>") is None
    assert logout_request_ticket(LOGOUT.replace("SAML:2.0:protocol", "SAML:1.0:protocol").format(index="ST-a")) is None
    assert logout_request_ticket("") is None
    # External entities are never read: the SessionIndex stays empty.
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY t SYSTEM "file:///etc/hostname">]>' + LOGOUT.format(index="&t;")
    assert logout_request_ticket(xxe) is None
