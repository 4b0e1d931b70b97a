"""Server-side record of CAS logins, so that CAS single logout can end a session.

Why a table and not a per-user epoch counter: a CAS logoutRequest names one service ticket (the
SessionIndex), i.e. one browser session. A ticket row revokes exactly that session and leaves the
person's other devices logged in; an epoch counter would log out all of them. The signed session
cookie carries the ticket; a request whose ticket is revoked (or unknown) is logged out.
"""

from __future__ import annotations

from datetime import timedelta

from flask import session
from flask_login import logout_user
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..db import get_db
from ..models import SsoSession, utcnow

SESSION_KEY = "cas_ticket"
# Rows older than this can no longer matter: sessions are browser-session cookies and CAS tickets expire.
KEEP = timedelta(days=30)


def record(db: Session, ticket: str, user_id: int) -> None:
    """Remember a validated ticket (inside the login's write transaction)."""
    now = utcnow()
    db.execute(delete(SsoSession).where(SsoSession.created_at < now - KEEP))
    db.add(SsoSession(ticket=ticket, user_id=user_id, created_at=now))


def revoke(db: Session, ticket: str) -> bool:
    """Mark a ticket's session as ended; False when the ticket is unknown or already revoked."""
    result = db.execute(update(SsoSession).where(SsoSession.ticket == ticket, SsoSession.revoked_at.is_(None))
                        .values(revoked_at=utcnow()))
    return bool(result.rowcount)


def end_if_revoked() -> bool:
    """Log the current request out when its CAS session was ended by single logout. True if it was."""
    ticket = session.get(SESSION_KEY)
    if not ticket:
        return False
    revoked_at = get_db().execute(select(SsoSession.revoked_at).where(SsoSession.ticket == ticket)).first()
    if revoked_at is not None and revoked_at[0] is None:
        return False
    logout_user()
    session.clear()
    return True
