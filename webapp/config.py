"""Configuration from environment variables (each is listed in the README's table)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from scheduler.study_day import DEFAULT_TIMEZONE

MB = 1024 * 1024


def instance_path() -> Path:
    """Where the database, secret key, jieba cache and backups live."""
    configured = os.environ.get("TIFA_INSTANCE_PATH")
    path = Path(configured) if configured else Path.cwd() / "instance"
    return path.resolve()


def _secret_key(instance: Path) -> str:
    """TIFA_SECRET_KEY, or one generated once and kept in the instance folder."""
    configured = os.environ.get("TIFA_SECRET_KEY")
    if configured:
        return configured
    key_file = instance / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    instance.mkdir(parents=True, exist_ok=True)
    # Exclusive create: two processes starting at once must agree on one key.
    try:
        with open(key_file, "x") as fh:
            fh.write(key)
        key_file.chmod(0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    return key


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "on", "true", "yes"}


def from_env() -> dict[str, Any]:
    instance = instance_path()
    return {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": os.environ.get("TIFA_DATABASE_URL") or f"sqlite:///{instance / 'tifa.db'}",
        "SECRET_KEY": _secret_key(instance),
        "TIMEZONE": os.environ.get("TIFA_TIMEZONE") or DEFAULT_TIMEZONE,
        "SCHEDULER": _flag("TIFA_SCHEDULER", True),
        "PROXY_COUNT": int(os.environ.get("TIFA_PROXY_COUNT") or 0),
        "DB_POOL_SIZE": int(os.environ.get("TIFA_DB_POOL_SIZE") or 5),
        "BASE_URL": os.environ.get("TIFA_BASE_URL", ""),
        "SMTP_HOST": os.environ.get("TIFA_SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("TIFA_SMTP_PORT") or 25),
        "SMTP_SECURITY": os.environ.get("TIFA_SMTP_SECURITY", "none"),  # none | starttls | ssl
        "SMTP_USER": os.environ.get("TIFA_SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("TIFA_SMTP_PASSWORD", ""),
        "SMTP_SENDER": os.environ.get("TIFA_SMTP_SENDER", ""),
        # Seconds to wait for a WeCom/DingTalk robot's answer (webapp/channels).
        "CHANNEL_TIMEOUT": float(os.environ.get("TIFA_CHANNEL_TIMEOUT") or 10),
        # Uploads: .docx/.pdf up to 20 MB; a little headroom for the form fields around the file.
        "MAX_CONTENT_LENGTH": 21 * MB,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "JSON_AS_ASCII": False,
        # Single sign-on (webapp/auth/cas.py, webapp/auth/ldap_auth.py); empty URL = off.
        "CAS_URL": os.environ.get("TIFA_CAS_URL", ""),  # e.g. https://cas.example.edu.cn/cas/
        "CAS_VERSION": os.environ.get("TIFA_CAS_VERSION", "3"),  # 2: serviceValidate, 3: p3/serviceValidate
        "CAS_FORMAT": os.environ.get("TIFA_CAS_FORMAT", "xml"),  # xml | json (CAS 3.0 format=JSON)
        "CAS_CA_FILE": os.environ.get("TIFA_CAS_CA_FILE", ""),
        "CAS_AUTOCREATE": _flag("TIFA_CAS_AUTOCREATE", False),
        "CAS_DEFAULT_DEPARTMENT": os.environ.get("TIFA_CAS_DEFAULT_DEPARTMENT", ""),
        "CAS_NAME_ATTR": os.environ.get("TIFA_CAS_NAME_ATTR", "name"),
        "CAS_DEPARTMENT_ATTR": os.environ.get("TIFA_CAS_DEPARTMENT_ATTR", "department"),
        "LDAP_URL": os.environ.get("TIFA_LDAP_URL", ""),  # ldaps://ldap.example.edu.cn or ldap://… with STARTTLS
        "LDAP_BASE_DN": os.environ.get("TIFA_LDAP_BASE_DN", ""),
        "LDAP_USER_ATTR": os.environ.get("TIFA_LDAP_USER_ATTR", "uid"),
        "LDAP_BIND_DN": os.environ.get("TIFA_LDAP_BIND_DN", ""),
        "LDAP_BIND_PASSWORD": os.environ.get("TIFA_LDAP_BIND_PASSWORD", ""),
        "LDAP_STARTTLS": _flag("TIFA_LDAP_STARTTLS", True),
        "LDAP_CA_FILE": os.environ.get("TIFA_LDAP_CA_FILE", ""),
    }
