"""Clock faults: reviews a minute before and after the 04:00 rollover, and across daylight-saving changes.

Time is moved through the API's clock seam (``app.config["CLOCK"]``); the study day of each grade is read back
from the review log and the API's ``due``, and a card due tomorrow must not be offered a minute before 04:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpers import login
from review_helpers import ReviewClient, make_deck
from webapp.db import session_scope
from webapp.models import ReviewLog

# (timezone, UTC instant one minute before the local 04:00 rollover, the study day before, the day after)
ROLLOVERS = [
    ("Asia/Shanghai", datetime(2026, 11, 29, 19, 59, tzinfo=UTC), date(2026, 11, 29), date(2026, 11, 30)),
    # Berlin, autumn: 03:00 CEST -> 02:00 CET on 2026-10-25, so 04:00 local is 03:00 UTC (a 25-hour day).
    ("Europe/Berlin", datetime(2026, 10, 25, 2, 59, tzinfo=UTC), date(2026, 10, 24), date(2026, 10, 25)),
    # Berlin, spring: 02:00 CET -> 03:00 CEST on 2026-03-29, so 04:00 local is 02:00 UTC (a 23-hour day).
    ("Europe/Berlin", datetime(2026, 3, 29, 1, 59, tzinfo=UTC), date(2026, 3, 28), date(2026, 3, 29)),
    # New York, autumn: 02:00 EDT -> 01:00 EST on 2026-11-01: 04:00 local is 09:00 UTC.
    ("America/New_York", datetime(2026, 11, 1, 8, 59, tzinfo=UTC), date(2026, 10, 31), date(2026, 11, 1)),
]


@pytest.mark.parametrize(("tz", "before", "day_before", "day_after"), ROLLOVERS,
                         ids=[f"{r[0]}-{r[1]:%m%d}" for r in ROLLOVERS])
def test_grades_land_on_the_right_study_day(app: Flask, make_user: Any, tz: str, before: datetime,
                                            day_before: date, day_after: date, counts: Any) -> None:
    now = [before]
    app.config["TIMEZONE"] = tz
    app.config["CLOCK"] = lambda: now[0]
    make_deck(app, ["推进{{c1::高质量发展}}", "坚持{{c1::生态优先}}", "加快{{c1::绿色转型}}"])
    make_user("early")
    client = app.test_client()
    login(client, "early")
    api = ReviewClient(client)

    first = api.next()
    assert first is not None
    graded = api.grade(first, 5).get_json()
    assert graded["due"] == (day_before + timedelta(days=1)).isoformat()

    now[0] = before + timedelta(minutes=2)  # one minute past 04:00 local
    second = api.next()
    # The card learnt a minute ago (due the next study day) is due now; it comes before a new card.
    assert second is not None and second["card_id"] == first["card_id"]
    graded = api.grade(second, 4).get_json()
    assert graded["due"] == (day_after + timedelta(days=6)).isoformat()

    now[0] = before  # the clock steps back (NTP correction) a minute before the rollover
    third = api.next()
    assert third is not None and third["card_id"] != first["card_id"]

    with session_scope(app) as db:
        days = [row.study_day for row in db.scalars(select(ReviewLog).order_by(ReviewLog.id))]
    assert days == [day_before, day_after]
    counts.add("faults_injected")  # a clock placed on a rollover (and stepped back)
