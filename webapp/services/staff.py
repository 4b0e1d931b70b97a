"""Staff and departments as admins manage them: scope, roles, deactivation, passwords, bulk import.

Rules enforced here (not in the views), inside the caller's writing transaction:
a department admin only touches their departments' staff; only super admins change roles; the
last active super admin can be neither demoted nor deactivated.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import ROLE_DEPT_ADMIN, ROLE_STAFF, ROLE_SUPER_ADMIN, AdminDepartment, Department, User
from .audit import audit
from .passwords import generate_password
from .users import UserError

ROLE_LABELS = {ROLE_STAFF: "员工", ROLE_DEPT_ADMIN: "部门管理员", ROLE_SUPER_ADMIN: "超级管理员"}
_ROLE_WORDS = {
    "": None, "员工": ROLE_STAFF, "普通员工": ROLE_STAFF, "staff": ROLE_STAFF,
    "部门管理员": ROLE_DEPT_ADMIN, "支部书记": ROLE_DEPT_ADMIN, "dept_admin": ROLE_DEPT_ADMIN,
    "超级管理员": ROLE_SUPER_ADMIN, "super_admin": ROLE_SUPER_ADMIN,
}
IMPORT_COLUMNS = ("工号", "姓名", "部门", "邮箱", "角色")
REQUIRED_COLUMNS = ("工号", "姓名")
MAX_IMPORT_ROWS = 5000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USERNAME = re.compile(r"^\S{1,64}$")


# Temporary passwords are random (96 bits from generate_password), so guessing them is hopeless at
# any hash cost; a light argon2 keeps a 1,000-row import at seconds instead of minutes. The login
# re-hashes with the full parameters (needs_rehash) and the holder must change it anyway.
_TEMP_HASHER = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)


def hash_temporary(password: str) -> str:
    return _TEMP_HASHER.hash(password)


class StaffError(UserError):
    """A staff change is refused; the message (Chinese) says why and what to do."""


# --- scope -------------------------------------------------------------------------------------

def managed_ids(db: Session, actor: User | None) -> set[int] | None:
    """The department ids ``actor`` manages, or None for a super admin or the command line (all)."""
    if actor is None or actor.is_super_admin:
        return None
    return set(db.scalars(select(AdminDepartment.department_id).where(AdminDepartment.user_id == actor.id)))


def may_manage(db: Session, actor: User, target: User) -> bool:
    """Super admins manage everyone; a department admin only the *staff* of their departments: resetting the
    password of an administrator who sits in that department would hand over that administrator's rights."""
    scope = managed_ids(db, actor)
    if scope is None:
        return True
    return target.role == ROLE_STAFF and target.department_id is not None and target.department_id in scope


def visible_departments(db: Session, actor: User) -> list[Department]:
    query = select(Department).order_by(Department.name)
    scope = managed_ids(db, actor)
    if scope is not None:
        query = query.where(Department.id.in_(scope or {-1}))
    return list(db.scalars(query))


def _check_department(db: Session, actor: User, department_id: int | None) -> Department | None:
    if department_id is None:
        if not actor.is_super_admin:
            raise StaffError("请选择部门：部门管理员只能管理本部门人员。")
        return None
    dept = db.get(Department, department_id)
    if dept is None:
        raise StaffError("所选部门不存在：请刷新页面后重新选择。")
    scope = managed_ids(db, actor)
    if scope is not None and dept.id not in scope:
        raise StaffError(f"您无权管理部门“{dept.name}”：请选择您负责的部门。")
    return dept


def _check_target(db: Session, actor: User, target: User) -> None:
    if not may_manage(db, actor, target):
        raise StaffError("您无权管理该人员：他/她不在您负责的部门。")


