"""When each digest fires, which period a firing belongs to, and what a restart must catch up.

Exactly once in time rests on one rule: a firing's period key is derived from the *scheduled*
fire time in the digest's own time zone, never from "now". Every process, every restart and the
catch-up at start therefore compute the same key for the same firing, and the store's unique
(digest, period) claim lets only one of them build the issue.

The key is as coarse as the schedule allows, so a schedule that fires at most once a week is keyed
by ISO week (`2026-W10`), at most once a month by month (`2026-11`), at most once a day by date
(`2026-11-26`); anything more frequent by the local minute with its UTC offset
(`2026-11-26T08:00+01:00`). Coarse keys also absorb the repeated hour of a fall-back DST change:
APScheduler fires a daily 01:30 job twice that night, and both firings claim the same day.

APScheduler 3 reads crontab day-of-week numbers differently from cron (its 0 is Monday, cron's
is Sunday); `crontab_trigger` translates them, so `0 8 * * 1` means Monday as an operator expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

__all__ = [
    "CatchUp",
    "DigestSchedule",
    "Firing",
    "Granularity",
    "crontab_trigger",
    "describe_schedule",
    "granularity_of",
    "next_local_hour",
    "translate_day_of_week",
]

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SINGLE = re.compile(r"^(\d+|[A-Za-z]+)$")


def _day_number(token: str) -> int:
    lowered = token.lower()
    if lowered[:3] in _DAY_NAMES and lowered.isalpha():
        return _DAY_NAMES.index(lowered[:3])
    if not token.isdigit() or int(token) > 7:
        raise ValueError(f"bad day of week {token!r}")
    return int(token) % 7  # cron: 0 and 7 are both Sunday


def translate_day_of_week(field_text: str) -> str:
    """A crontab day-of-week field (0/7 = Sunday, names, ranges, steps, lists) as day names.

    `*` stays `*`; anything else becomes an explicit list such as `mon,wed,fri`, which APScheduler
    reads the same way cron does.
    """
    if field_text == "*":
        return "*"
    days: set[int] = set()
    for part in field_text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in day of week {part!r}")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            left, _, right = base.partition("-")
            first, last = _day_number(left), _day_number(right)
            if right.strip() == "7":
                last = 7  # 5-7 means Friday to Sunday
            if last < first:
                raise ValueError(f"bad range in day of week {part!r}")
        else:
            first = last = _day_number(base)
            if step_text:
                last = 6  # cron reads "1/2" as "from Monday, every other day"
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def crontab_trigger(expression: str, zone: ZoneInfo) -> BaseTrigger:
    """A cron trigger in `zone` for a five-field crontab expression, read as cron reads it.

    Two of cron's rules APScheduler reads otherwise: numeric weekdays (see
    `translate_day_of_week`), and a day of the month and a weekday both given: cron fires on
    either ("0 8 1 * MON" is the 1st and every Monday), APScheduler only on both. A field that
    starts with `*` (`*/2`) counts as not given, as in cron, and then both must match.
    """
    values = expression.split()
    if len(values) != 5:
        raise ValueError(f"wrong number of fields; got {len(values)}, expected 5")
    minute, hour, day, month, day_of_week = values
    weekdays = translate_day_of_week(day_of_week)

    def cron(day: str, day_of_week: str) -> CronTrigger:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=zone
        )

    if not day.startswith("*") and not day_of_week.startswith("*"):
        return OrTrigger([cron(day, "*"), cron("*", weekdays)])
    return cron(day, weekdays)


def next_local_hour(after: datetime, zone: ZoneInfo, hour: int) -> datetime:
    """The first moment at or after `after` when it is `hour`:00 in `zone` (as UTC).

    On a spring-forward day an hour that does not exist locally is taken as the moment the clocks
    jump (02:00 in Berlin on its change day is 03:00 CEST); on a fall-back day, the first 01:00.
    """
    local = after.astimezone(zone)
    for days in range(3):
        day = local.date() + timedelta(days=days)
        candidate = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
        if candidate >= after:
            return candidate
    raise AssertionError("unreachable: a local hour comes round within two days")


_DAY_WORDS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


def describe_schedule(expression: str) -> str | None:
    """The common schedules in words, for sign-up pages ("every Monday at 08:00"); None for
    the others (steps, ranges of hours, several times a day, chosen months)."""
    try:
        minute, hour, day, month, day_of_week = expression.split()
        if not (minute.isdigit() and hour.isdigit()) or month != "*":
            return None
        at = f"at {int(hour):02d}:{int(minute):02d}"
        if day == "*" and day_of_week == "*":
            return f"every day {at}"
        if day == "*":
            days = translate_day_of_week(day_of_week).split(",")
            if days == ["mon", "tue", "wed", "thu", "fri"]:
                return f"every weekday {at}"
            monday_first = sorted(days, key=lambda d: (_DAY_NAMES.index(d) + 6) % 7)
            words = [_DAY_WORDS[d] for d in monday_first]
            listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
            return f"every {listed} {at}"
        if day_of_week == "*" and day.isdigit():
            n = int(day)
            suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
            return f"on the {n}{suffix} of every month {at}"
    except (ValueError, KeyError):
        return None
    return None


class Granularity(StrEnum):
    """How many firings a schedule can have per calendar unit, which sets the period key's form."""

    WEEK = "week"
    MONTH = "month"
    DAY = "day"
    MINUTE = "minute"


