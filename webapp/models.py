"""Database models (SQLAlchemy 2.x, typed). DESIGN.md defines each word.

Every datetime is stored and returned as aware UTC; study days are plain dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLE_STAFF = "staff"
ROLE_DEPT_ADMIN = "dept_admin"
ROLE_SUPER_ADMIN = "super_admin"
ROLES = (ROLE_STAFF, ROLE_DEPT_ADMIN, ROLE_SUPER_ADMIN)

DECK_DRAFT = "draft"
DECK_PUBLISHED = "published"

LOG_LEARN = "learn"
LOG_REVIEW = "review"
LOG_RELEARN = "relearn"
LOG_UNDO = "undo"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="department")


class AdminDepartment(Base):
    """The departments a department admin manages."""

    __tablename__ = "admin_departments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # staff number (工号)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=ROLE_STAFF)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    reminder_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    department: Mapped[Department | None] = relationship(back_populates="users")
    managed_departments: Mapped[list[Department]] = relationship(secondary="admin_departments")

    __table_args__ = (CheckConstraint(f"role in {ROLES!r}", name="role"),)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return self.role in (ROLE_DEPT_ADMIN, ROLE_SUPER_ADMIN)

    @property
    def is_super_admin(self) -> bool:
        return self.role == ROLE_SUPER_ADMIN


class Material(Base):
    """One uploaded study text; keeps the original bytes and the normalised text."""

    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(100), unique=True)  # slug, e.g. 2023-2024-1-w11
    title: Mapped[str] = mapped_column(String(200))
    term: Mapped[str] = mapped_column(String(100), default="")
    week: Mapped[int | None] = mapped_column(Integer)
    study_date: Mapped[date | None] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(255), default="")
    original: Mapped[bytes] = mapped_column(LargeBinary)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    deck: Mapped[Deck | None] = relationship(back_populates="material")


class Deck(Base):
    __tablename__ = "decks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    term: Mapped[str] = mapped_column(String(100), default="")
    week: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=DECK_DRAFT)
    new_per_day: Mapped[int] = mapped_column(Integer, default=20)
    # Cards not retired; kept by database triggers (see DueTally), read by Today's unseen counts.
    live_cards: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    material: Mapped[Material | None] = relationship(back_populates="deck")
    notes: Mapped[list[Note]] = relationship(back_populates="deck", order_by="Note.position")

    __table_args__ = (CheckConstraint("status in ('draft', 'published')", name="status"),)


class Note(Base):
    """One formulation in context, in Anki cloze syntax."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deck_id: Mapped[int] = mapped_column(ForeignKey("decks.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    extra: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)  # last edit: the Anki note mtime

    deck: Mapped[Deck] = relationship(back_populates="notes")
    cards: Mapped[list[Card]] = relationship(back_populates="note", order_by="Card.ord")

    __table_args__ = (Index("ix_notes_deck_position", "deck_id", "position"),)


