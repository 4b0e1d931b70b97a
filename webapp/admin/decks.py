"""Decks: the note editor, publishing and assignment.

Super admins edit and publish; department admins assign published decks to their own
departments and staff, and see only the assignments there.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response

from ..db import get_db
from ..models import DECK_PUBLISHED, Card, Deck, DeckAssignment, Department, Note, User, utcnow
from ..services.audit import audit, begin_admin_write
from ..services.decks import publish
from ..services.notes import NoteError, add_manual_note, card_previews, delete_note, edit_note, highlight, restore_note
from ..services.staff import managed_ids, visible_departments
from . import bp
from .access import super_admin_required


def _deck(deck_id: int) -> Deck:
    deck = get_db().get(Deck, deck_id)
    if deck is None:
        abort(404)
    return deck


def _note(deck: Deck, note_id: int) -> Note:
    note = get_db().get(Note, note_id)
    if note is None or note.deck_id != deck.id:
        abort(404)
    return note


def _visible_assignments(deck_id: int) -> list[tuple[DeckAssignment, Department | None, User | None]]:
    """The deck's assignments the current admin may see: all, or those in their departments."""
    db = get_db()
    query = (select(DeckAssignment, Department, User).where(DeckAssignment.deck_id == deck_id)
             .outerjoin(Department, Department.id == DeckAssignment.department_id)
             .outerjoin(User, User.id == DeckAssignment.user_id).order_by(DeckAssignment.id))
    scope = managed_ids(db, current_user)
    if scope is not None:
        query = query.where(or_(DeckAssignment.department_id.in_(scope or {-1}),
                                User.department_id.in_(scope or {-1})))
    return [tuple(row) for row in db.execute(query)]


@bp.route("/decks")
def decks() -> str:
    db = get_db()
    query = select(Deck).order_by(Deck.term.desc(), Deck.week.desc(), Deck.id.desc())
    if not current_user.is_super_admin:
        query = query.where(Deck.status == DECK_PUBLISHED)
    rows = list(db.scalars(query))
    counts = dict(db.execute(select(Card.deck_id, func.count()).where(Card.retired.is_(False))
                             .group_by(Card.deck_id)).all())
    return render_template("admin/decks.html", decks=rows, counts=counts)


@bp.route("/decks/<int:deck_id>")
def deck_editor(deck_id: int) -> str:
    super_admin_required()
    deck = _deck(deck_id)
    notes = list(get_db().scalars(select(Note).where(Note.deck_id == deck.id).order_by(Note.position, Note.id)))
    paragraphs = deck.material.text.split("\n\n") if deck.material else []
    active = [n for n in notes if not n.retired]
    pending = [n for n in notes if n.retired and n.source.get("pending")]
    retired = [n for n in notes if n.retired and not n.source.get("pending")]
    return render_template("admin/deck_editor.html", deck=deck, active=active, pending=pending, retired=retired,
                           paragraphs=paragraphs, highlight=highlight,
                           card_count=sum(len(n.cards) for n in active))


@bp.route("/decks/preview", methods=["POST"])
def cloze_preview() -> Response | tuple[Response, int]:
    """JSON: the cards a note text makes, for the editor's live preview."""
    payload = request.get_json(silent=True) or {}
    text = payload.get("text") if isinstance(payload.get("text"), str) else ""
    try:
        return jsonify(cards=card_previews(text))
    except NoteError as exc:
        return jsonify(code="bad_cloze", message=str(exc)), 400


def _write(deck: Deck, action) -> Response:  # noqa: ANN001
    """Run one editor change in a writer transaction; errors go back to the editor as a message."""
    db = get_db()
    begin_admin_write(db)
    try:
        message = action(db)
        deck.updated_at = utcnow()
        db.commit()
    except NoteError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.deck_editor", deck_id=deck.id, _anchor="top"))
    except BaseException:
        db.rollback()
        raise
    if message:
        flash(message, "success")
    return redirect(url_for("admin.deck_editor", deck_id=deck.id, _anchor=request.form.get("anchor") or None))


