"""Disk full (a real ENOSPC from a tiny tmpfs): a backup or an upload fails with a clear message, nothing half-written
survives, and earlier backups stay intact. Needs root to mount tmpfs; skipped with that reason otherwise."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from admin_helpers import material_text, post_multipart, upload
from helpers import login
from webapp import create_app
from webapp.backup import BackupError, list_backups, take_backup
from webapp.db import get_engine, session_scope
from webapp.models import Material

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tiny tmpfs to get a real ENOSPC needs root")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {result.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the file system but ``leave`` bytes (roughly)."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with contextlib.suppress(OSError), open(folder / "ballast", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_backup_on_a_full_disk_fails_cleanly_and_keeps_earlier_backups(tmp_path: Path, tiny_disk: Path,
                                                                      counts: Any) -> None:
    import sqlite3

    database = tmp_path / "tifa.db"
    conn = sqlite3.connect(database)
    conn.execute("create table t (x blob)")
    conn.execute("insert into t values (zeroblob(60000))")
    conn.commit()
    good = take_backup(database, tiny_disk, datetime(2026, 11, 28, 20, 45, tzinfo=UTC))
    digest = sha(good.path)
    conn.execute("insert into t values (zeroblob(600000))")  # now larger than the whole tmpfs
    conn.commit()
    conn.close()
    with pytest.raises(BackupError) as failure:
        take_backup(database, tiny_disk, datetime(2026, 11, 29, 20, 45, tzinfo=UTC))
    assert "磁盘空间" in str(failure.value) and "已有的备份未受影响" in str(failure.value)
    assert sorted(p.name for p in tiny_disk.iterdir()) == [good.path.name]  # no temp file left behind
    assert sha(good.path) == digest
    assert [b.path for b in list_backups(tiny_disk)] == [good.path]
    check = sqlite3.connect(good.path)
    assert check.execute("pragma integrity_check").fetchone()[0] == "ok"
    check.close()
    counts.add("faults_injected")


def test_upload_on_a_full_disk_is_refused_with_a_message(db_url: str, tiny_disk: Path, make_user: Any, app: Flask,
                                                         counts: Any) -> None:
    make_user("boss", role="super_admin", department="党委办公室")
    full = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret",
                       "INSTANCE_PATH": str(tiny_disk), "SCHEDULER": False})
    client = full.test_client()
    assert login(client, "boss").status_code == 302
    (tiny_disk / "pending" / "materials").mkdir(parents=True)
    (tiny_disk / "pending" / "imports").mkdir(parents=True)
    fill(tiny_disk, leave=4096)
    response = upload(client, material_text(4), week=11)
    body = response.get_data(as_text=True)
    assert response.status_code in (400, 507), body[:300]
    assert "磁盘" in body, body[:2000]
    leftovers = [p.name for p in (tiny_disk / "pending" / "materials").iterdir()]
    assert leftovers == []
    with session_scope(full) as db:
        assert db.scalar(select(func.count()).select_from(Material)) == 0
    # The staff import keeps its checked file until confirmation the same way.
    csv = io.BytesIO("工号,姓名,部门\nnew01,新同事,党委办公室\n".encode())
    response = post_multipart(client, "/admin/staff/import", {"file": (csv, "staff.csv")})
    assert response.status_code == 507 and "磁盘" in response.get_data(as_text=True)
    assert list((tiny_disk / "pending" / "imports").iterdir()) == []
    get_engine(full).dispose()
    counts.add("faults_injected", 2)
