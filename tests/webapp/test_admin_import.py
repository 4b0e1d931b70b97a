"""Bulk import of staff: per-row preview, broken files explained, nothing written unless all is well."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import func, select

from admin_helpers import as_admin, hidden, post_multipart
from helpers import get_user, login
from webapp.db import session_scope
from webapp.models import AuditLog, Department, User
from webapp.services.passwords import verify_password

GOOD = ("工号,姓名,部门,邮箱,角色\n1001,张三,马克思主义学院,zhang@example.edu.cn,员工\n"
        "1002,李四,外国语学院,,部门管理员\n")


def _users(app: Flask) -> int:
    with session_scope(app) as db:
        return db.scalar(select(func.count()).select_from(User))


def _departments(app: Flask) -> set[str]:
    with session_scope(app) as db:
        return set(db.scalars(select(Department.name)))


def _department_of(app: Flask, username: str) -> str | None:
    with session_scope(app) as db:
        return db.scalar(select(Department.name).join(User, User.department_id == Department.id)
                         .where(User.username == username))


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _preview(client, data: bytes, filename: str):  # noqa: ANN001, ANN202
    return post_multipart(client, "/admin/staff/import", {"file": (io.BytesIO(data), filename)})


def test_preview_then_confirm_creates_and_updates(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    make_user("1001", name="旧名字", department="马克思主义学院")
    before = _users(app)
    resp = _preview(client, GOOD.encode("utf-8-sig"), "staff.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "新建 1" in html and "更新 1" in html and "姓名：旧名字 → 张三" in html
    assert "将新建部门“外国语学院”" in html
    assert _users(app) == before and "外国语学院" not in _departments(app)  # the preview wrote nothing

    done = post_multipart(client, "/admin/staff/import/confirm", {"token": hidden(html, "token")})
    page = done.get_data(as_text=True)
    assert done.status_code == 200, page
    password = re.search(r'<td>1002</td><td>李四</td><td class="secret-cell">([^<]+)</td>', page).group(1)
    li = get_user(app, "1002")
    assert li.role == "dept_admin" and li.must_change_password and verify_password(li.password_hash, password)
    with session_scope(app) as db:
        assert [d.name for d in db.get(User, li.id).managed_departments] == ["外国语学院"]
        entry = db.scalar(select(AuditLog).where(AuditLog.action == "users.import"))
        assert entry.details["created"] == ["1002"] and entry.details["updated"] == ["1001"]
        assert password not in str(entry.details)
    assert get_user(app, "1001").name == "张三"


def test_gbk_csv_is_read(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    resp = _preview(client, GOOD.encode("gbk"), "staff.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "张三" in html and "马克思主义学院" in html


@pytest.mark.parametrize(("data", "filename", "message"), [
    ("编号,名字\n1,张三\n".encode(), "a.csv", "缺少列：工号、姓名"),
    ("工号,姓名,职务\n1,张三,教授\n".encode(), "a.csv", "无法识别的列：职务"),
    ("工号,姓名\n".encode(), "a.csv", "只有表头"),
    (b"", "a.csv", "文件是空的"),
    (_xlsx([]), "empty.xlsx", "文件是空的"),
    (b"PK\x03\x04 broken", "broken.xlsx", "无法打开这个 XLSX 文件"),
    (b"whatever", "a.pdf", "只支持 .csv 和 .xlsx"),
])
def test_broken_files_are_explained_and_nothing_is_written(app: Flask, client, make_user, data, filename,
                                                           message) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    before = _users(app)
    resp = _preview(client, data, filename)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert message in html and 'id="import-blocked"' in html and 'name="token"' not in html
    assert _users(app) == before


def test_row_errors_carry_row_numbers_and_block_the_whole_file(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    rows = [["工号", "姓名", "部门", "邮箱", "角色"],
            [2001, "甲", "马克思主义学院", "", ""],
            [2002, "乙", "马克思主义学院", "bad-email", ""],
            [2001, "丙", "马克思主义学院", "", ""],
            [2003, "", "马克思主义学院", "", ""],
            [2004, "丁", "马克思主义学院", "", "校长"]]
    resp = _preview(client, _xlsx(rows), "staff.xlsx")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "第 3 行：邮箱“bad-email”格式不正确" in html
    assert "第 4 行：工号 2001 与第 2 行重复" in html
    assert "第 5 行：姓名为空" in html
    assert "第 6 行：未知角色“校长”" in html
    assert 'data-row="2" class' not in html and "有错误 4" in html
    assert get_user(app, "2001") is None  # the good row was not written either


def test_dept_admin_imports_only_into_their_departments(app: Flask, client, make_user) -> None:  # noqa: ANN001
    make_user("3001", department="外国语学院")
    as_admin(client, make_user, username="sec", role="dept_admin", department="马克思主义学院")
    csv = ("工号,姓名,部门,角色\n3001,改名,马克思主义学院,\n3002,新人,未知部门,\n3003,新人2,马克思主义学院,超级管理员\n"
           "3004,新人3,马克思主义学院,\n")
    html = _preview(client, csv.encode(), "a.csv").get_data(as_text=True)
    assert "第 2 行：工号 3001 已存在且属于其他部门" in html
    assert "第 3 行：部门“未知部门”不存在" in html
    assert "第 4 行：只有超级管理员可以通过导入设置管理员角色" in html
    assert "有错误 3" in html and "未知部门" not in _departments(app)
    ok = _preview(client, "工号,姓名,部门\n3004,新人3,马克思主义学院\n".encode(), "a.csv")
    assert ok.status_code == 200
    post_multipart(client, "/admin/staff/import/confirm", {"token": hidden(ok.get_data(as_text=True), "token")})
    assert _department_of(app, "3004") == "马克思主义学院"
    assert get_user(app, "3001").name == "用户3001"


def test_confirm_rechecks_and_stays_all_or_nothing(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    html = _preview(client, GOOD.encode(), "a.csv").get_data(as_text=True)
    token = hidden(html, "token")
    # Between preview and confirm someone else created 1002: the confirm plans again and updates that row.
    make_user("1002", name="李四", department="外国语学院")
    resp = post_multipart(client, "/admin/staff/import/confirm", {"token": token})
    assert resp.status_code == 200
    assert get_user(app, "1002").role == "dept_admin" and get_user(app, "1001").name == "张三"
    again = post_multipart(client, "/admin/staff/import/confirm", {"token": token})
    assert again.status_code == 400 and "预览已过期或已确认过" in again.get_data(as_text=True)


def test_import_cannot_demote_the_last_super_admin(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    html = _preview(client, "工号,姓名,角色\nboss,老板,员工\n".encode(), "a.csv").get_data(as_text=True)
    assert "这是最后一位超级管理员" in html
    assert get_user(app, "boss").role == "super_admin"


def test_import_page_access(app: Flask, client, make_user) -> None:  # noqa: ANN001
    assert client.get("/admin/staff/import").status_code == 302
    make_user("u1")
    login(client, "u1")
    assert client.get("/admin/staff/import").status_code == 403


def test_cli_import_dry_run_and_real(app: Flask, runner, make_user, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import webapp.cli as cli

    monkeypatch.setattr("webapp.create_app", lambda config=None: app)
    path = tmp_path / "staff.csv"
    path.write_bytes(GOOD.encode("gbk"))
    result = runner.invoke(cli.main, ["users", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "第 2 行 1001 张三: 新建" in result.output and "试运行" in result.output
    assert get_user(app, "1001") is None
    result = runner.invoke(cli.main, ["users", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "新建 2" in result.output and _department_of(app, "1002") == "外国语学院"
    bad = tmp_path / "bad.csv"
    bad.write_text("工号,姓名\n,张三\n", encoding="utf-8")
    result = runner.invoke(cli.main, ["users", "import", str(bad)])
    assert result.exit_code == 1 and "第 2 行" in result.output and "工号为空" in result.output
