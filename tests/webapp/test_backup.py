"""SQLite backups: online while cards are being graded, integrity, rotation, restore, refusals, CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from review_helpers import make_deck
from webapp import backup as backups
from webapp import jobs
from webapp.cli import main
from webapp.db import get_engine, session_scope
from webapp.models import Card, ReviewLog, User
from webapp.services.review import grade_card, issue_token

TZ = "Asia/Shanghai"


@pytest.fixture(autouse=True)
def _sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite backups (on PostgreSQL the job says to use pg_dump: see test_jobs.py)")


def database_of(app: Flask) -> Path:
    path = backups.sqlite_path(app.config["DATABASE_URL"])
    assert path is not None
    return path


def review_ids(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT id FROM review_logs ORDER BY id")]
    finally:
        conn.close()


class Grader(threading.Thread):
    """Keeps grading cards (through the review service) until stopped."""

    def __init__(self, app: Flask, user_ids: list[int], card_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.app, self.user_ids, self.card_ids = app, user_ids, card_ids
        self.stop = threading.Event()
        self.graded = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        now = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
        secret = self.app.config["SECRET_KEY"]
        try:
            while not self.stop.is_set():
                for user_id in self.user_ids:
                    for card_id in self.card_ids:
                        with session_scope(self.app) as db:
                            user = db.get(User, user_id)
                            # Grade 2 keeps the card "learning" so it can be graded again the same day.
                            token = issue_token(secret, user_id, card_id, self._version(db, user_id, card_id))
                            grade_card(db, secret, user, card_id, 2, token, 1000, now, TZ)
                        self.graded += 1
                now += timedelta(days=1)
        except BaseException as exc:  # reported by the test
            self.error = exc

    @staticmethod
    def _version(db, user_id: int, card_id: int) -> int:  # noqa: ANN001
        from webapp.models import ReviewState

        return db.scalar(select(ReviewState.version).where(ReviewState.user_id == user_id,
                                                          ReviewState.card_id == card_id)) or 0


def test_backup_while_grading_is_consistent_and_restores(app: Flask, make_user: Callable[..., int],
                                                         tmp_path: Path) -> None:
    users = [make_user(f"s{i}") for i in range(3)]
    deck = make_deck(app)
    with session_scope(app) as db:
        cards = list(db.scalars(select(Card.id).where(Card.deck_id == deck)))
    grader = Grader(app, users, cards)
    grader.start()
    folder = tmp_path / "backups"
    taken = []
    try:
        while grader.graded < 20 and grader.is_alive():
            threading.Event().wait(0.01)
        for i in range(3):  # several backups while the grader keeps writing
            taken.append(backups.take_backup(database_of(app), folder,
                                             datetime(2026, 11, 29, 20, 0, i, tzinfo=UTC)))
    finally:
        grader.stop.set()
        grader.join(timeout=60)
    assert grader.error is None
    assert grader.graded > 20
    for item in taken:
        conn = sqlite3.connect(item.path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            # Each log row has its state: grading commits both in one transaction.
            logs, states_missing = conn.execute(
                "SELECT count(*), sum(NOT EXISTS (SELECT 1 FROM review_states s WHERE s.user_id = l.user_id"
                " AND s.card_id = l.card_id)) FROM review_logs l").fetchone()
        finally:
            conn.close()
        assert logs > 0 and states_missing == 0
    assert [b.path for b in backups.list_backups(folder)] == [t.path for t in reversed(taken)]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]

    # Restore the last backup over the live database: every review it holds comes back.
    expected = review_ids(taken[-1].path)
    live = database_of(app)
    get_engine(app).dispose()
    kept = backups.restore(taken[-1].path, live, app.instance_path)
    assert kept is not None and kept.exists()
    assert review_ids(live) == expected
    assert len(review_ids(kept)) >= len(expected)  # the replaced database is kept, with later grades
    with session_scope(app) as db:
        assert db.scalar(select(func.count()).select_from(ReviewLog)) == len(expected)


def test_backup_job_writes_and_rotates(app: Flask) -> None:
    folder = backups.backups_dir(app.instance_path)
    start = datetime(2026, 10, 1, 20, 45, tzinfo=UTC)
    for day in range(40):
        summary = jobs.backup(app, start + timedelta(days=day))
    assert summary.startswith("已备份到 tifa-20261109-204500.db")
    kept = backups.list_backups(folder)
    days = [b.day.isoformat() for b in kept]
    # 7 daily (11-03 .. 11-09) plus the newest of each of the 4 latest ISO weeks (two fall in the 7 days).
    assert days == ["2026-11-09", "2026-11-08", "2026-11-07", "2026-11-06", "2026-11-05", "2026-11-04",
                    "2026-11-03", "2026-11-01", "2026-10-25"]


def test_retention_rule() -> None:
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    files = [backups.BackupFile(Path(f"b{i}"), start + timedelta(hours=12 * i)) for i in range(30)]  # 15 days
    keep = backups.to_keep(files)
    kept_days = sorted({f.day for f in files if f.path in keep})
    assert len(keep) == len(kept_days)  # one per day at most
    assert kept_days[-7:] == [start.date() + timedelta(days=d) for d in range(8, 15)]
    assert {f.path for f in files if f.day == start.date() + timedelta(days=14)} & keep == {Path("b29")}  # newest


def test_unwritable_folder_keeps_earlier_backups(app: Flask, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: permissions do not stop writes")
    folder = tmp_path / "backups"
    first = backups.take_backup(database_of(app), folder, datetime(2026, 11, 28, 20, tzinfo=UTC))
    before = first.path.read_bytes()
    folder.chmod(0o500)
    try:
        with pytest.raises(backups.BackupError, match="已有的备份未受影响"):
            backups.take_backup(database_of(app), folder, datetime(2026, 11, 29, 20, tzinfo=UTC))
    finally:
        folder.chmod(0o700)
    assert [b.path for b in backups.list_backups(folder)] == [first.path]
    assert first.path.read_bytes() == before


def test_disk_full_keeps_earlier_backups(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "backups"
    first = backups.take_backup(database_of(app), folder, datetime(2026, 11, 28, 20, tzinfo=UTC))

    real_connect = sqlite3.connect

    def connect(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        conn = real_connect(path, *args, **kwargs)
        if str(path).endswith(".tmp"):
            conn.close()
            raise sqlite3.OperationalError("database or disk is full")
        return conn

    monkeypatch.setattr(backups.sqlite3, "connect", connect)
    with pytest.raises(backups.BackupError, match="disk is full"):
        backups.take_backup(database_of(app), folder, datetime(2026, 11, 29, 20, tzinfo=UTC))
    monkeypatch.undo()
    assert [b.path for b in backups.list_backups(folder)] == [first.path]
    assert sorted(p.name for p in folder.iterdir()) == [first.path.name]


def test_restore_refuses_a_running_server_without_force(app: Flask, tmp_path: Path) -> None:
    taken = backups.take_backup(database_of(app), tmp_path / "b", datetime(2026, 11, 29, 20, tzinfo=UTC))
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (Path(app.instance_path) / backups.PID_FILE).write_text(f"{server.pid}\n")
        get_engine(app).dispose()
        with pytest.raises(backups.BackupError, match="正在运行.*--force"):
            backups.restore(taken.path, database_of(app), app.instance_path)
        assert backups.restore(taken.path, database_of(app), app.instance_path, force=True) is not None
    finally:
        server.kill()
        server.wait()
    # Once the process is gone its stale pid no longer blocks.
    assert backups.running_pids(app.instance_path) == []


def test_running_marker_registers_this_process(app: Flask) -> None:
    marker = Path(app.instance_path) / backups.PID_FILE
    with backups.running_marker(app.instance_path):
        assert marker.read_text().split() == [str(os.getpid())]
    assert not marker.exists()


def test_restore_rejects_a_damaged_backup(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "tifa-20261129-000000.db"
    bad.write_bytes(b"not a database at all" * 100)
    before = database_of(app).read_bytes()
    with pytest.raises(backups.BackupError, match="不是完好的 SQLite 数据库"):
        backups.restore(bad, database_of(app), app.instance_path, force=True)
    assert database_of(app).read_bytes() == before


def test_cli_backup_now_list_restore(app: Flask, make_user: Callable[..., int], db_url: str) -> None:
    make_user("s1")
    env = {"TIFA_DATABASE_URL": db_url, "TIFA_INSTANCE_PATH": app.instance_path, "TIFA_SECRET_KEY": "x"}
    runner = CliRunner()
    now = runner.invoke(main, ["backup", "now"], env=env)
    assert now.exit_code == 0, now.output
    assert "已备份 / backup written" in now.output
    (taken,) = backups.list_backups(backups.backups_dir(app.instance_path))
    listed = runner.invoke(main, ["backup", "list"], env=env)
    assert str(taken.path) in listed.output
    make_user("s2")  # after the backup: gone once restored
    get_engine(app).dispose()
    restored = runner.invoke(main, ["backup", "restore", str(taken.path)], env=env)
    assert restored.exit_code == 0, restored.output
    assert "previous database kept as" in restored.output
    with session_scope(app) as db:
        assert db.scalars(select(User.username)).all() == ["s1"]
    missing = runner.invoke(main, ["backup", "restore", str(taken.path) + ".nope"], env=env)
    assert missing.exit_code == 1
    assert "备份文件不存在" in missing.output
