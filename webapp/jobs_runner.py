"""APScheduler wiring: cron triggers in local time, each firing runs one job through the job_runs claim.

``tifa serve`` starts a BackgroundScheduler in-process (unless TIFA_SCHEDULER=off); ``tifa scheduler``
runs a BlockingScheduler in a process of its own. Several may run against one database: the
claim in job_runs, not APScheduler's in-memory job store, makes each period run once. Nothing
here runs at import or in ``create_app`` (gunicorn --preload forks after the app is built).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from . import jobs

log = logging.getLogger("tifa.jobs")

#: A firing delayed by up to an hour (a busy or suspended host) still runs; later ones wait for catch-up.
MISFIRE_GRACE_SECONDS = 3600


def _fire(app: Flask, name: str) -> None:
    outcome = jobs.run_job(app, name, datetime.now(UTC))
    if outcome.ran:
        log.info("job %s %s: %s (%.1fs) %s", name, outcome.period, outcome.status, outcome.seconds, outcome.summary)
    else:
        log.info("job %s %s: already claimed elsewhere, skipped", name, outcome.period)


def configure(scheduler: BaseScheduler, app: Flask) -> BaseScheduler:
    tz = ZoneInfo(app.config["TIMEZONE"])
    for name, job in jobs.job_table(app).items():
        scheduler.add_job(_fire, CronTrigger(timezone=tz, **job.cron()), args=(app, name), id=name, name=job.title,
                          coalesce=True, max_instances=1, misfire_grace_time=MISFIRE_GRACE_SECONDS,
                          replace_existing=True)
    return scheduler


def build(app: Flask, blocking: bool = False) -> BaseScheduler:
    """A configured, not yet started scheduler."""
    tz = ZoneInfo(app.config["TIMEZONE"])
    scheduler: BaseScheduler = BlockingScheduler(timezone=tz) if blocking else BackgroundScheduler(timezone=tz)
    return configure(scheduler, app)


def _catch_up(app: Flask) -> None:
    try:
        for outcome in jobs.catch_up(app):
            log.info("catch-up %s %s: ran=%s %s %s", outcome.job, outcome.period, outcome.ran, outcome.status,
                     outcome.summary)
    except Exception:  # a database hiccup at start must not stop the server
        log.exception("job catch-up failed")


def start_background(app: Flask) -> BackgroundScheduler | None:
    """Start the in-process scheduler (and a one-off catch-up of missed runs); None when switched off."""
    if not app.config.get("SCHEDULER", True):
        return None
    scheduler = build(app)
    scheduler.start()
    app.extensions["tifa.scheduler"] = scheduler
    catching_up = threading.Thread(target=_catch_up, args=(app,), name="tifa-catch-up", daemon=True)
    app.extensions["tifa.catch_up"] = catching_up
    catching_up.start()
    return scheduler  # type: ignore[return-value]


def run_blocking(app: Flask) -> None:
    """``tifa scheduler``: catch up, then run the schedule until interrupted."""
    scheduler = build(app, blocking=True)
    app.extensions["tifa.scheduler"] = scheduler
    _catch_up(app)
    scheduler.start()


def next_runs(app: Flask) -> dict[str, datetime | None]:
    """When each job fires next: from the running scheduler, or computed from its trigger."""
    running = app.extensions.get("tifa.scheduler")
    tz = ZoneInfo(app.config["TIMEZONE"])
    now = datetime.now(tz)
    out: dict[str, datetime | None] = {}
    for name, job in jobs.job_table(app).items():
        scheduled = running.get_job(name) if running is not None else None
        if scheduled is not None and getattr(scheduled, "next_run_time", None) is not None:
            out[name] = scheduled.next_run_time
        else:
            out[name] = CronTrigger(timezone=tz, **job.cron()).get_next_fire_time(None, now)
    return out
