"""Billing periods: calendar-aligned windows in the plan's time zone.

`--period` names a range (`2024-11`, `2024-Q4`, `2024`, `2024-11-01..2024-11-30`);
the range is cut into the plan's calendar periods (month, quarter, ...), each
clipped to the range. A period keeps the length of its whole calendar period
(`days`) so that proration and time-weighted levels divide by the right number
even when the window is cut short (a partial range or an `--as-of` estimate).
"""

from __future__ import annotations

import calendar
import datetime
import functools
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)  # ASCII: no other script's digits
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$", re.ASCII)
_YEAR = re.compile(r"^(\d{4})$", re.ASCII)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$", re.ASCII)
_DAY = datetime.timedelta(days=1)
# A period's end is a local midnight one day past its last day, and a moment is moved by up to a
# day of UTC offset: the calendar's first and last day leave no room for either.
FIRST_DAY = datetime.date(1, 1, 1)
LAST_DAY = datetime.date(9999, 12, 31)


class PeriodProblem(Exception):
    """A `--period` or `--as-of` that cannot be read."""


@dataclass(frozen=True)
class Period:
    """One billing window: local dates `start`..`end` inclusive, inside a calendar period of `days` days."""

    start: datetime.date
    end: datetime.date
    days: int
    full_start: datetime.date
    full_end: datetime.date

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def parse_range(text: str) -> tuple[datetime.date, datetime.date]:
    """The inclusive local dates named by a `--period` value."""
    text = text.strip()
    try:
        if match := _MONTH.match(text):
            start = datetime.date(int(match[1]), int(match[2]), 1)
            return start, _month_end(start.year, start.month)
        if match := _QUARTER.match(text):
            start = datetime.date(int(match[1]), 3 * int(match[2]) - 2, 1)
            return start, _month_end(start.year, start.month + 2)
        if match := _YEAR.match(text):
            return datetime.date(int(match[1]), 1, 1), datetime.date(int(match[1]), 12, 31)
        if match := _RANGE.match(text):
            start, end = datetime.date.fromisoformat(match[1]), datetime.date.fromisoformat(match[2])
            if end < start:
                raise PeriodProblem(f"period {text!r} ends before it starts")
            return start, end
    except ValueError:
        raise PeriodProblem(f"period {text!r} is not a valid date") from None
    raise PeriodProblem(f"cannot read period {text!r}; write 2024-11, 2024-Q4, 2024 or 2024-11-01..2024-11-30")


def calendar_period(unit: str, day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The calendar period of kind `unit` that holds `day` (safe up to 9999-12-31)."""
    if unit == "day":
        return day, day
    if unit == "week":
        start = day - datetime.timedelta(days=day.weekday())
        return start, start + datetime.timedelta(days=min(6, (datetime.date.max - start).days))
    if unit == "month":
        return day.replace(day=1), _month_end(day.year, day.month)
    if unit == "quarter":
        first = 3 * ((day.month - 1) // 3) + 1
        return datetime.date(day.year, first, 1), _month_end(day.year, first + 2)
    if unit == "year":
        return datetime.date(day.year, 1, 1), datetime.date(day.year, 12, 31)
    raise PeriodProblem(f"unknown period unit {unit!r}")  # pragma: no cover - the schema allows no other


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


MAX_PERIODS = 10_000


def split(unit: str, start: datetime.date, end: datetime.date) -> list[Period]:
    """The plan periods covering `start`..`end`, each clipped to that range."""
    if end > LAST_DAY:
        raise PeriodProblem(
            f"the periods to rate reach {end}, past {LAST_DAY}, the last day ratecard can rate; give a --period that ends sooner"
        )
    out: list[Period] = []
    day = start
    while day <= end:
        if len(out) >= MAX_PERIODS:
            raise PeriodProblem(f"{start}..{end} holds more than {MAX_PERIODS:,} periods of a {unit}; give --period")
        full_start, full_end = calendar_period(unit, day)
        window_end = min(full_end, end)
        out.append(Period(day, window_end, (full_end - full_start).days + 1, full_start, full_end))
        if window_end == datetime.date.max:
            break
        day = window_end + _DAY
    return out


def local_midnight(day: datetime.date, timezone: str) -> datetime.datetime:
    """The instant a local day starts, as an aware datetime."""
    return datetime.datetime.combine(day, datetime.time(0), ZoneInfo(timezone))


def parse_as_of(text: str, timezone: str) -> datetime.datetime:
    """`--as-of`: a date (through the end of that day) or an ISO datetime (local if no offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return _within_calendar(local_midnight(datetime.date.fromisoformat(text) + _DAY, timezone), text)
        moment = datetime.datetime.fromisoformat(text)
    except OverflowError:
        raise PeriodProblem(f"--as-of {text!r} is outside the days ratecard can rate ({FIRST_DAY} to {LAST_DAY})") from None
    except ValueError:
        raise PeriodProblem(f"cannot read --as-of {text!r}; write 2024-04-15 or 2024-04-15T12:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return _within_calendar(moment, text)


def _within_calendar(moment: datetime.datetime, text: str) -> datetime.datetime:
    try:
        day = moment.astimezone(datetime.UTC).date()
    except OverflowError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise PeriodProblem(f"--as-of {text!r} is outside the days ratecard can rate ({FIRST_DAY} to {LAST_DAY})")
    return moment


STEADY_FROM = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
STEADY_UNTIL = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)
_UNIVERSAL = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu"})


@functools.cache
def steady_offset(timezone: str) -> int | None:
    """The zone's UTC offset in seconds if it is the same on every day from STEADY_FROM to
    STEADY_UNTIL (UTC, Asia/Seoul, Asia/Tokyo...), else None (zones with daylight saving).

    Within that span a local date is plain arithmetic on the instant. The zone
    is read at noon UTC of each day; no zone changes its offset and back within a day.
    """
    if timezone in _UNIVERSAL:  # no offset ever: the scan would take a tenth of a second to say so
        return 0
    return scanned_offset(timezone)


def scanned_offset(timezone: str) -> int | None:
    """`steady_offset` by reading the zone on every day of the span."""
    zone = ZoneInfo(timezone)
    offsets = {
        (STEADY_FROM + datetime.timedelta(days=day, hours=12)).astimezone(zone).utcoffset()
        for day in range((STEADY_UNTIL - STEADY_FROM).days)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return None if offset is None else int(offset.total_seconds())
