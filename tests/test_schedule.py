"""Period keys, next firings and catch-up, across DST changes and month ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.schedule import (
    DigestSchedule,
    Granularity,
    crontab_trigger,
    describe_schedule,
    translate_day_of_week,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def periods(schedule: DigestSchedule, after: datetime, until: datetime) -> list[str]:
    return [f.period for f in schedule.firings(after, until)]


@pytest.mark.parametrize(
    ("cron", "names"),
    [
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("MON", "mon"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1,3", "mon,wed"),
        ("*", "*"),
    ],
)
def test_crontab_weekdays_are_read_as_cron_reads_them(cron: str, names: str) -> None:
    assert translate_day_of_week(cron) == names


def test_bad_weekday_is_refused() -> None:
    with pytest.raises(ValueError):
        translate_day_of_week("8")
    with pytest.raises(ValueError):
        crontab_trigger("0 8 * *", BERLIN)


def test_monday_means_monday() -> None:
    trigger = crontab_trigger("0 8 * * 1", BERLIN)
    fired = trigger.get_next_fire_time(None, utc(2026, 11, 26))
    assert fired is not None
    assert fired.strftime("%A %H:%M") == "Monday 08:00"
    assert fired.astimezone(UTC) == utc(2026, 11, 30, 7)


@pytest.mark.parametrize(
    ("cron", "granularity", "fire", "key"),
    [
        ("0 8 * * MON", Granularity.WEEK, utc(2026, 3, 2, 7), "2026-W10"),
        ("0 8 * * 1", Granularity.WEEK, utc(2026, 11, 30, 7), "2026-W49"),
        ("0 8 1 * *", Granularity.MONTH, utc(2026, 11, 1, 7), "2026-11"),
        ("0 8 * * *", Granularity.DAY, utc(2026, 11, 26, 7), "2026-11-26"),
        ("0 8 * * MON,THU", Granularity.DAY, utc(2026, 11, 26, 7), "2026-11-26"),
        ("0 8 1-7 * MON", Granularity.DAY, utc(2026, 11, 2, 7), "2026-11-02"),
        ("0 8,18 * * *", Granularity.MINUTE, utc(2026, 11, 26, 7), "2026-11-26T08:00+01:00"),
        ("* * * * *", Granularity.MINUTE, utc(2026, 7, 1, 6, 5), "2026-07-01T08:05+02:00"),
    ],
)
def test_period_keys_follow_the_schedule_in_its_zone(
    cron: str, granularity: Granularity, fire: datetime, key: str
) -> None:
    schedule = DigestSchedule("d", cron, "Europe/Berlin")
    assert schedule.granularity is granularity
    assert schedule.period_of(fire) == key
    assert schedule.period_of(fire.astimezone(NEW_YORK)) == key  # the instant counts, not its zone


def test_iso_week_of_new_year() -> None:
    schedule = DigestSchedule("d", "0 8 * * MON", "Europe/Berlin")
    assert schedule.period_of(utc(2026, 12, 28, 7)) == "2026-W53"
    assert schedule.next_firing(utc(2026, 12, 29)) is not None
    assert schedule.next_firing(utc(2026, 12, 29)).period == "2027-W01"  # type: ignore[union-attr]


def test_naive_fire_time_is_refused() -> None:
    with pytest.raises(ValueError):
        DigestSchedule("d", "0 8 * * *", "UTC").period_of(datetime(2026, 1, 1))


# -- DST ---------------------------------------------------------------------------------------


def test_berlin_spring_forward_daily_fires_once_an_hour_later() -> None:
    """02:30 does not exist on 2026-03-29 in Berlin: the digest goes out at 03:30 CEST, once."""
    schedule = DigestSchedule("d", "30 2 * * *", "Europe/Berlin")
    found = list(schedule.firings(utc(2026, 3, 27, 12), utc(2026, 3, 31)))
    assert [f.period for f in found] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    change_day = found[1]
    assert change_day.at == utc(2026, 3, 29, 1, 30)
    assert change_day.local.strftime("%H:%M %Z") == "03:30 CEST"
    assert found[2].at == utc(2026, 3, 30, 0, 30)  # 02:30 CEST


def test_berlin_spring_forward_hourly_has_no_hour_that_does_not_exist() -> None:
    schedule = DigestSchedule("d", "30 * * * *", "Europe/Berlin")
    keys = periods(schedule, utc(2026, 3, 29, 0), utc(2026, 3, 29, 2, 30))
    assert keys == ["2026-03-29T01:30+01:00", "2026-03-29T03:30+02:00", "2026-03-29T04:30+02:00"]


def test_new_york_fall_back_daily_is_one_period_though_the_trigger_fires_twice() -> None:
    schedule = DigestSchedule("d", "30 1 * * *", "America/New_York")
    raw = []
    previous = None
    now = utc(2026, 11, 1)
    for _ in range(3):
        fired = schedule.trigger.get_next_fire_time(previous, now)
        assert fired is not None
        raw.append(fired)
        previous = fired.astimezone(UTC)
        now = previous + timedelta(microseconds=1)
    assert [schedule.period_of(t) for t in raw] == ["2026-11-01", "2026-11-01", "2026-11-02"]
    listed = list(schedule.firings(utc(2026, 11, 1), utc(2026, 11, 3)))
    assert [f.period for f in listed] == ["2026-11-01", "2026-11-02"]
    assert listed[0].at == utc(2026, 11, 1, 5, 30)  # the first 01:30 (EDT)


def test_new_york_fall_back_quarter_hours_are_distinct_periods() -> None:
    schedule = DigestSchedule("d", "*/15 * * * *", "America/New_York")
    found = list(schedule.firings(utc(2026, 11, 1, 4, 50), utc(2026, 11, 1, 7)))
    keys = [f.period for f in found]
    assert len(keys) == len(set(keys)) == 9
    assert keys[:2] == ["2026-11-01T01:00-04:00", "2026-11-01T01:15-04:00"]
    assert keys[4:6] == ["2026-11-01T01:00-05:00", "2026-11-01T01:15-05:00"]
    start = utc(2026, 11, 1, 5)
    assert [f.at for f in found] == [start + timedelta(minutes=15 * i) for i in range(9)]


# -- month ends --------------------------------------------------------------------------------


def test_last_day_of_the_month() -> None:
    schedule = DigestSchedule("d", "0 8 last * *", "Europe/Berlin")
    found = list(schedule.firings(utc(2028, 1, 1), utc(2028, 4, 15)))
    assert [f.local.date().isoformat() for f in found] == ["2028-01-31", "2028-02-29", "2028-03-31"]
    assert [f.period for f in found] == ["2028-01", "2028-02", "2028-03"]


def test_the_31st_skips_short_months() -> None:
    schedule = DigestSchedule("d", "0 8 31 * *", "UTC")
    found = list(schedule.firings(utc(2026, 1, 1), utc(2026, 6, 1)))
    assert [f.period for f in found] == ["2026-01", "2026-03", "2026-05"]


def test_day_of_month_and_weekday_both_given_fire_on_either_as_in_cron() -> None:
    """cron(8): "0 8 1 * MON" runs on the 1st and on every Monday (APScheduler alone: both)."""
    schedule = DigestSchedule("d", "0 8 1 * MON", "Europe/Berlin")
    found = list(schedule.firings(utc(2026, 11, 27), utc(2026, 12, 15)))
    assert [f.local.strftime("%a %d") for f in found] == ["Mon 30", "Tue 01", "Mon 07", "Mon 14"]
    assert schedule.granularity is Granularity.DAY
    assert len({f.period for f in found}) == len(found)


def test_a_starred_day_field_still_means_both_as_in_cron() -> None:
    """A field that starts with `*` counts as unrestricted: "*/2" days that are Mondays."""
    schedule = DigestSchedule("d", "0 8 */2 * 1", "UTC")
    found = list(schedule.firings(utc(2026, 11, 27), utc(2027, 1, 31)))
    assert [f.local.strftime("%a %d") for f in found] == [
        "Mon 07", "Mon 21", "Mon 11", "Mon 25",
    ]  # fmt: skip


def test_local_date_decides_the_day_key_not_utc() -> None:
    """08:00 in Auckland on 1 February is still 31 January in UTC."""
    schedule = DigestSchedule("d", "0 8 * * *", "Pacific/Auckland")
    found = list(schedule.firings(utc(2026, 1, 30, 12), utc(2026, 2, 1)))
    assert [f.period for f in found] == ["2026-01-31", "2026-02-01"]
    assert found[1].at == utc(2026, 1, 31, 19)


def test_every_process_derives_the_same_keys_from_any_starting_point() -> None:
    schedule = DigestSchedule("d", "*/7 * * * *", "America/New_York")
    one = periods(schedule, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8))
    other = periods(schedule, utc(2026, 11, 1, 5, 33, 12), utc(2026, 11, 1, 8))
    assert one[-len(other) :] == other


# -- catch-up ----------------------------------------------------------------------------------


def test_catch_up_sends_the_latest_missed_firing_inside_the_grace_window() -> None:
    schedule = DigestSchedule("d", "0 8 * * MON", "Europe/Berlin")
    restart = utc(2026, 11, 30, 7, 40)  # Monday 08:40 in Berlin
    plan = schedule.catch_up(restart, timedelta(hours=1), since=utc(2026, 11, 23, 7, 0, 5))
    assert plan.due is not None and plan.due.period == "2026-W49"
    assert plan.missed == [] and plan.missed_count == 0


def test_catch_up_skips_firings_older_than_the_grace_window() -> None:
    schedule = DigestSchedule("d", "0 8 * * MON", "Europe/Berlin")
    restart = utc(2026, 11, 30, 10)
    plan = schedule.catch_up(restart, timedelta(hours=1), since=utc(2026, 11, 16, 7, 0, 5))
    assert plan.due is None
    assert [f.period for f in plan.missed] == ["2026-W48", "2026-W49"]


def test_catch_up_coalesces_a_frequent_digest_into_one_issue() -> None:
    schedule = DigestSchedule("d", "* * * * *", "UTC")
    restart = utc(2026, 11, 26, 12, 0, 30)
    plan = schedule.catch_up(restart, timedelta(minutes=5), since=utc(2026, 11, 26, 11, 30, 1))
    assert plan.due is not None and plan.due.period == "2026-11-26T12:00+00:00"
    assert plan.missed_count == 29  # 11:31 .. 11:59
    assert plan.missed[0].period == "2026-11-26T11:31+00:00"


def test_catch_up_after_a_claim_inside_the_window_has_nothing_to_do() -> None:
    schedule = DigestSchedule("d", "0 8 * * MON", "Europe/Berlin")
    plan = schedule.catch_up(
        utc(2026, 11, 30, 7, 40), timedelta(days=30), since=utc(2026, 11, 30, 7, 0, 2)
    )
    assert plan.due is None and plan.missed_count == 0


def test_catch_up_without_history_looks_only_at_the_window() -> None:
    schedule = DigestSchedule("d", "* * * * *", "UTC")
    plan = schedule.catch_up(utc(2026, 11, 26, 12, 0, 30), timedelta(minutes=2))
    assert plan.due is not None and plan.missed_count == 1


def test_catch_up_of_a_long_outage_stops_counting_but_still_finds_the_due_firing() -> None:
    schedule = DigestSchedule("d", "* * * * *", "UTC")
    restart = utc(2026, 11, 26, 12, 0, 30)
    plan = schedule.catch_up(
        restart, timedelta(minutes=3), since=utc(2026, 10, 1), lookback_limit=100
    )
    assert plan.truncated
    assert plan.due is not None and plan.due.period == "2026-11-26T12:00+00:00"
    assert plan.missed_count >= 100 and len(plan.missed) == 100


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 8 * * MON", "every Monday at 08:00"),
        ("30 7 * * 1", "every Monday at 07:30"),
        ("0 18 * * 0,5", "every Friday and Sunday at 18:00"),
        ("0 6 * * 1,3,5", "every Monday, Wednesday and Friday at 06:00"),
        ("0 6 * * 1-5", "every weekday at 06:00"),
        ("5 9 * * *", "every day at 09:05"),
        ("0 8 1 * *", "on the 1st of every month at 08:00"),
        ("0 8 22 * *", "on the 22nd of every month at 08:00"),
        ("0 8 13 * *", "on the 13th of every month at 08:00"),
        ("*/15 * * * *", None),
        ("0 8,18 * * *", None),
        ("0 8 * 1 *", None),
        ("0 8 1 * MON", None),
        ("0 8 * * XYZ", None),
    ],
)
def test_common_schedules_are_described_in_words(expression: str, words: str | None) -> None:
    assert describe_schedule(expression) == words