class Card(Base):
    """One cloze number of a note, as Anki generates cards."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    deck_id: Mapped[int] = mapped_column(ForeignKey("decks.id", ondelete="CASCADE"))
    ord: Mapped[int] = mapped_column(Integer)  # the cloze number N of {{cN::…}}
    position: Mapped[int] = mapped_column(Integer, default=0)  # serving order of new cards in the deck
    retired: Mapped[bool] = mapped_column(Boolean, default=False)

    note: Mapped[Note] = relationship(back_populates="cards")

    __table_args__ = (
        UniqueConstraint("note_id", "ord", name="uq_cards_note_ord"),
        Index("ix_cards_deck_position", "deck_id", "retired", "position"),
    )


class DeckAssignment(Base):
    """A deck assigned to a whole department or to one person, optionally with a learn-by date."""

    __tablename__ = "deck_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    deck_id: Mapped[int] = mapped_column(ForeignKey("decks.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"),
                                                       index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    learn_by: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN everyone THEN 1 ELSE 0 END) + (CASE WHEN department_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN user_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
    )


class ReviewState(Base):
    """SM-2 state of one card for one person; absent while the card is new."""

    __tablename__ = "review_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    deck_id: Mapped[int] = mapped_column(ForeignKey("decks.id", ondelete="CASCADE"))
    repetitions: Mapped[int] = mapped_column(Integer)
    easiness_cents: Mapped[int] = mapped_column(Integer)
    interval: Mapped[int] = mapped_column(Integer)
    due_day: Mapped[date] = mapped_column(Date)
    lapses: Mapped[int] = mapped_column(Integer, default=0)
    relearn_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    introduced_day: Mapped[date] = mapped_column(Date)
    last_review_day: Mapped[date] = mapped_column(Date)
    last_reviewed_at: Mapped[datetime] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)  # compare-and-set guard against stale tabs

    __table_args__ = (
        UniqueConstraint("user_id", "card_id", name="uq_review_states_user_card"),
        # Replaced ix_review_states_user_due in migration 0007_queue_order: overdue and due cards in serving
        # order (due day, deck, card), so the next card is the first index entry that qualifies.
        Index("ix_review_states_user_due_order", "user_id", "due_day", "deck_id", "card_id"),
        Index("ix_review_states_user_deck_introduced", "user_id", "deck_id", "introduced_day"),
        Index("ix_review_states_deck_interval", "deck_id", "interval"),
        # Added by migration 0002_review: today's same-day repeats, per-deck progress counts.
        Index("ix_review_states_user_last_review", "user_id", "last_review_day"),
        Index("ix_review_states_user_deck_interval", "user_id", "deck_id", "interval"),
        # Added by migration 0004_progress: the progress dashboard's per person × deck counts from the index alone,
        # and its due forecast as a due_day range per person × deck.
        Index("ix_review_states_user_deck_due", "user_id", "deck_id", "due_day", "interval", "card_id",
              "last_review_day"),
    )


class DueTally(Base):
    """How many of a person's live cards in a deck fall due on one day, and how many of them are mastered.

    Database triggers on review_states and cards keep these rows (migration 0007_queue_order), so every writer
    keeps them right without knowing they exist; rows at zero are deleted. Today's counts sum a few of these
    rows instead of counting every card a person has learned. ``tifa check`` compares them with a recount.
    """

    __tablename__ = "due_tallies"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    deck_id: Mapped[int] = mapped_column(ForeignKey("decks.id", ondelete="CASCADE"), primary_key=True)
    due_day: Mapped[date] = mapped_column(Date, primary_key=True)
    cards: Mapped[int] = mapped_column(Integer)
    mastered: Mapped[int] = mapped_column(Integer)


class ReviewLog(Base):
    """Every grade ever given; append-only (an undo is a new row pointing at the undone one)."""

    __tablename__ = "review_logs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    deck_id: Mapped[int] = mapped_column(ForeignKey("decks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    quality: Mapped[int | None] = mapped_column(Integer)
    reviewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    study_day: Mapped[date] = mapped_column(Date)
    ms: Mapped[int] = mapped_column(Integer, default=0)
    before_repetitions: Mapped[int | None] = mapped_column(Integer)
    before_easiness_cents: Mapped[int | None] = mapped_column(Integer)
    before_interval: Mapped[int | None] = mapped_column(Integer)
    before_due: Mapped[date | None] = mapped_column(Date)
    after_repetitions: Mapped[int | None] = mapped_column(Integer)
    after_easiness_cents: Mapped[int | None] = mapped_column(Integer)
    after_interval: Mapped[int | None] = mapped_column(Integer)
    after_due: Mapped[date | None] = mapped_column(Date)
    # The whole state before this grade (None for a new card), so undo restores it exactly.
    restore: Mapped[dict[str, Any] | None] = mapped_column()
    token: Mapped[str | None] = mapped_column(String(64), unique=True)  # one-time grade token nonce
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("review_logs.id"), unique=True)

    __table_args__ = (
        CheckConstraint("kind in ('learn', 'review', 'relearn', 'undo')", name="kind"),
        # Migration 0004_progress extends (user_id, study_day) to cover the dashboard's sums of grades, and adds a
        # small partial index of undo rows (their grades are subtracted).
        Index("ix_review_logs_user_day_grade", "user_id", "study_day", "kind", "quality", "ms", "deck_id", "card_id"),
        Index("ix_review_logs_undo", "study_day", "user_id", "undoes_id",
              sqlite_where=text("kind = 'undo'"), postgresql_where=text("kind = 'undo'")),
        Index("ix_review_logs_deck_day", "deck_id", "study_day"),
        Index("ix_review_logs_day", "study_day"),
    )


class AuditLog(Base):
    """Who did what, when, as an admin (before/after in ``details``)."""

    __tablename__ = "audit_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str] = mapped_column(String(50), default="")
    target_id: Mapped[str] = mapped_column(String(100), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobRun(Base):
    """A background job's claim on one period: the unique key makes each run happen once."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    summary: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_runs_job_period"),)


