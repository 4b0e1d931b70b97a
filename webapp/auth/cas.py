"""CAS 2.0/3.0 login (统一身份认证) and CAS single logout.

GET /login/cas without a ticket sends the browser to the CAS server; the CAS server sends it back
with ?ticket=ST-…, which Tifa validates server-to-server (serviceValidate or p3/serviceValidate).
POST /login/cas is where the CAS server delivers single-logout requests (a SAML LogoutRequest whose
SessionIndex is the service ticket); it is exempt from CSRF because the CAS server has no token, and
it only ever revokes a session whose unguessable ticket it names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from cas import CASClientV2, CASClientV3
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user
from lxml import etree
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import begin_write, get_db
from ..models import User, utcnow
from ..security import csrf
from ..services.audit import audit
from ..services.users import get_or_create_department
from . import bp
from .forms import LoginForm
from .sso_sessions import SESSION_KEY, end_if_revoked, record, revoke

TIMEOUT = 10  # seconds for ticket validation
NEXT_KEY = "cas_next"
SAML_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
CAS_NS = "http://www.yale.edu/tp/cas"
UNKNOWN_USER = "统一身份认证已通过，但工号 {username} 尚未开通提法卡账号。请联系本部门管理员为您开通后再登录。"
CAS_DOWN = "统一身份认证服务暂时无法验证您的登录，请稍后再试；如持续失败，请联系管理员。"
TICKET_REFUSED = "统一身份认证的登录凭据无效或已过期（凭据只能使用一次），请重新登录。"


class CasError(Exception):
    """Validation failed; ``message`` is for the person, ``code`` is the CAS failure code if any."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(code or message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class CasIdentity:
    username: str
    attributes: dict[str, Any]

    def attribute(self, name: str) -> str | None:
        value = self.attributes.get(name) if name else None
        if isinstance(value, list):
            value = value[0] if value else None
        return value.strip() if isinstance(value, str) and value.strip() else None


def is_configured(config: dict[str, Any]) -> bool:
    return bool(config.get("CAS_URL"))


def service_url() -> str:
    """The service URL registered at the CAS server; fixed (no ?next=) so single logout posts reach it."""
    base = current_app.config.get("BASE_URL")
    if base:
        return base.rstrip("/") + url_for("auth.cas_login")
    return url_for("auth.cas_login", _external=True)


def _client(config: dict[str, Any]) -> CASClientV2:
    server = config["CAS_URL"].rstrip("/") + "/"
    cls = CASClientV2 if str(config.get("CAS_VERSION", "3")) == "2" else CASClientV3
    return cls(service_url=service_url(), server_url=server)


def validate_ticket(config: dict[str, Any], ticket: str) -> CasIdentity:
    """Ask the CAS server whether ``ticket`` was issued for our service URL; raises CasError if not."""
    client = _client(config)
    params = {"ticket": ticket, "service": client.service_url}
    as_json = str(config.get("CAS_FORMAT", "xml")).lower() == "json"
    if as_json:
        params["format"] = "JSON"  # CAS 3.0 protocol, section 2.5.x
    try:
        response = requests.get(urljoin(client.server_url, client.url_suffix), params=params,
                                timeout=TIMEOUT, verify=config.get("CAS_CA_FILE") or True)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise CasError(CAS_DOWN, "unreachable") from exc
    return parse_json_response(response.content) if as_json else parse_xml_response(client, response.content)


