"""Password check against an LDAP directory (ldap3): find the person by staff number, bind as them.

The password goes to the directory over LDAPS or StartTLS and is never stored or logged.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from typing import Any

with warnings.catch_warnings():
    # ldap3 2.9.1 imports pyasn1 names that pyasn1 >= 0.6 renamed (tagMap, typeMap); the old names still work.
    warnings.filterwarnings("ignore", r"\w+Map is deprecated", DeprecationWarning)
    from ldap3 import NONE, SUBTREE, Connection, Server, Tls
    from ldap3.core.exceptions import LDAPBindError, LDAPException, LDAPInvalidCredentialsResult
    from ldap3.utils.conv import escape_filter_chars

TIMEOUT = 5  # seconds, for connecting and for each operation


class LdapUnavailable(Exception):
    """The directory could not be reached or refused the service account: not the user's fault."""


@dataclass(frozen=True)
class LdapPerson:
    dn: str
    name: str | None


def is_configured(config: dict[str, Any]) -> bool:
    return bool(config.get("LDAP_URL") and config.get("LDAP_BASE_DN"))


def _server(config: dict[str, Any]) -> Server:
    ca_file = config.get("LDAP_CA_FILE") or None
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file, version=ssl.PROTOCOL_TLS_CLIENT)
    return Server(config["LDAP_URL"], tls=tls, get_info=NONE, connect_timeout=TIMEOUT)


def _connection(config: dict[str, Any], user: str | None, password: str | None) -> Connection:
    """An open connection, encrypted before any credentials are sent."""
    if not config["LDAP_URL"].lower().startswith("ldaps://") and not config.get("LDAP_STARTTLS", True):
        # Plain ldap:// without StartTLS would send passwords in clear text: refuse.
        raise LdapUnavailable("TIFA_LDAP_URL is ldap:// but TIFA_LDAP_STARTTLS is off")
    conn = Connection(_server(config), user=user, password=password, receive_timeout=TIMEOUT,
                      raise_exceptions=True, read_only=True)
    with warnings.catch_warnings():
        # ldap3 checks the certificate's host name with ssl.match_hostname(), deprecated since Python 3.7
        # but still correct; silence only that message (the check itself still runs and can fail).
        warnings.filterwarnings("ignore", r"ssl\.match_hostname\(\) is deprecated", DeprecationWarning)
        try:
            conn.open()
            if not config["LDAP_URL"].lower().startswith("ldaps://"):
                conn.start_tls()
        except BaseException:
            # Close the socket now, not at garbage collection (ldap3 leaves it open when connect() fails).
            sock = conn.socket
            conn.unbind()
            if sock is not None:
                sock.close()
            raise
    return conn


def authenticate(config: dict[str, Any], username: str, password: str) -> LdapPerson | None:
    """The person when the directory accepts the password, None when it does not (or no such person).

    Raises LdapUnavailable when the directory cannot be asked.
    """
    if not password:
        return None  # an empty password would be an unauthenticated bind, which "succeeds"
    attr = config.get("LDAP_USER_ATTR") or "uid"
    try:
        search = _connection(config, config.get("LDAP_BIND_DN") or None, config.get("LDAP_BIND_PASSWORD") or None)
        try:
            search.bind()
            search.search(config["LDAP_BASE_DN"], f"({attr}={escape_filter_chars(username)})", SUBTREE,
                          attributes=["cn", "displayName"], size_limit=2)
            entries = list(search.entries)
        finally:
            search.unbind()
    except (LDAPException, OSError) as exc:
        raise LdapUnavailable(str(exc)) from exc
    if len(entries) != 1:
        return None  # unknown, or ambiguous: never guess which person is meant
    entry = entries[0]
    try:
        user_conn = _connection(config, entry.entry_dn, password)
        try:
            user_conn.bind()
        finally:
            user_conn.unbind()
    except (LDAPBindError, LDAPInvalidCredentialsResult):
        return None
    except (LDAPException, OSError) as exc:
        raise LdapUnavailable(str(exc)) from exc
    names = entry.entry_attributes_as_dict
    name = (names.get("displayName") or names.get("cn") or [None])[0]
    return LdapPerson(dn=entry.entry_dn, name=name)
