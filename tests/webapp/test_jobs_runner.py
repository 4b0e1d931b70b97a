"""Running jobs: exactly once across racing schedulers, catch-up after downtime, the APScheduler
wiring, and the admin page (run now through the same claim)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from smtp_helpers import Inbox
from sqlalchemy import func, select

from helpers import csrf_token, login
from review_helpers import make_deck
from scheduler import jobs as spec
from webapp import backup as backups
from webapp import create_app, jobs, jobs_runner
from webapp.db import get_engine, session_scope
from webapp.mailer import RecordingMailer, SmtpMailer
from webapp.models import JobRun, Notification

TZ = "Asia/Shanghai"


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


@pytest.fixture
def second_app(app: Flask, db_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Another process's app on the same database (its own engine and connection pool)."""
    other = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret",
                        "INSTANCE_PATH": app.instance_path, "SCHEDULER": False})
    yield other
    get_engine(other).dispose()


@pytest.fixture
def staff(app: Flask, make_user: Callable[..., int]) -> list[int]:
    ids = [make_user(f"s{i}", email=f"s{i}@example.edu") for i in range(1, 4)]
    make_deck(app)
    return ids


def count(app: Flask, model: type) -> int:
    with session_scope(app) as db:
        return db.scalar(select(func.count()).select_from(model))


