"""SQLite backups: online copies (consistent while the app writes), rotation, restore.

A backup is written to a temporary name in the backups folder and renamed when complete, so
a full disk or an unwritable folder leaves the earlier backups as they were. Restore refuses
to replace the database of a running server (``tifa serve`` and ``tifa scheduler`` hold a pid
file in the instance folder) unless forced, and checks the backup before it touches anything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

KEEP_DAILY = 7
KEEP_WEEKLY = 4
NAME = re.compile(r"^tifa-(\d{8})-(\d{6})\.db$")
PID_FILE = "tifa.pid"


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    taken_at: datetime

    @property
    def day(self) -> date:
        return self.taken_at.date()

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases or in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def backups_dir(instance_path: str | Path) -> Path:
    return Path(instance_path) / "backups"


def _connect(path: Path) -> sqlite3.Connection:
    # Not mode=ro: a read-only connection cannot open a WAL database whose -shm file is missing.
    return sqlite3.connect(path, timeout=30)


def take_backup(database: Path, folder: Path, now: datetime | None = None) -> BackupFile:
    """Copy ``database`` into ``folder`` with the sqlite3 online backup API; returns the new file.

    The copy is one consistent snapshot (a read transaction in WAL mode: writers carry on).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if not database.exists():
        raise BackupError(f"数据库文件不存在：{database}。请检查 TIFA_DATABASE_URL。")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"无法创建备份目录 {folder}：{exc.strerror}。请检查目录权限。") from None
    final = folder / f"tifa-{now:%Y%m%d-%H%M%S}.db"
    temp = folder / f".{final.name}.{os.getpid()}.tmp"
    try:
        source = _connect(database)
        try:
            target = sqlite3.connect(temp)
            try:
                source.backup(target)  # all pages in one step: one snapshot
                target.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
            finally:
                target.close()
        finally:
            source.close()
        _check(temp)
        os.replace(temp, final)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BackupError(f"备份失败（{reason}），已有的备份未受影响。请检查 {folder} 的磁盘空间和写权限。") from None
    return BackupFile(final, now.replace(microsecond=0))


def _check(path: Path) -> None:
    conn = _connect(path)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    if result != "ok":
        raise sqlite3.DatabaseError(f"integrity_check: {result}")


def list_backups(folder: Path) -> list[BackupFile]:
    """Completed backups, newest first (temporary files are not listed)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = NAME.match(path.name)
        if match:
            taken = datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            found.append(BackupFile(path, taken))
    return sorted(found, key=lambda b: b.taken_at, reverse=True)


def to_keep(backups: list[BackupFile], daily: int = KEEP_DAILY, weekly: int = KEEP_WEEKLY) -> set[Path]:
    """The newest backup of each of the latest ``daily`` days and of the latest ``weekly`` ISO weeks."""
    keep: set[Path] = set()
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    for backup in sorted(backups, key=lambda b: b.taken_at, reverse=True):
        if backup.day not in days and len(days) < daily:
            days.add(backup.day)
            keep.add(backup.path)
        week = backup.day.isocalendar()[:2]
        if week not in weeks and len(weeks) < weekly:
            weeks.add(week)
            keep.add(backup.path)
    return keep


def rotate(folder: Path, daily: int = KEEP_DAILY, weekly: int = KEEP_WEEKLY) -> list[Path]:
    """Delete backups outside the retention; returns the deleted paths."""
    backups = list_backups(folder)
    keep = to_keep(backups, daily, weekly)
    removed = []
    for backup in backups:
        if backup.path not in keep:
            backup.path.unlink()
            removed.append(backup.path)
    return removed


# -- running marker -------------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pids(instance_path: str | Path) -> list[int]:
    """Pids of live Tifa processes (server or scheduler) using this instance folder."""
    path = Path(instance_path) / PID_FILE
    try:
        lines = path.read_text().split()
    except OSError:
        return []
    return [pid for pid in (int(x) for x in lines if x.isdigit()) if pid != os.getpid() and _pid_alive(pid)]


@contextlib.contextmanager
def running_marker(instance_path: str | Path) -> Iterator[None]:
    """Record this process in the instance's pid file while it serves (restore checks it)."""
    path = Path(instance_path) / PID_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            others = [str(pid) for pid in running_pids(instance_path)]
            if others:
                path.write_text("".join(f"{pid}\n" for pid in others))
            else:
                path.unlink()


def restore(backup: Path, database: Path, instance_path: str | Path, force: bool = False,
            now: datetime | None = None) -> Path | None:
    """Replace ``database`` with ``backup``; returns where the replaced database was kept (or None).

    Refuses while a Tifa server or scheduler runs on this instance unless ``force``.
    """
    if not backup.is_file():
        raise BackupError(f"备份文件不存在：{backup}。可用 tifa backup list 查看已有备份。")
    try:
        _check(backup)
    except sqlite3.Error as exc:
        raise BackupError(f"{backup} 不是完好的 SQLite 数据库（{exc}），未做任何更改。") from None
    pids = running_pids(instance_path)
    if pids and not force:
        raise BackupError(
            f"提法卡正在运行（进程 {', '.join(map(str, pids))}），恢复会覆盖正在使用的数据库。"
            "请先停止 tifa serve / tifa scheduler；确需立即覆盖请加 --force。")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    database.parent.mkdir(parents=True, exist_ok=True)
    temp = database.with_name(f".{database.name}.restore.tmp")
    kept: Path | None = None
    try:
        source = _connect(backup)
        try:
            target = sqlite3.connect(temp)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        if database.exists():
            kept = database.with_name(f"{database.name}.before-restore-{now:%Y%m%d-%H%M%S}")
            # Fold the WAL into the old file first, so the kept copy is complete on its own.
            with contextlib.suppress(sqlite3.Error):
                conn = sqlite3.connect(database, timeout=30)
                try:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    conn.close()
            os.replace(database, kept)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{database}{suffix}").unlink()
        os.replace(temp, database)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise BackupError(f"恢复失败：{exc}。请检查 {database.parent} 的磁盘空间和写权限。") from None
    return kept