def parse_xml_response(client: CASClientV2, body: bytes) -> CasIdentity:
    """A serviceResponse in XML; python-cas reads user and attributes, failures are read here."""
    try:
        root = etree.fromstring(body, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise CasError(CAS_DOWN, "bad_response") from exc
    failure = root.find(f"{{{CAS_NS}}}authenticationFailure")
    if failure is not None:
        raise CasError(TICKET_REFUSED, failure.get("code", "").strip())
    if root.find(f"{{{CAS_NS}}}authenticationSuccess") is None:
        raise CasError(CAS_DOWN, "bad_response")
    user, attributes, _pgtiou = client.verify_response(body)
    if not user or not user.strip():
        raise CasError(CAS_DOWN, "bad_response")
    return CasIdentity(user.strip(), attributes or {})


def parse_json_response(body: bytes) -> CasIdentity:
    """A serviceResponse in JSON (format=JSON), as the CAS 3.0 protocol specifies it."""
    try:
        response = json.loads(body)["serviceResponse"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CasError(CAS_DOWN, "bad_response") from exc
    if not isinstance(response, dict):
        raise CasError(CAS_DOWN, "bad_response")
    failure = response.get("authenticationFailure")
    if isinstance(failure, dict):
        raise CasError(TICKET_REFUSED, str(failure.get("code", "")).strip())
    success = response.get("authenticationSuccess")
    user = success.get("user") if isinstance(success, dict) else None
    if not isinstance(user, str) or not user.strip():
        raise CasError(CAS_DOWN, "bad_response")
    attributes = success.get("attributes")
    return CasIdentity(user.strip(), attributes if isinstance(attributes, dict) else {})


def _safe_parser() -> etree.XMLParser:
    # No entity expansion, DTDs or network: the XML comes from outside.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def logout_request_ticket(body: str) -> str | None:
    """The SessionIndex of a CAS single-logout request, or None if ``body`` is not one."""
    try:
        root = etree.fromstring(body.encode("utf-8"), _safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.tag != f"{{{SAML_PROTOCOL}}}LogoutRequest":
        return None
    indexes = root.findall(f"{{{SAML_PROTOCOL}}}SessionIndex")
    if len(indexes) != 1 or not (indexes[0].text or "").strip():
        return None
    return indexes[0].text.strip()


def _refuse(message: str, status: int) -> tuple[str, int]:
    flash(message, "error")
    return render_template("auth/login.html", form=LoginForm()), status


@bp.before_app_request
def _end_revoked_cas_session() -> Response | None:
    if end_if_revoked() and request.endpoint not in {"static", "auth.login", "auth.cas_login"}:
        if request.path.startswith("/api/"):
            from ..errors import error_response

            return error_response(401, "logged_out", "您已在统一身份认证中退出登录，请重新登录。")
        flash("您已在统一身份认证中退出登录，请重新登录。", "info")
        return redirect(url_for("auth.login"))
    return None


@bp.route("/login/cas", methods=["GET"])
def cas_login() -> Response | tuple[str, int]:
    config = current_app.config
    if not is_configured(config):
        return _refuse("本系统未配置统一身份认证，请使用工号和密码登录。", 404)
    ticket = request.args.get("ticket", "").strip()
    if not ticket:
        if current_user.is_authenticated:
            return redirect(url_for("main.index"))
        from .routes import safe_next

        session[NEXT_KEY] = safe_next(request.args.get("next")) or ""
        return redirect(_client(config).get_login_url())
    try:
        identity = validate_ticket(config, ticket)
    except CasError as exc:
        current_app.logger.warning("CAS ticket refused: %s", exc.code)
        return _refuse(exc.message, 502 if exc.code in {"unreachable", "bad_response"} else 401)

    db = get_db()
    begin_write(db)
    user = db.scalar(select(User).where(User.username == identity.username))
    name = identity.attribute(config.get("CAS_NAME_ATTR", "name"))
    department = identity.attribute(config.get("CAS_DEPARTMENT_ATTR", "department"))
    if user is None:
        if not config.get("CAS_AUTOCREATE"):
            db.rollback()
            return _refuse(UNKNOWN_USER.format(username=identity.username), 403)
        department = department or config.get("CAS_DEFAULT_DEPARTMENT") or None
        # No local password: this person signs in through CAS only.
        user = User(username=identity.username, name=name or identity.username, password_hash=None,
                    department=get_or_create_department(db, department) if department else None)
        db.add(user)
        db.flush()
        # No actor: the person created their own account by signing in through CAS.
        audit(db, None, "user.create", "user", user.id, username=user.username, name=user.name,
              department=department, source="cas_autocreate")
    elif not user.active:
        db.rollback()
        return _refuse("该账号已停用。如需恢复，请联系管理员。", 403)
    else:
        # The directory is the source of truth for names; departments stay as the admins set them.
        if name and name != user.name:
            user.name = name
        if user.department is None and department:
            user.department = get_or_create_department(db, department)
    user.last_login_at = utcnow()
    user.must_change_password = False  # the local password is not used by CAS logins
    record(db, ticket, user.id)
    db.commit()
    next_url = session.get(NEXT_KEY) or None
    session.clear()  # no session fixation: nothing from before login survives
    login_user(user)
    session[SESSION_KEY] = ticket
    return redirect(next_url or url_for("main.index"))


@bp.route("/login/cas", methods=["POST"])
@csrf.exempt
def cas_single_logout() -> tuple[str, int]:
    ticket = logout_request_ticket(request.form.get("logoutRequest", ""))
    if ticket is None:
        return "not a CAS logoutRequest\n", 400
    db = get_db()
    begin_write(db)
    revoked = revoke(db, ticket)
    db.commit()
    return ("revoked\n" if revoked else "unknown ticket\n"), 200
