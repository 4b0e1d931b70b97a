"""A small world for access tests: two departments, people in each role, and objects owned by department B.

Requests are made "as" a role; path parameters are filled with ids of department B's objects, so for a
staff member or department admin of department A every object in a URL belongs to someone else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from helpers import csrf_token, login
from review_helpers import make_deck
from webapp.db import session_scope
from webapp.models import Card, ChannelDelivery, DeckAssignment, Department, DepartmentChannel, Note, Pause, Term, User

ROLES = ("anonymous", "staff", "other_staff", "dept_admin", "super_admin", "deactivated")
DEPT_A, DEPT_B = "甲部门", "乙部门"


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    usernames: dict[str, str] = field(default_factory=dict)


def build_world(app: Flask, make_user: Any) -> World:
    world = World()
    world.usernames = {"staff": "staff_a", "other_staff": "staff_b", "dept_admin": "admin_a",
                       "super_admin": "boss", "deactivated": "gone_boss", "target": "target_b",
                       "second_super": "boss2"}
    make_user("staff_a", department=DEPT_A)
    make_user("staff_b", department=DEPT_B)
    make_user("admin_a", department=DEPT_A, role="dept_admin")
    make_user("boss", department=DEPT_A, role="super_admin")
    make_user("boss2", department=DEPT_A, role="super_admin")
    make_user("gone_boss", department=DEPT_A, role="super_admin")
    world.ids["user_id"] = make_user("target_b", department=DEPT_B)
    with session_scope(app) as db:
        dept_b = db.scalar(select(Department.id).where(Department.name == DEPT_B))
    deck_id = make_deck(app, key="b-only", title="乙部门专属卡组", everyone=False, department_id=dept_b)
    with session_scope(app) as db:
        world.ids["deck_id"] = deck_id
        world.ids["note_id"] = db.scalar(select(Note.id).where(Note.deck_id == deck_id).order_by(Note.id))
        world.ids["card_id"] = db.scalar(select(Card.id).where(Card.deck_id == deck_id).order_by(Card.id))
        world.ids["assignment_id"] = db.scalar(select(DeckAssignment.id).where(DeckAssignment.deck_id == deck_id))
        world.ids["department_id"] = dept_b
    with session_scope(app, write=True) as db:  # institution-wide calendar rows (super admins only)
        term = Term(name="2026-2027学年第一学期", first_day=date(2026, 9, 1), last_day=date(2027, 1, 17))
        pause = Pause(name="寒假", kind="寒假", first_day=date(2027, 1, 18), last_day=date(2027, 2, 21))
        db.add_all([term, pause])
        db.flush()
        world.ids["term_id"], world.ids["pause_id"] = term.id, pause.id
        # Department B's group robot (a closed local port: a post fails at once) and a failed message to it.
        channel = DepartmentChannel(department_id=dept_b, kind="wecom",
                                    webhook_url="http://127.0.0.1:9/cgi-bin/webhook/send?key=b-robot-key-0000")
        db.add(channel)
        db.flush()
        delivery = ChannelDelivery(channel_id=channel.id, kind="remind", period="2026-11-30", title="提醒", body="提醒",
                                   status="failed", attempts=1, error="HTTP 500")
        db.add(delivery)
        db.flush()
        world.ids["delivery_id"] = delivery.id
    return world


def client_as(app: Flask, world: World, role: str) -> tuple[FlaskClient, str]:
    """A client signed in as ``role`` and the CSRF token its pages carry."""
    client = app.test_client()
    if role == "anonymous":
        return client, csrf_token(client, "/login")
    username = world.usernames[role]
    response = login(client, username)
    assert response.status_code == 302, (role, response.status_code)
    token = csrf_token(client, "/today")
    if role == "deactivated":
        # Signed in, then switched off by an administrator: the old session must count for nothing.
        with session_scope(app, write=True) as db:
            db.execute(update(User).where(User.username == username).values(active=False))
    return client, token
