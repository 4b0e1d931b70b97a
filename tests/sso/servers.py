"""Real SSO servers on loopback for the tests: Debian's slapd (StartTLS, self-signed cert) and
django-cas-server (a minimal Django project in tests/sso/cas_server/), each a throwaway process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SCHEMA = Path("/etc/ldap/schema")
SUFFIX = "dc=tifa,dc=test"
SEARCH_DN = f"cn=tifa-search,{SUFFIX}"
SEARCH_PASSWORD = "search-pass-9"
LDAP_PASSWORD = "ldap-pass-123"
CAS_PASSWORD = "cas-pass-123"  # as in cas_server/casproject/setup_users.py


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def slapd_missing() -> str | None:
    if not SLAPD.exists() or not SLAPADD.exists():
        return "slapd is missing: apt-get install slapd ldap-utils to run the LDAP tests"
    if not shutil.which("openssl"):
        return "openssl is missing: it makes the LDAP test server's certificate"
    return None


LDIF = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: tifa
o: Tifa test university

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{SUFFIX}
objectClass: pwdPolicy
objectClass: person
cn: default
sn: default
pwdAttribute: userPassword
pwdLockout: TRUE

dn: {SEARCH_DN}
objectClass: person
cn: tifa-search
sn: search
userPassword: {SEARCH_PASSWORD}

dn: uid=20260001,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: 20260001
cn: 张三
sn: 张
displayName: 张三
userPassword: {LDAP_PASSWORD}

dn: uid=20260003,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: 20260003
cn: 赵六
sn: 赵
userPassword: {LDAP_PASSWORD}
pwdAccountLockedTime: 000001010000Z

dn: uid=20260004,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: 20260004
cn: 钱七
sn: 钱

dn: uid=20268888,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: 20268888
cn: 孙八
sn: 孙
userPassword: {LDAP_PASSWORD}
"""


@dataclass
class Slapd:
    url: str
    ca_file: str
    proc: subprocess.Popen

    def config(self) -> dict[str, object]:
        return {"LDAP_URL": self.url, "LDAP_BASE_DN": f"ou=people,{SUFFIX}", "LDAP_USER_ATTR": "uid",
                "LDAP_BIND_DN": SEARCH_DN, "LDAP_BIND_PASSWORD": SEARCH_PASSWORD, "LDAP_STARTTLS": True,
                "LDAP_CA_FILE": self.ca_file}


def start_slapd(work: Path) -> Slapd:
    """slapd with its own config and database in ``work``, StartTLS with a fresh self-signed certificate."""
    (work / "data").mkdir()
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    conf = work / "slapd.conf"
    conf.write_text(f"""
include {SCHEMA}/core.schema
include {SCHEMA}/cosine.schema
include {SCHEMA}/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {work}/slapd.pid
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
suffix "{SUFFIX}"
rootdn "cn=admin,{SUFFIX}"
rootpw admin-not-used
directory {work}/data
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{SUFFIX}"
# Simple binds only over TLS: a password is never accepted in clear text.
security simple_bind=128
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
""")
    ldif = work / "data.ldif"
    ldif.write_text(LDIF, encoding="utf-8")
    subprocess.run([str(SLAPADD), "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True)
    port = free_port()
    with open(work / "slapd.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([str(SLAPD), "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                                stdout=subprocess.DEVNULL, stderr=log)
    wait_for_port(port, proc, "slapd")
    return Slapd(f"ldap://127.0.0.1:{port}", str(cert), proc)


@dataclass
class CasServer:
    url: str  # base URL ending in /cas/
    proc: subprocess.Popen


def start_cas(work: Path) -> CasServer:
    """django-cas-server under runserver, its SQLite database and users created in ``work``."""
    project = HERE / "cas_server"
    env = {**os.environ, "TIFA_CAS_TEST_DIR": str(work), "DJANGO_SETTINGS_MODULE": "casproject.settings",
           "PYTHONPATH": str(project), "PYTHONWARNINGS": "ignore"}
    manage = [sys.executable, str(project / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, capture_output=True, cwd=work)
    setup = (project / "casproject" / "setup_users.py").read_text(encoding="utf-8")
    subprocess.run([*manage, "shell", "-c", setup], env=env, check=True, capture_output=True, cwd=work)
    port = free_port()
    with open(work / "cas.log", "wb") as log:
        proc = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
                                env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=log)
    wait_for_port(port, proc, "django-cas-server")
    return CasServer(f"http://127.0.0.1:{port}/cas/", proc)