def test_two_schedulers_racing_on_one_period_send_one_set_of_mails(
        app: Flask, second_app: Flask, staff: list[int], smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    done = threading.Semaphore(0)
    errors: list[object] = []
    schedulers = []
    for each in (app, second_app):
        each.extensions["tifa.mailer"] = SmtpMailer("127.0.0.1", port, sender="tifa@example.edu")
        scheduler = jobs_runner.build(each)
        scheduler.add_listener(lambda e: (errors.append(e.exception) if e.exception else None, done.release()),
                               EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.start()
        schedulers.append(scheduler)
    try:
        fire_at = datetime.now(ZoneInfo(TZ))
        for scheduler in schedulers:  # both fire the reminder job at the same moment
            scheduler.modify_job(spec.REMIND, next_run_time=fire_at)
        for _ in schedulers:
            assert done.acquire(timeout=60), "a scheduler did not run its job"
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
    assert errors == []
    with session_scope(app) as db:
        runs = db.scalars(select(JobRun).where(JobRun.job == spec.REMIND)).all()
    assert [(r.status, r.summary.split("：")[1][:4]) for r in runs] == [("ok", "发送 3")]
    assert sorted(r[0] for _, r, _ in inbox.received) == ["s1@example.edu", "s2@example.edu", "s3@example.edu"]
    assert count(app, Notification) == 3


def test_racing_threads_claim_once(app: Flask, second_app: Flask, staff: list[int]) -> None:
    mailer = RecordingMailer()
    now = at(2026, 11, 29, 7, 30)
    barrier = threading.Barrier(6)
    outcomes: list[spec.RunOutcome] = []

    def worker(each: Flask) -> None:
        barrier.wait()
        outcomes.append(jobs.run_job(each, spec.REMIND, now, mailer))

    threads = [threading.Thread(target=worker, args=(a,)) for a in [app, second_app] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.ran for o in outcomes) == [False] * 5 + [True]
    assert {o.period for o in outcomes} == {"2026-11-29"}
    assert len(mailer.messages) == 3
    assert count(app, JobRun) == 1


def test_catch_up_runs_each_missed_job_once(app: Flask, staff: list[int]) -> None:
    mailer = RecordingMailer()
    monday = at(2026, 11, 30, 9, 0)  # every job's latest time has passed, none has run
    outcomes = jobs.catch_up(app, monday, mailer)
    assert {(o.job, o.period, o.ran, o.status) for o in outcomes} == {
        (spec.SNAPSHOT, "2026-11-30", True, "ok"),
        (spec.BACKUP, "2026-11-30", True, "ok"),
        (spec.REMIND, "2026-11-30", True, "ok"),
        (spec.WEEKLY_REPORT, "2026-W49", True, "ok"),
        (spec.OVERDUE_NUDGE, "2026-W49", True, "ok"),
        (spec.CALENDAR_REFLOW, "2026-11-30", True, "ok"),
    }
    assert jobs.catch_up(app, monday, mailer) == []  # a restart finds the claims
    # Down for three days: each daily job is made up once, for the latest day only.
    thursday = at(2026, 12, 3, 12, 0)
    again = jobs.catch_up(app, thursday, mailer)
    assert {(o.job, o.period) for o in again} == {(spec.SNAPSHOT, "2026-12-03"), (spec.BACKUP, "2026-12-03"),
                                                 (spec.REMIND, "2026-12-03"), (spec.CALENDAR_REFLOW, "2026-12-03")}
    with session_scope(app) as db:
        periods = db.scalars(select(JobRun.period).where(JobRun.job == spec.SNAPSHOT).order_by(JobRun.period)).all()
    assert periods == ["2026-11-30", "2026-12-03"]


def test_a_failing_job_is_reported_and_the_claim_kept(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: object, **_k: object) -> str:
        raise RuntimeError("磁盘已满")

    monkeypatch.setattr(jobs, "snapshot", broken)
    outcome = jobs.run_job(app, spec.SNAPSHOT, at(2026, 11, 29, 4, 30))
    assert (outcome.ran, outcome.status, outcome.summary) == (True, "failed", "RuntimeError: 磁盘已满")
    with session_scope(app) as db:
        run = db.scalar(select(JobRun))
    assert (run.job, run.period, run.status) == (spec.SNAPSHOT, "2026-11-29", "failed")
    assert run.finished_at is not None
    assert not jobs.run_job(app, spec.SNAPSHOT, at(2026, 11, 29, 5, 0)).ran


def test_background_scheduler_wiring(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    assert jobs_runner.start_background(app) is None  # SCHEDULER off in tests
    app.config["SCHEDULER"] = True
    monkeypatch.setenv("TIFA_REMINDER_TIME", "06:45")
    app.extensions["tifa.mailer"] = RecordingMailer()
    scheduler = jobs_runner.start_background(app)
    try:
        app.extensions["tifa.catch_up"].join(timeout=60)
        scheduled = {job.id: job for job in scheduler.get_jobs()}
        assert set(scheduled) == set(spec.JOBS)
        remind = scheduled[spec.REMIND]
        assert (remind.coalesce, remind.max_instances, remind.misfire_grace_time) == (True, 1, 3600)
        local_next = remind.next_run_time.astimezone(ZoneInfo(TZ))
        assert (local_next.hour, local_next.minute) == (6, 45)
        assert scheduled[spec.WEEKLY_REPORT].next_run_time.astimezone(ZoneInfo(TZ)).weekday() == 0
        assert jobs_runner.next_runs(app)[spec.REMIND] == remind.next_run_time
    finally:
        scheduler.shutdown(wait=True)
    # The catch-up at start claimed whatever had come due today; starting again claims nothing more.
    claimed = count(app, JobRun)
    assert claimed >= 1
    assert jobs.catch_up(app, mailer=RecordingMailer()) == []


def test_bad_reminder_time_names_the_variable(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIFA_REMINDER_TIME", "7.30")
    with pytest.raises(ValueError, match="TIFA_REMINDER_TIME 有误.*HH:MM"):
        jobs_runner.build(app)


# -- admin page -----------------------------------------------------------------------------------

@pytest.fixture
def root(app: Flask, client: FlaskClient, make_user: Callable[..., int]) -> FlaskClient:
    make_user("root", role="super_admin", department=None, email="root@example.edu")
    assert login(client, "root").status_code == 302
    return client


def test_jobs_page_lists_jobs_and_says_mail_is_not_configured(root: FlaskClient) -> None:
    html = root.get("/admin/jobs").get_data(as_text=True)
    assert "<h1>后台任务</h1>" in html
    for job in spec.JOBS.values():
        assert job.title in html and job.describe() in html
    assert 'id="mail-not-configured"' in html
    assert html.count(">立即运行</button>") == len(spec.JOBS)
    assert "尚未运行" in html
    assert "style=" not in html and "<script>" not in html


def test_run_now_uses_the_claim(app: Flask, root: FlaskClient, staff: list[int]) -> None:
    token = csrf_token(root, "/admin/jobs")
    first = root.post("/admin/jobs/remind/run", data={"csrf_token": token}, follow_redirects=True)
    html = first.get_data(as_text=True)
    # Three staff and the admin: the deck is assigned to everyone.
    assert "已运行“每日复习提醒”" in html and "记录 4（邮件未配置）" in html
    # The recorded reminders show on the page instead of being mailed.
    assert html.count('data-status="recorded"') == 4
    assert 'class="badge keep"' in html
    second = root.post("/admin/jobs/remind/run", data={"csrf_token": token}, follow_redirects=True)
    assert "已经运行过，未重复运行" in second.get_data(as_text=True)
    assert count(app, Notification) == 4
    assert count(app, JobRun) == 1


def test_run_now_needs_csrf_and_a_known_job(app: Flask, root: FlaskClient) -> None:
    assert root.post("/admin/jobs/snapshot/run").status_code == 400
    token = csrf_token(root, "/admin/jobs")
    assert root.post("/admin/jobs/nope/run", data={"csrf_token": token}).status_code == 404
    assert count(app, JobRun) == 0


def test_jobs_page_is_for_super_admins(client: FlaskClient, make_user: Callable[..., int]) -> None:
    make_user("boss", role="dept_admin")
    login(client, "boss")
    assert client.get("/admin/jobs").status_code == 403
    assert client.get("/admin/jobs/weekly-report.xlsx").status_code == 403


def test_weekly_report_download(app: Flask, root: FlaskClient, staff: list[int]) -> None:
    resp = root.get("/admin/jobs/weekly-report.xlsx?week=2026-W48")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "weekly-report-2026-W48.xlsx" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["部门", "个人", "说明"]
    assert [r[1] for r in wb["个人"].iter_rows(min_row=2, values_only=True)] == ["s1", "s2", "s3"]
    assert root.get("/admin/jobs/weekly-report.xlsx?week=2026-W60").status_code == 404


def test_mail_configured_hides_the_notice(app: Flask, root: FlaskClient) -> None:
    app.config["SMTP_HOST"] = "mail.example.edu"
    assert 'id="mail-not-configured"' not in root.get("/admin/jobs").get_data(as_text=True)



def test_interrupted_run_is_flagged(app: Flask, root: FlaskClient) -> None:
    claims = jobs.DbClaims(app)
    assert claims.claim(spec.BACKUP, "2026-11-29", datetime.now(UTC) - timedelta(hours=3))
    assert claims.claim(spec.SNAPSHOT, "2026-11-29", datetime.now(UTC) - timedelta(minutes=5))
    html = root.get("/admin/jobs").get_data(as_text=True)
    assert html.count('class="muted interrupted"') == 1
    assert html.count("运行中") == 2


def test_tifa_scheduler_process_catches_up_and_blocks_restore(app: Flask, db_url: str, is_postgres: bool) -> None:
    """`tifa scheduler` in its own process: registers in the pid file, catches up missed jobs, stops on Ctrl+C."""
    env = dict(os.environ, TIFA_DATABASE_URL=db_url, TIFA_INSTANCE_PATH=app.instance_path, TIFA_SECRET_KEY="x",
               TIFA_TIMEZONE=TZ)
    started = datetime.now(UTC)
    expected = {name for name, job in spec.JOBS.items() if spec.missed_period(job, None, started, TZ)}
    proc = subprocess.Popen([sys.executable, "-c", "from webapp.cli import main; main()", "scheduler"], env=env,
                            cwd=str(Path(__file__).resolve().parents[2]), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with session_scope(app) as db:
                finished = set(db.scalars(select(JobRun.job).where(JobRun.finished_at.is_not(None))))
            if finished >= expected and backups.running_pids(app.instance_path):
                break
            time.sleep(0.2)
        assert backups.running_pids(app.instance_path) == [proc.pid]
        assert finished >= expected
        if not is_postgres:
            database = backups.sqlite_path(db_url)
            with pytest.raises(backups.BackupError, match="正在运行"):
                backups.restore(database, database, app.instance_path)
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert "scheduler running" in output
    assert backups.running_pids(app.instance_path) == []
