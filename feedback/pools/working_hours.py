"""Working time: the pools' SLAs count minutes Monday to Friday between a start and an end
hour in the pool's time zone (09:00 to 17:00 UTC unless the pool says otherwise). Public
holidays are not known and count as working days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedback.kernel.errors import InputError

WORKDAYS = range(5)  # Monday (0) to Friday (4)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    timezone: str = "UTC"
    start_hour: int = 9
    end_hour: int = 17

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def check(self) -> WorkingHours:
        """Itself, or an InputError naming the setting that makes no sense."""
        try:
            self.zone()
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError("timezone", f"unknown time zone {self.timezone!r}") from None
        if not 0 <= self.start_hour <= 23:
            raise InputError("workday_start_hour", "an hour from 0 to 23")
        if not 1 <= self.end_hour <= 24 or self.end_hour <= self.start_hour:
            raise InputError("workday_end_hour", "an hour up to 24, after the start hour")
        return self


def _window(day: date, hours: WorkingHours, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(hours.start_hour), zone)
    if hours.end_hour == 24:
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
    else:
        end = datetime.combine(day, time(hours.end_hour), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def working_minutes(start: datetime, end: datetime, hours: WorkingHours = WorkingHours()) -> float:
    """Working minutes from `start` to `end` (aware datetimes); 0 when end is not later."""
    if end <= start:
        return 0.0
    zone = hours.zone()
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    total = 0.0
    while day <= last:
        if day.weekday() in WORKDAYS:
            opens, closes = _window(day, hours, zone)
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap.total_seconds() / 60
        day += timedelta(days=1)
    return total
