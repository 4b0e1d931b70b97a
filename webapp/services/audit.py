"""The audit log: every admin action (upload, edit, publish, retire, assign, role or password change).

One function writes it, ``audit()``; the admin pages browse and export it (CSV, UTF-8 with BOM).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..db import begin_write
from ..models import AuditLog, User, utcnow

#: Chinese labels for the actions, shown in the log and its filter.
ACTIONS = {
    "material.upload": "上传材料",
    "material.replace": "更新材料",
    "note.edit": "编辑笔记",
    "note.add": "新增笔记",
    "note.retire": "删除笔记",
    "note.restore": "恢复笔记",
    "deck.publish": "发布卡组",
    "deck.settings": "修改卡组设置",
    "deck.assign": "分配卡组",
    "deck.unassign": "取消分配",
    "user.create": "新建人员",
    "user.update": "修改人员",
    "user.deactivate": "停用人员",
    "user.activate": "启用人员",
    "user.role": "修改角色",
    "user.password_reset": "重置密码",
    "users.import": "批量导入人员",
    "department.create": "新建部门",
    "department.rename": "重命名部门",
    "channel.save": "设置群机器人",
    "channel.delete": "删除群机器人",
    "channel.test": "发送群机器人测试消息",
    "term.create": "新建学期",
    "term.update": "修改学期",
    "term.delete": "删除学期",
    "pause.create": "新建假期",
    "pause.update": "修改假期",
    "pause.delete": "删除假期",
}

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def begin_admin_write(db: Session) -> None:
    """Start the writer transaction of an admin request.

    Loading ``current_user`` already opened a read transaction; end it so the write starts with
    BEGIN IMMEDIATE on SQLite and every check below reads what the write will see.
    """
    if db.in_transaction():
        db.rollback()
    begin_write(db)


def audit(db: Session, actor: User | None, action: str, target_type: str, target_id: object,
          **details: Any) -> AuditLog:
    """Record one admin action in the caller's transaction (committed or rolled back with it)."""
    entry = AuditLog(actor_id=actor.id if actor is not None else None, at=utcnow(), action=action,
                     target_type=target_type, target_id=str(target_id if target_id is not None else ""),
                     details=_jsonable(details))
    db.add(entry)
    return entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def audit_query(action: str | None = None, actor: str | None = None) -> Select:
    """Log rows, newest first, filtered by action and by the actor's 工号 or name."""
    query = select(AuditLog, User).outerjoin(User, User.id == AuditLog.actor_id)
    if action:
        query = query.where(AuditLog.action == action)
    if actor:
        query = query.where((User.username == actor) | (User.name == actor))
    return query.order_by(AuditLog.at.desc(), AuditLog.id.desc())


def count(db: Session, query: Select) -> int:
    return db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not evaluate: formula-looking text gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(header: list[str], rows: Iterable[Iterable[object]]) -> bytes:
    """CSV in UTF-8 with a BOM (so Excel reads Chinese), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def describe(details: dict[str, Any]) -> str:
    """One line of the details for the log page and the CSV."""
    parts = []
    for key, value in details.items():
        if isinstance(value, dict) and set(value) <= {"before", "after"}:
            parts.append(f"{key}: {value.get('before')!s} → {value.get('after')!s}")
        else:
            parts.append(f"{key}: {value}")
    return "；".join(parts)
