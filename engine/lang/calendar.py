"""Calendar arithmetic the policies need: whole years and months, months of a period."""
from __future__ import annotations

import calendar as _calendar
import datetime as _dt
from typing import Iterator


def add_years(day: _dt.date, years: int) -> _dt.date:
    """``day`` plus whole years; a 29 February that does not exist becomes 28 February."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not _calendar.isleap(year):
        return _dt.date(year, 2, 28)
    return day.replace(year=year)


def add_months(day: _dt.date, months: int) -> _dt.date:
    """``day`` plus whole months; a day past the month's end becomes its last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return _dt.date(year, month + 1, min(day.day, last))


def months_between(a: _dt.date, b: _dt.date) -> int:
    """Calendar months from ``a``'s month to ``b``'s month (same month: 0)."""
    return (b.year - a.year) * 12 + (b.month - a.month)


def month_start(text: str) -> _dt.date:
    """The first day of a month written ``YYYY-MM``."""
    year, month = text.split("-")
    return _dt.date(int(year), int(month), 1)


def months_in(start: _dt.date, end: _dt.date) -> Iterator[_dt.date]:
    """First days of the months whose first day lies in [start, end]."""
    first = start if start.day == 1 else add_months(start.replace(day=1), 1)
    while first <= end:
        yield first
        first = add_months(first, 1)