def _other_super_admins(db: Session, user: User) -> int:
    """Active super admins besides ``user``, counted with every super admin row locked (PostgreSQL).

    All rows are locked in id order, the target's too: two admins demoting each other at once then
    queue on the same first row instead of deadlocking, and the second counts again after the first
    commits, so one super admin always remains (SQLite serialises writers with BEGIN IMMEDIATE).
    """
    ids = db.scalars(select(User.id).where(User.role == ROLE_SUPER_ADMIN, User.active.is_(True))
                     .order_by(User.id).with_for_update()).all()
    return sum(1 for i in ids if i != user.id)


def _clean_email(email: str | None) -> str | None:
    email = (email or "").strip()
    if email and not _EMAIL.match(email):
        raise StaffError(f"邮箱“{email}”格式不正确：应类似 name@example.edu.cn，或留空。")
    return email or None


# --- single changes ----------------------------------------------------------------------------

def create_staff(db: Session, actor: User, *, username: str, name: str, department_id: int | None,
                 email: str | None = None) -> tuple[User, str]:
    """A new staff account with a temporary password (changed at first login)."""
    username, name = (username or "").strip(), (name or "").strip()
    if not _USERNAME.match(username):
        raise StaffError("工号不能为空，不能含空格，最长 64 个字符。")
    if not name:
        raise StaffError("请填写姓名。")
    dept = _check_department(db, actor, department_id)
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise StaffError(f"工号 {username} 已存在：请检查是否重复录入，或在人员列表中编辑该人员。")
    password = generate_password()
    user = User(username=username, name=name[:100], email=_clean_email(email), role=ROLE_STAFF,
                password_hash=hash_temporary(password), must_change_password=True,
                department_id=dept.id if dept else None)
    db.add(user)
    db.flush()
    audit(db, actor, "user.create", "user", user.id, username=username, name=user.name,
          department=dept.name if dept else None)
    return user, password


def update_staff(db: Session, actor: User, target: User, *, name: str, email: str | None,
                 department_id: int | None) -> dict:
    """Edit name, email and department; returns the changes (also audited)."""
    _check_target(db, actor, target)
    name = (name or "").strip()
    if not name:
        raise StaffError("请填写姓名。")
    dept = _check_department(db, actor, department_id)
    changes = {}
    new = {"name": name[:100], "email": _clean_email(email), "department_id": dept.id if dept else None}
    for attr, value in new.items():
        old = getattr(target, attr)
        if old != value:
            changes[attr] = {"before": old, "after": value}
            setattr(target, attr, value)
    if changes:
        audit(db, actor, "user.update", "user", target.id, username=target.username, **changes)
    return changes


def set_active(db: Session, actor: User, target: User, active: bool) -> None:
    """Deactivate (keeps history, blocks login) or reactivate someone."""
    _check_target(db, actor, target)
    if target.active == active:
        return
    if not active:
        if target.id == actor.id:
            raise StaffError("不能停用自己的账号：请让另一位管理员操作。")
        if target.role == ROLE_SUPER_ADMIN and _other_super_admins(db, target) == 0:
            raise StaffError("这是最后一位超级管理员，不能停用：请先任命另一位超级管理员。")
    target.active = active
    audit(db, actor, "user.activate" if active else "user.deactivate", "user", target.id,
          username=target.username)


def reset_password(db: Session, actor: User, target: User) -> str:
    """A new temporary password (shown once), to be changed at next login; unlocks the account."""
    _check_target(db, actor, target)
    password = generate_password()
    target.password_hash = hash_temporary(password)
    target.must_change_password = True
    target.failed_logins = 0
    target.locked_until = None
    audit(db, actor, "user.password_reset", "user", target.id, username=target.username)
    return password