@bp.route("/decks/<int:deck_id>/notes/<int:note_id>", methods=["POST"])
def note_edit(deck_id: int, note_id: int) -> Response:
    super_admin_required()
    deck = _deck(deck_id)
    note = _note(deck, note_id)
    return _write(deck, lambda db: "已保存笔记。" if edit_note(db, note, request.form.get("text", ""), current_user)
                  else "内容没有变化。")


@bp.route("/decks/<int:deck_id>/notes/<int:note_id>/delete", methods=["POST"])
def note_delete(deck_id: int, note_id: int) -> Response:
    super_admin_required()
    deck = _deck(deck_id)
    note = _note(deck, note_id)
    return _write(deck, lambda db: delete_note(db, note, current_user) or "已删除笔记（学习记录保留，可恢复）。")


@bp.route("/decks/<int:deck_id>/notes/<int:note_id>/restore", methods=["POST"])
def note_restore(deck_id: int, note_id: int) -> Response:
    super_admin_required()
    deck = _deck(deck_id)
    note = _note(deck, note_id)
    return _write(deck, lambda db: restore_note(db, note, current_user) or "已恢复笔记。")


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


@bp.route("/decks/<int:deck_id>/notes", methods=["POST"])
def note_add(deck_id: int) -> Response:
    super_admin_required()
    deck = _deck(deck_id)
    paragraph = _int(request.form.get("paragraph"))

    def add(db) -> str:  # noqa: ANN001
        if paragraph is None:
            raise NoteError("请先在原文中选中文字，再添加笔记。")
        add_manual_note(db, deck, paragraph=paragraph, offset=_int(request.form.get("offset")),
                        span=request.form.get("span", ""), text=request.form.get("text", ""), actor=current_user)
        return "已添加笔记。"

    return _write(deck, add)


@bp.route("/decks/<int:deck_id>/publish", methods=["POST"])
def deck_publish(deck_id: int) -> Response:
    super_admin_required()
    db = get_db()
    begin_admin_write(db)
    deck = _deck(deck_id)
    cards = db.scalar(select(func.count()).select_from(Card).where(Card.deck_id == deck.id,
                                                                   Card.retired.is_(False))) or 0
    if cards == 0:
        db.rollback()
        flash("卡组里没有可用的卡片，不能发布：请先添加或恢复笔记。", "error")
        return redirect(url_for("admin.deck_editor", deck_id=deck_id))
    was = deck.status
    publish(db, deck)
    audit(db, current_user, "deck.publish", "deck", deck.id, key=deck.key, cards=cards,
          status={"before": was, "after": deck.status})
    db.commit()
    flash(f"已发布（{cards} 张卡片）。分配给部门或人员后，他们就能在“今日”看到。", "success")
    return redirect(url_for("admin.deck_assign", deck_id=deck_id))


@bp.route("/decks/<int:deck_id>/settings", methods=["POST"])
def deck_settings(deck_id: int) -> Response:
    super_admin_required()
    db = get_db()
    begin_admin_write(db)
    deck = _deck(deck_id)
    value = _int(request.form.get("new_per_day"))
    if value is None or not 1 <= value <= 500:
        db.rollback()
        flash("每天新卡片数应为 1 到 500 之间的整数。", "error")
        return redirect(url_for("admin.deck_editor", deck_id=deck_id))
    if value != deck.new_per_day:
        audit(db, current_user, "deck.settings", "deck", deck.id, new_per_day={"before": deck.new_per_day,
                                                                            "after": value})
        deck.new_per_day = value
    db.commit()
    flash("已保存卡组设置。", "success")
    return redirect(url_for("admin.deck_editor", deck_id=deck_id))


@bp.route("/decks/<int:deck_id>/assign", methods=["GET", "POST"])
def deck_assign(deck_id: int) -> Response | str | tuple[str, int]:
    db = get_db()
    if request.method == "GET":
        deck = _deck(deck_id)
        if deck.status != DECK_PUBLISHED and not current_user.is_super_admin:
            abort(404)
        return render_template("admin/deck_assign.html", deck=deck, assignments=_visible_assignments(deck.id),
                               departments=visible_departments(db, current_user))
    begin_admin_write(db)
    deck = _deck(deck_id)
    if deck.status != DECK_PUBLISHED and not current_user.is_super_admin:
        abort(404)
    try:
        added = _assign(db, deck)
    except ValueError as exc:
        db.rollback()
        flash(str(exc), "error")
        return render_template("admin/deck_assign.html", deck=deck, assignments=_visible_assignments(deck.id),
                               departments=visible_departments(db, current_user)), 400
    db.commit()
    flash(f"已分配：{'、'.join(added)}。" if added else "没有新的分配（所选对象已分配过）。", "success")
    return redirect(url_for("admin.deck_assign", deck_id=deck_id))


