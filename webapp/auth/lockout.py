"""Per-account login failure counter with growing lockout, kept in the database.

The counter lives in the users table, so every worker process and host sees the same count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..models import User

FREE_ATTEMPTS = 5
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)


def lock_duration(failures: int) -> timedelta:
    """No lock for the first few failures, then 1, 2, 4 … minutes, at most an hour."""
    if failures < FREE_ATTEMPTS:
        return timedelta(0)
    return min(MAX_LOCK, FIRST_LOCK * (2 ** min(failures - FREE_ATTEMPTS, 12)))


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def record_failure(db: Session, user: User, now: datetime) -> None:
    # Increment in SQL, not in Python, so concurrent attempts from several processes all count.
    failures = db.execute(
        update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    duration = lock_duration(failures)
    if duration:
        db.execute(update(User).where(User.id == user.id).values(locked_until=now + duration))


def record_success(db: Session, user: User, now: datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