class ProgressSnapshot(Base):
    """Nightly per user × deck counts for one study day."""

    __tablename__ = "progress_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    deck_id: Mapped[int] = mapped_column(ForeignKey("decks.id", ondelete="CASCADE"))
    new: Mapped[int] = mapped_column(Integer, default=0)
    learning: Mapped[int] = mapped_column(Integer, default=0)
    mastered: Mapped[int] = mapped_column(Integer, default=0)
    due: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    reviews: Mapped[int] = mapped_column(Integer, default=0)
    retained: Mapped[int] = mapped_column(Integer, default=0)
    retention_total: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("day", "user_id", "deck_id", name="uq_progress_snapshots_day_user_deck"),
    )


class Notification(Base):
    """A reminder or report sent (or recorded, when mail is not configured) to one person."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20), default="email")
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (UniqueConstraint("user_id", "kind", "day", name="uq_notifications_user_kind_day"),)


class SsoSession(Base):
    """A login made with a CAS service ticket, kept server-side so CAS single logout can end it.

    Flask's session is a signed client-side cookie; it cannot be deleted from the server. The cookie
    carries the ticket, and a request whose ticket row is revoked is logged out (webapp/auth/sso_sessions.py).
    """

    __tablename__ = "sso_sessions"

    ticket: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column()


# -- Calendar: terms and holiday pauses (scheduler/calendar.py holds the rules) ------------------------

PAUSE_KINDS = ("寒假", "暑假", "节假日", "其他")


class Term(Base):
    """A teaching term (学期), institution-wide; shown on the calendar page to place the pauses."""

    __tablename__ = "terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("last_day >= first_day", name="days"),)


class Pause(Base):
    """A holiday (寒假/暑假/节假日) for everyone: study days first_day..last_day inclusive. No reminders,
    streaks kept, and cards due inside move to the study days after it."""

    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="其他")
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date, index=True)  # grading asks for pauses not yet over
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("last_day >= first_day", name="days"),
        CheckConstraint("kind in ('寒假', '暑假', '节假日', '其他')", name="kind"),
    )


# -- Group-chat channels: WeCom / DingTalk robots per department (webapp/channels) ----------------------

CHANNEL_WECOM = "wecom"
CHANNEL_DINGTALK = "dingtalk"
CHANNEL_KINDS = (CHANNEL_WECOM, CHANNEL_DINGTALK)
DELIVERY_REMIND = "remind"
DELIVERY_WEEKLY_REPORT = "weekly_report"
DELIVERY_KINDS = (DELIVERY_REMIND, DELIVERY_WEEKLY_REPORT)
DELIVERY_STATUSES = ("pending", "sent", "failed")


class DepartmentChannel(Base):
    """A department's group-chat robot: its webhook address (the key or access token is in it, so it is a
    secret) and, for DingTalk's 加签 mode, the signing secret. One robot per platform per department."""

    __tablename__ = "department_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    webhook_url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship()

    __table_args__ = (
        UniqueConstraint("department_id", "kind", name="uq_department_channels_department_kind"),
        CheckConstraint("kind in ('wecom', 'dingtalk')", name="kind"),
    )


class ChannelDelivery(Base):
    """One markdown message for one channel and period (a study day or an ISO week). The unique key is the
    at-most-once guard: the row is committed before the POST, so a rerun or a second scheduler never posts
    twice; 'pending' means a sender holds it."""

    __tablename__ = "channel_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("department_channels.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    channel: Mapped[DepartmentChannel] = relationship()

    __table_args__ = (
        UniqueConstraint("channel_id", "kind", "period", name="uq_channel_deliveries_channel_kind_period"),
        CheckConstraint("kind in ('remind', 'weekly_report')", name="kind"),
        CheckConstraint("status in ('pending', 'sent', 'failed')", name="status"),
        Index("ix_channel_deliveries_status", "status", "updated_at"),
    )
