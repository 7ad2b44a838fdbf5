"""The month-end snapshot that never arrives (issue 24): CORE's month-end snapshot is due shortly
after local midnight on the 1st; when none has started its month by a deadline, operations must
hear it rather than find an empty month in the morning. Pure: the sensor in
``bua_assets/run_sensors.py`` reads the runs and sends the alert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bua_assets.ops.earl import last_complete_month

DEFAULT_DEADLINE_HOURS = 12.0  # the snapshot is taken after midnight; by midday it is late


@dataclass(frozen=True)
class OverdueMonth:
    partition_key: str  # the accrual month, e.g. 2026-10-01
    deadline: datetime  # local time by which its month-end snapshot should have started a run

    def message(self, now: datetime) -> tuple[str, str]:
        late = now - self.deadline
        hours = late.total_seconds() / 3600
        month = self.partition_key[:7]
        return (
            f"BUA {month}: no month-end CORE snapshot {hours:.1f} h after the deadline",
            f"No run of the accrual month {month} has been started by a CORE snapshot (EARL) by "
            f"{self.deadline:%Y-%m-%d %H:%M %Z} (local month end + the deadline), and it is now "
            f"{now:%Y-%m-%d %H:%M %Z}.\n"
            "Check that CORE's month-end snapshot was taken and that its EARL event reached the queue "
            "(BUA_EARL_QUEUE_URL; the earl_snapshot_sensor is on). To start the month by hand: "
            f"bua-assets period --from {self.partition_key} --to {self.partition_key} with "
            "BUA_RDS_MODE and the snapshot identifier set, or materialise the partition in the UI.",
        )


def overdue_month(now: datetime, deadline_hours: float) -> OverdueMonth | None:
    """The last ended month when ``now`` (aware, the retailer's time zone) is past its month end
    plus ``deadline_hours``; None before that."""
    key = last_complete_month(now.date())
    month_end = date.fromisoformat(key).replace(day=28) + timedelta(days=4)
    next_first = month_end.replace(day=1)
    deadline = datetime.combine(next_first, time(0), tzinfo=now.tzinfo) + timedelta(hours=deadline_hours)
    return OverdueMonth(key, deadline) if now >= deadline else None