def set_role(db: Session, actor: User, target: User, role: str, department_ids: list[int]) -> None:
    """Make someone staff, a department admin of the given departments, or a super admin."""
    if not actor.is_super_admin:
        raise StaffError("只有超级管理员可以修改角色。")
    if role not in ROLE_LABELS:
        raise StaffError("未知角色：请选择员工、部门管理员或超级管理员。")
    depts = list(db.scalars(select(Department).where(Department.id.in_(department_ids or [-1]))))
    if len(depts) != len(set(department_ids)):
        raise StaffError("所选部门不存在：请刷新页面后重新选择。")
    if role == ROLE_DEPT_ADMIN and not depts:
        raise StaffError("部门管理员至少要负责一个部门：请勾选部门。")
    if target.role == ROLE_SUPER_ADMIN and role != ROLE_SUPER_ADMIN and _other_super_admins(db, target) == 0:
        raise StaffError("这是最后一位超级管理员，不能取消其超级管理员角色：请先任命另一位超级管理员。")
    before = {"role": target.role, "departments": sorted(d.name for d in target.managed_departments)}
    target.role = role
    target.managed_departments = depts if role == ROLE_DEPT_ADMIN else []
    after = {"role": role, "departments": sorted(d.name for d in target.managed_departments)}
    if before != after:
        audit(db, actor, "user.role", "user", target.id, username=target.username, before=before, after=after)


def create_department(db: Session, actor: User, name: str) -> Department:
    if not actor.is_super_admin:
        raise StaffError("只有超级管理员可以新建部门。")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise StaffError("部门名称不能为空，最长 100 个字符。")
    if db.scalar(select(Department.id).where(Department.name == name)) is not None:
        raise StaffError(f"部门“{name}”已存在。")
    dept = Department(name=name)
    db.add(dept)
    db.flush()
    audit(db, actor, "department.create", "department", dept.id, name=name)
    return dept


def rename_department(db: Session, actor: User, dept: Department, name: str) -> None:
    if not actor.is_super_admin:
        raise StaffError("只有超级管理员可以重命名部门。")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise StaffError("部门名称不能为空，最长 100 个字符。")
    if name == dept.name:
        return
    if db.scalar(select(Department.id).where(Department.name == name)) is not None:
        raise StaffError(f"部门“{name}”已存在：请换一个名称。")
    audit(db, actor, "department.rename", "department", dept.id, name={"before": dept.name, "after": name})
    dept.name = name


def department_counts(db: Session) -> dict[int, int]:
    rows = db.execute(select(User.department_id, func.count()).where(User.active.is_(True))
                      .group_by(User.department_id))
    return {dept_id: n for dept_id, n in rows if dept_id is not None}


# --- bulk import -------------------------------------------------------------------------------