def granularity_of(expression: str) -> Granularity:
    """The coarsest calendar unit in which the schedule fires at most once.

    Once a day: a single minute and a single hour. Once a week: that, on a single weekday with any
    day of the month. Once a month: that, on a single day of the month (or `last`) with any weekday.
    """
    minute, hour, day, _month, day_of_week = expression.split()
    if not (_SINGLE.match(minute) and _SINGLE.match(hour)):
        return Granularity.MINUTE
    single_weekday = day_of_week != "*" and "," not in translate_day_of_week(day_of_week)
    if single_weekday and day == "*":
        return Granularity.WEEK
    if day_of_week == "*" and _SINGLE.match(day):
        return Granularity.MONTH
    return Granularity.DAY


@dataclass(frozen=True, order=True)
class Firing:
    """One scheduled firing of a digest: when (UTC), when locally, and the period it claims."""

    at: datetime  # UTC
    local: datetime  # the same instant in the digest's time zone
    period: str
    digest: str = field(default="", compare=False)


@dataclass
class CatchUp:
    """What a start must do about firings that happened while no process was running.

    `due` is the most recent firing inside the grace window (sent once, through the same claim);
    `missed` are the firings not sent: older than the window, or coalesced into `due`.
    `missed_count` may exceed len(missed) when the lookback was cut short.
    """

    due: Firing | None
    missed: list[Firing]
    missed_count: int
    truncated: bool = False


class DigestSchedule:
    """One digest's cron schedule in its own time zone, with period keys for its firings."""

    def __init__(self, name: str, expression: str, timezone: str) -> None:
        self.name = name
        self.expression = expression
        self.zone = ZoneInfo(timezone)
        self.trigger = crontab_trigger(expression, self.zone)
        self.granularity = granularity_of(expression)

    def __repr__(self) -> str:
        return f"DigestSchedule({self.name!r}, {self.expression!r}, {self.zone.key!r})"

    def period_of(self, fire_time: datetime) -> str:
        """The period key of a scheduled fire time, read in the digest's zone."""
        if fire_time.tzinfo is None:
            raise ValueError("fire time must be timezone-aware")
        local = self.local(fire_time)
        if self.granularity is Granularity.WEEK:
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        if self.granularity is Granularity.MONTH:
            return f"{local:%Y-%m}"
        if self.granularity is Granularity.DAY:
            return f"{local:%Y-%m-%d}"
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%dT%H:%M}{offset[:3]}:{offset[3:]}"

    def local(self, moment: datetime) -> datetime:
        """The wall time in the digest's zone; through UTC, so a time that does not exist locally
        (as APScheduler may return on a spring-forward day) becomes the real one."""
        return moment.astimezone(UTC).astimezone(self.zone)

    def firing(self, fire_time: datetime) -> Firing:
        return Firing(
            fire_time.astimezone(UTC),
            self.local(fire_time),
            self.period_of(fire_time),
            self.name,
        )

    def _fire_times(self, after: datetime) -> Iterator[datetime]:
        """Scheduled fire times strictly after `after`, in order (endless)."""
        previous: datetime | None = None
        now = after + timedelta(microseconds=1)
        while True:
            found = self.trigger.get_next_fire_time(previous, now)
            if found is None:
                return
            yield found
            # in UTC: local arithmetic drops `fold` and would step back into a repeated hour
            previous = found.astimezone(UTC)
            now = previous + timedelta(microseconds=1)

    def firings(self, after: datetime, until: datetime | None = None) -> Iterator[Firing]:
        """Firings after `after` (up to `until` inclusive), one per period: the first of each.

        A fall-back night can make the trigger fire twice in one period; the second firing is
        not a new period, so it is not listed.
        """
        last_period: str | None = None
        for fire_time in self._fire_times(after):
            if until is not None and fire_time > until:
                return
            found = self.firing(fire_time)
            if found.period != last_period:
                last_period = found.period
                yield found

    def next_firing(self, after: datetime) -> Firing | None:
        return next(self.firings(after), None)

    def catch_up(
        self,
        now: datetime,
        grace: timedelta,
        since: datetime | None = None,
        *,
        lookback_limit: int = 10_000,
    ) -> CatchUp:
        """The firing to send at start, and the ones missed since `since` (exclusive).

        `since` is when the digest's latest issue was claimed: firings up to then were handled.
        Only the latest firing inside `(now - grace, now]` is due; earlier ones in the window are
        coalesced into it (one catch-up issue carries all their new articles). Without `since`
        (nothing was ever claimed) only the grace window is looked at.
        """
        window_start = now - grace
        start = window_start if since is None else since
        missed: list[Firing] = []
        count = 0

        def skip(found: Firing) -> None:
            nonlocal count
            count += 1
            if len(missed) < lookback_limit:
                missed.append(found)

        due: Firing | None = None
        truncated = False
        for found in self.firings(start, now):
            if found.at > window_start:
                if due is not None:
                    skip(due)
                due = found
                continue
            skip(found)
            if count >= lookback_limit:
                truncated = True  # a long outage of a frequent digest: stop counting
                break
        if truncated:
            for found in self.firings(window_start, now):
                if due is not None:
                    skip(due)
                due = found
        return CatchUp(due, missed, count, truncated)