def _assign(db, deck: Deck) -> list[str]:  # noqa: ANN001
    """Create the requested assignments (skipping existing ones); returns their labels."""
    learn_by = None
    if raw := request.form.get("learn_by", "").strip():
        try:
            learn_by = date.fromisoformat(raw)
        except ValueError:
            raise ValueError("“学完日期”格式应为 YYYY-MM-DD，或留空。") from None
    scope = managed_ids(db, current_user)
    everyone = request.form.get("everyone") == "1"
    if everyone and scope is not None:
        raise ValueError("只有超级管理员可以分配给全体人员：请勾选您负责的部门或人员。")
    dept_ids = {int(v) for v in request.form.getlist("department") if v.isdigit()}
    depts = list(db.scalars(select(Department).where(Department.id.in_(dept_ids or {-1}))))
    if len(depts) != len(dept_ids) or (scope is not None and not dept_ids <= scope):
        raise ValueError("所选部门不存在或不在您的管理范围内：请刷新页面后重新选择。")
    usernames = [u for u in request.form.get("usernames", "").replace("，", ",").replace(",", " ").split() if u]
    users = list(db.scalars(select(User).where(User.username.in_(usernames or [""]))))
    found = {u.username for u in users}
    if missing := [u for u in usernames if u not in found]:
        raise ValueError(f"找不到工号：{'、'.join(missing)}。请检查后重试。")
    if scope is not None and any(u.department_id not in scope for u in users):
        raise ValueError("只能分配给您负责部门的人员。")
    if not (everyone or depts or users):
        raise ValueError("请至少选择一个对象：全体人员、部门，或填写工号。")
    existing = list(db.scalars(select(DeckAssignment).where(DeckAssignment.deck_id == deck.id)))
    added: list[str] = []
    targets = ([("everyone", None, "全体人员")] if everyone else []) + \
        [("department", d.id, d.name) for d in depts] + [("user", u.id, f"{u.name}（{u.username}）") for u in users]
    for kind, target_id, label in targets:
        match = next((a for a in existing if (kind == "everyone" and a.everyone)
                      or (kind == "department" and a.department_id == target_id)
                      or (kind == "user" and a.user_id == target_id)), None)
        if match is not None:
            if learn_by and match.learn_by != learn_by:
                match.learn_by = learn_by
                audit(db, current_user, "deck.assign", "deck", deck.id, target=label, learn_by=learn_by.isoformat())
            continue
        db.add(DeckAssignment(deck_id=deck.id, everyone=kind == "everyone",
                              department_id=target_id if kind == "department" else None,
                              user_id=target_id if kind == "user" else None, learn_by=learn_by))
        audit(db, current_user, "deck.assign", "deck", deck.id, key=deck.key, target=label,
              learn_by=learn_by.isoformat() if learn_by else None)
        added.append(label)
    return added


@bp.route("/decks/<int:deck_id>/assignments/<int:assignment_id>/delete", methods=["POST"])
def deck_unassign(deck_id: int, assignment_id: int) -> Response:
    db = get_db()
    begin_admin_write(db)
    visible = {a.id: (a, d, u) for a, d, u in _visible_assignments(deck_id)}
    if assignment_id not in visible:
        abort(404)
    assignment, dept, user = visible[assignment_id]
    label = "全体人员" if assignment.everyone else dept.name if dept else f"{user.name}（{user.username}）"
    db.delete(assignment)
    audit(db, current_user, "deck.unassign", "deck", deck_id, target=label)
    db.commit()
    flash(f"已取消分配：{label}。学习记录保留。", "success")
    return redirect(url_for("admin.deck_assign", deck_id=deck_id))