@dataclass
class ImportRow:
    row: int  # the spreadsheet's row number (the header is row 1)
    username: str
    name: str
    department: str
    email: str
    role_word: str
    action: str = ""  # create | update | unchanged
    role: str | None = None
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # about the file as a whole
    new_departments: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not any(r.errors for r in self.rows)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), then GB18030 (covers GBK), only then charset-normalizer."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise StaffError("无法识别 CSV 文件的编码：请在 Excel 中另存为“CSV UTF-8”后重新上传。")
    return str(best)


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """The rows of a CSV or XLSX file as text cells (the first row is the header)."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".xlsx":
        return _read_xlsx(data)
    if suffix in (".csv", ".txt"):
        text = decode_csv(data)
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;，")
        except csv.Error:
            dialect = csv.excel
        try:
            return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""), dialect)]
        except csv.Error as exc:  # e.g. a stray carriage return in an unquoted cell
            raise StaffError(f"CSV 文件格式有误（{exc}）：请在 Excel 中另存为“CSV UTF-8”后重新上传。") from None
    raise StaffError("只支持 .csv 和 .xlsx 文件：请在 Excel 中另存为这两种格式之一。")


def _read_xlsx(data: bytes) -> list[list[str]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise StaffError("无法打开这个 XLSX 文件：文件可能已损坏，或不是 Excel 2007 以后的格式。") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append([_cell(v) for v in values])
            if len(rows) > MAX_IMPORT_ROWS + 1:
                break
        return rows
    finally:
        book.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 工号 typed as a number in Excel
    return str(value).strip()


def plan_import(db: Session, actor: User | None, data: bytes, filename: str) -> ImportPlan:
    """What importing the file would do, row by row, without writing anything (actor None: the CLI)."""
    plan = ImportPlan()
    try:
        table = read_table(data, filename)
    except StaffError as exc:
        plan.errors.append(str(exc))
        return plan
    table = [row for row in table if any(cell for cell in row)]
    if not table:
        plan.errors.append("文件是空的：第一行应为表头（工号, 姓名, 部门, 邮箱, 角色），其后每行一人。")
        return plan
    header = [h.strip().lstrip("\ufeff") for h in table[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        plan.errors.append(f"缺少列：{'、'.join(missing)}。第一行应为表头：{', '.join(IMPORT_COLUMNS)}"
                           f"（部门、邮箱、角色可省略）；现在的表头是：{', '.join(h for h in header if h) or '空'}。")
        return plan
    unknown = [h for h in header if h and h not in IMPORT_COLUMNS]
    if unknown:
        plan.errors.append(f"无法识别的列：{'、'.join(unknown)}。只能包含：{', '.join(IMPORT_COLUMNS)}。")
        return plan
    if len(table) == 1:
        plan.errors.append("文件只有表头，没有人员数据：请从第 2 行起每行填写一人。")
        return plan
    if len(table) - 1 > MAX_IMPORT_ROWS:
        plan.errors.append(f"一次最多导入 {MAX_IMPORT_ROWS} 人：请拆分文件。")
        return plan

    col = {name: header.index(name) for name in IMPORT_COLUMNS if name in header}

    def get(row: list[str], name: str) -> str:
        i = col.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    rows = [ImportRow(row=n, username=get(r, "工号"), name=get(r, "姓名"), department=get(r, "部门"),
                      email=get(r, "邮箱"), role_word=get(r, "角色")) for n, r in enumerate(table[1:], 2)]
    usernames = [r.username for r in rows if r.username]
    users = {u.username: u for u in db.scalars(select(User).where(User.username.in_(usernames or [""])))}
    depts = {d.name: d for d in db.scalars(select(Department))}
    scope = managed_ids(db, actor)
    first_row: dict[str, int] = {}
    supers_left = set(db.scalars(select(User.id).where(User.role == ROLE_SUPER_ADMIN, User.active.is_(True))))
    for r in rows:
        _plan_row(r, actor, users, depts, scope, first_row, supers_left, plan)
        plan.rows.append(r)
    return plan


def _plan_row(r: ImportRow, actor: User | None, users: dict[str, User], depts: dict[str, Department],
              scope: set[int] | None, first_row: dict[str, int], supers_left: set[int], plan: ImportPlan) -> None:
    if not r.username:
        r.errors.append("工号为空。")
    elif not _USERNAME.match(r.username):
        r.errors.append("工号不能含空格，最长 64 个字符。")
    elif r.username in first_row:
        r.errors.append(f"工号 {r.username} 与第 {first_row[r.username]} 行重复：每人只能出现一次。")
    else:
        first_row[r.username] = r.row
    if not r.name:
        r.errors.append("姓名为空。")
    elif len(r.name) > 100:
        r.errors.append("姓名超过 100 个字符。")
    if r.email and not _EMAIL.match(r.email):
        r.errors.append(f"邮箱“{r.email}”格式不正确。")
    if r.role_word not in _ROLE_WORDS:
        r.errors.append(f"未知角色“{r.role_word}”：应为 员工、部门管理员 或 超级管理员（留空表示员工或不变）。")
    else:
        r.role = _ROLE_WORDS[r.role_word]
    if r.role not in (None, ROLE_STAFF) and scope is not None:
        r.errors.append("只有超级管理员可以通过导入设置管理员角色：请把角色留空或填“员工”。")
    dept = depts.get(r.department) if r.department else None
    if r.department and dept is None:
        if scope is not None:
            r.errors.append(f"部门“{r.department}”不存在：部门管理员只能导入到自己负责的部门。")
        elif len(r.department) > 100:
            r.errors.append("部门名称超过 100 个字符。")
        else:
            r.notes.append(f"将新建部门“{r.department}”")
            if r.department not in plan.new_departments:
                plan.new_departments.append(r.department)
    elif dept is not None and scope is not None and dept.id not in scope:
        r.errors.append(f"您无权管理部门“{r.department}”。")
    if not r.department and scope is not None:
        r.errors.append("部门为空：部门管理员导入的人员必须属于自己负责的部门。")
    if r.role == ROLE_DEPT_ADMIN and not r.department:
        r.errors.append("部门管理员必须填写部门（他/她将负责该部门）。")

    user = users.get(r.username)
    if user is None:
        r.action = "create"
        return
    if scope is not None and (user.department_id is None or user.department_id not in scope):
        r.errors.append(f"工号 {r.username} 已存在且属于其他部门，您无权修改。")
    elif scope is not None and user.role != ROLE_STAFF:
        r.errors.append(f"工号 {r.username} 是管理员，只有超级管理员可以修改：请从表格中删除这一行。")
    current_dept = user.department.name if user.department else ""
    if r.name != user.name:
        r.changes.append(f"姓名：{user.name} → {r.name}")
    if r.department and r.department != current_dept:
        r.changes.append(f"部门：{current_dept or '无'} → {r.department}")
    if r.email and r.email != (user.email or ""):
        r.changes.append(f"邮箱：{user.email or '无'} → {r.email}")
    if r.role is not None and r.role != user.role:
        r.changes.append(f"角色：{ROLE_LABELS[user.role]} → {ROLE_LABELS[r.role]}")
        if user.role == ROLE_SUPER_ADMIN and user.active:
            supers_left.discard(user.id)
            if not supers_left:
                r.errors.append("这是最后一位超级管理员，不能改为其他角色。")
    if not user.active:
        r.notes.append("该账号已停用，导入不会重新启用")
    r.action = "update" if r.changes else "unchanged"


def apply_import(db: Session, actor: User | None, plan: ImportPlan) -> list[tuple[str, str, str]]:
    """Write a clean plan in the caller's transaction; returns (工号, 姓名, temporary password) of new staff."""
    if not plan.ok:
        raise StaffError("导入文件有错误，未写入任何数据：请按预览中的提示修改后重新上传。")
    depts = {d.name: d for d in db.scalars(select(Department))}
    for name in plan.new_departments:
        if name not in depts:
            depts[name] = Department(name=name)
            db.add(depts[name])
    db.flush()
    created: list[tuple[str, str, str]] = []
    updated: list[str] = []
    for r in plan.rows:
        dept = depts.get(r.department) if r.department else None
        if r.action == "create":
            password = generate_password()
            user = User(username=r.username, name=r.name, email=r.email or None, role=r.role or ROLE_STAFF,
                        password_hash=hash_temporary(password), must_change_password=True,
                        department_id=dept.id if dept else None)
            db.add(user)
            if user.role == ROLE_DEPT_ADMIN and dept is not None:
                user.managed_departments = [dept]
            created.append((r.username, r.name, password))
        elif r.action == "update":
            user = db.scalar(select(User).where(User.username == r.username))
            if user is None:  # deleted since the preview: refuse rather than guess
                raise StaffError(f"第 {r.row} 行的工号 {r.username} 在预览后被删除：请重新上传文件。")
            user.name = r.name
            if dept is not None:
                user.department_id = dept.id
            if r.email:
                user.email = r.email
            if r.role is not None and r.role != user.role:
                if user.role == ROLE_SUPER_ADMIN and _other_super_admins(db, user) == 0:
                    raise StaffError("这是最后一位超级管理员，不能改为其他角色。")
                user.role = r.role
                user.managed_departments = [dept or user.department] if r.role == ROLE_DEPT_ADMIN else []
            updated.append(r.username)
    db.flush()
    audit(db, actor, "users.import", "users", "", created=[c[0] for c in created], updated=updated,
          new_departments=plan.new_departments,
          changes={r.username: r.changes for r in plan.rows if r.action == "update"})
    return created
