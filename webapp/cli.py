"""The ``tifa`` command line (click)."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from .db import DatabaseUnavailable


def _app():  # noqa: ANN202
    """The app for this command; its connection pool is closed when the command ends."""
    from . import create_app
    from .db import get_engine

    app = create_app()
    click.get_current_context().call_on_close(lambda: get_engine(app).dispose())
    return app


def _fail(message: str) -> None:
    click.echo(f"错误 / error: {message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """提法卡 Tifa: study-material flashcards with SM-2 review."""


@main.command()
@click.option("--no-seed", is_flag=True, help="Do not import the seed materials.")
def init(no_seed: bool) -> None:
    """Create or upgrade the database schema, seed it and create the first admin (idempotent)."""
    from .bootstrap import initialise
    from .seeding import SeedError

    app = _app()
    try:
        result = initialise(app, with_seeds=not no_seed)
    except (DatabaseUnavailable, SeedError) as exc:
        _fail(str(exc))
    _report_init(result)


def _report_init(result) -> None:  # noqa: ANN001
    for identity in result.seeded:
        click.echo(f"已导入种子材料 / seeded: {identity}")
    if result.admin_created:
        click.echo("已创建管理员账号 / admin account created: admin")
        if result.admin_password:
            click.echo(f"初始密码（只显示这一次）/ initial password (shown once): {result.admin_password}")


@main.command()
@click.option("--host", default=lambda: os.environ.get("TIFA_HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("TIFA_PORT", "5000")), type=int,
              show_default="5000")
@click.option("--threads", default=8, type=int, show_default=True)
def serve(host: str, port: int, threads: int) -> None:
    """Migrate, seed on first start and serve with waitress."""
    from waitress import serve as waitress_serve

    from .bootstrap import initialise
    from .seeding import SeedError

    app = _app()
    try:
        result = initialise(app)
    except (DatabaseUnavailable, SeedError) as exc:
        _fail(str(exc))
    _report_init(result)
    scheduler = _start_background_scheduler(app)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"提法卡已启动 / Tifa is running: http://{shown_host}:{port}/login")
    from .backup import running_marker

    try:
        with running_marker(app.instance_path):  # tifa backup restore refuses while this runs
            waitress_serve(app, host=host, port=port, threads=threads, ident="tifa")
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


def _start_background_scheduler(app):  # noqa: ANN001, ANN202
    if not app.config.get("SCHEDULER"):
        return None
    try:
        from .jobs_runner import start_background
    except ImportError:
        return None
    return start_background(app)


@main.group()
def users() -> None:
    """Manage staff accounts."""


@users.command("create")
@click.argument("username")
@click.option("--name", required=True, help="Display name (姓名).")
@click.option("--department", default=None, help="Department (部门); created when new.")
@click.option("--email", default=None)
@click.option("--admin", "role", flag_value="super_admin", help="Make a super admin.")
@click.option("--dept-admin", "role", flag_value="dept_admin", help="Make an admin of --department.")
@click.option("--password", default=None, help="Initial password; generated and printed when omitted.")
def users_create(username: str, name: str, department: str | None, email: str | None, role: str | None,
                 password: str | None) -> None:
    """Create a staff account (the person must change the password at first login)."""
    from .db import session_scope
    from .services.passwords import generate_password
    from .services.users import UserError, create_user

    app = _app()
    generated = password is None
    password = password or generate_password()
    try:
        with session_scope(app, write=True) as db:
            user = create_user(db, username, name, password, department=department, email=email,
                               role=role or "staff", must_change_password=True,
                               check_strength=not generated)
            if role == "dept_admin" and user.department is not None:
                user.managed_departments.append(user.department)
    except UserError as exc:
        _fail(str(exc))
    except Exception as exc:  # database unreachable or schema missing
        _fail(f"{exc.__class__.__name__}: {exc}。请先运行 tifa init，并检查 TIFA_DATABASE_URL。")
    click.echo(f"已创建 / created: {username}")
    if generated:
        click.echo(f"初始密码 / initial password: {password}")


@users.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Only show what would change; write nothing.")
def users_import(file: str, dry_run: bool) -> None:
    """Create or update staff from a CSV (UTF-8/GBK) or XLSX file: 工号, 姓名, 部门, 邮箱, 角色."""
    from pathlib import Path

    from .db import session_scope
    from .services.staff import StaffError, apply_import, plan_import

    app = _app()
    data = Path(file).read_bytes()
    try:
        with session_scope(app, write=not dry_run) as db:
            plan = plan_import(db, None, data, file)
            for message in plan.errors:
                click.echo(f"错误 / error: {message}", err=True)
            for row in plan.rows:
                for message in row.errors:
                    click.echo(f"第 {row.row} 行 / row {row.row}: {message}", err=True)
            if not plan.ok:
                db.rollback()
                _fail("文件有错误，未写入任何数据 / nothing was written")
            for row in plan.rows:
                label = {"create": "新建 create", "update": "更新 update", "unchanged": "不变 unchanged"}[row.action]
                details = "；".join(row.changes + row.notes)
                click.echo(f"第 {row.row} 行 {row.username} {row.name}: {label}{'  ' + details if details else ''}")
            if dry_run:
                db.rollback()
                click.echo(f"试运行，未写入 / dry run, nothing written: 新建 {plan.count('create')}，"
                           f"更新 {plan.count('update')}，不变 {plan.count('unchanged')}")
                return
            created = apply_import(db, None, plan)
    except StaffError as exc:
        _fail(str(exc))
    click.echo(f"已导入 / imported: 新建 {len(created)}，更新 {plan.count('update')}")
    for username, name, password in created:
        click.echo(f"{username}\t{name}\t初始密码 / initial password: {password}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the interface other tools use).")
@click.option("--identity", default=None, help="Material identity slug (default: from the file name).")
def extract(file: str, as_json: bool, identity: str | None) -> None:
    """Extract the key formulations of a material as cloze notes (same as python -m cards extract)."""
    from cards.cli import extract_command

    sys.exit(extract_command(file, as_json=as_json, identity=identity))


@main.command("export-apkg")
@click.option("--deck", "decks", multiple=True, metavar="KEY", help="Deck key (repeatable); default: all published.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .apkg file to write.")
def export_apkg(decks: tuple[str, ...], output: str) -> None:
    """Export published decks to one Anki package (re-imports update notes in place)."""
    from cards.anki import ExportError, write_apkg

    from .db import session_scope
    from .services.anki_export import load_export_decks

    app = _app()
    try:
        with session_scope(app) as db:
            summary = write_apkg(load_export_decks(db, keys=list(decks) or None), output)
    except ExportError as exc:
        _fail(exc.one_line())
    click.echo(f"已导出 {summary.decks} 个卡组、{summary.notes} 条笔记、{summary.cards} 张卡片到 {output} / "
               f"exported {summary.decks} decks, {summary.notes} notes, {summary.cards} cards")


@main.command("scheduler")
def scheduler_command() -> None:
    """Run the background jobs in this process (for deployments with several web processes)."""
    import logging

    from .backup import running_marker
    from .jobs_runner import run_blocking

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = _app()
    click.echo("后台任务调度已启动（Ctrl+C 停止）/ scheduler running")
    with running_marker(app.instance_path), contextlib.suppress(KeyboardInterrupt, SystemExit):
        run_blocking(app)


@main.group()
def backup() -> None:
    """SQLite backups in instance/backups/ (online, consistent while the app runs)."""


def _sqlite_database(app):  # noqa: ANN001, ANN202
    from .backup import sqlite_path

    database = sqlite_path(app.config["DATABASE_URL"])
    if database is None:
        _fail("数据库不是 SQLite：请用 pg_dump / pg_restore 备份和恢复 PostgreSQL。")
    return database


@backup.command("now")
def backup_now() -> None:
    """Take a backup now (and apply the 7 daily / 4 weekly retention)."""
    from .backup import BackupError, backups_dir, rotate, take_backup

    app = _app()
    database = _sqlite_database(app)
    try:
        taken = take_backup(database, backups_dir(app.instance_path))
    except BackupError as exc:
        _fail(str(exc))
    removed = rotate(backups_dir(app.instance_path))
    click.echo(f"已备份 / backup written: {taken.path} ({taken.size // 1024} KB)")
    if removed:
        click.echo(f"已清理旧备份 / old backups removed: {len(removed)}")


@backup.command("list")
def backup_list() -> None:
    """List backups, newest first."""
    from .backup import backups_dir, list_backups

    app = _app()
    found = list_backups(backups_dir(app.instance_path))
    if not found:
        click.echo(f"没有备份 / no backups in {backups_dir(app.instance_path)}")
    for item in found:
        click.echo(f"{item.path}\t{item.taken_at:%Y-%m-%d %H:%M:%S} UTC\t{item.size // 1024} KB")


@backup.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite even while tifa serve / tifa scheduler is running.")
def backup_restore(file: str, force: bool) -> None:
    """Replace the database with backup FILE (the current one is kept beside it)."""
    from pathlib import Path

    from .backup import BackupError, restore
    from .db import get_engine

    app = _app()
    database = _sqlite_database(app)
    get_engine(app).dispose()
    try:
        kept = restore(Path(file), database, app.instance_path, force=force)
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"已恢复 / restored: {file} -> {database}")
    if kept is not None:
        click.echo(f"原数据库已保留为 / previous database kept as: {kept}")


@main.command()
@click.option("--repair", is_flag=True, help="First rebuild the due tallies and live-card counts.")
def check(repair: bool) -> None:
    """Replay the review log through SM-2 and compare with every stored review state."""
    from .db import session_scope
    from .services import tallies
    from .services.integrity import check as run_check

    app = _app()
    if repair:
        with session_scope(app, write=True) as db:
            tallies.rebuild(db)
        click.echo("已重新统计到期计数 / due tallies rebuilt")
    with session_scope(app) as db:
        report = run_check(db)
    click.echo(f"已检查 {report.cards_checked} 张卡片、重放 {report.grades_replayed} 次评分 / "
               f"checked {report.cards_checked} cards, replayed {report.grades_replayed} grades")
    for problem in report.problems:
        click.echo(f"不一致 / mismatch: {problem}")
    if not report.ok:
        sys.exit(1)
    click.echo("一致 / consistent")


if __name__ == "__main__":  # pragma: no cover
    main()
