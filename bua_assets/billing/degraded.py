"""A degraded month is not published quietly (issue 23; DESIGN §5.7).

A month is **degraded** when its accrual leans on meter data that did not arrive, and nobody has
said that is acceptable:

- a meter data provider delivered nothing usable this month, or fewer register-days than
  ``min_delivery_share`` of last month's (the comparison of the ``meter_data_deliveries`` check,
  ``nem12/deliveries.py``);
- most of a provider's deliveries were quarantined: more than half of its files rejected whole
  (no 900 end record, no header, ...), or more than half of the register-days it delivered
  quarantined for their values;
- more than ``max_estimated_share`` (``BUA_MAX_ESTIMATED_SHARE``) of the accrual month's unbilled
  interval register-days have no meter data, so are our estimates (``nem12_estimates``' coverage).

The month's outputs still materialise and its export is written under its snapshot for review;
only the promotion to the integration prefix waits for an explicit override with a reason: the run
tag ``bua/accept_degraded`` (its value is the reason) or ``bua-assets promote --accept-degraded
REASON``. The override is recorded with the promoted manifest, in the export's promotion log and in
the run's metadata. Pure: ``bua_export`` and the command line read the inputs and record the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from bua_assets.months import AccrualMonth
from bua_assets.nem12.deliveries import COLUMNS, delivery_shortfalls, providers_of, shortfall

# A month-end run on the 1st has the month's last days still arriving (meter data lags by a few
# days): the demo's month has 4% of its unbilled interval register-days without meter data, a
# provider missing adds its whole share (~8% for one of twelve). 10% leaves the normal month a
# margin and stops one that has lost a provider's worth of data.
DEFAULT_MAX_ESTIMATED_SHARE = 0.10
MOSTLY = 0.5  # "most of a provider's deliveries": more than half of its files, or of its register-days
ACCEPT_TAG = "bua/accept_degraded"  # run tag: its value is the reason the degraded month is published
# Quarantine codes that lose nothing: the day is loaded from another record (a later delivery, the
# later line of the same file) or belongs to another month's partition.
NOT_LOST = frozenset({"superseded", "duplicate_record", "outside_month"})
# Codes given after a file was staged (sql/transform/interval_reads.sql): those register-days are in
# the file log's register_days already; every other quarantined register-day was left out by the reader.
STAGED = frozenset(
    {"invalid_nmi", "unknown_uom", "outside_month", "duplicate_record", "superseded", "implausible_peak"}
)
PROVIDER_COLUMNS = [*COLUMNS, "files_rejected", "delivered", "quarantined", "quarantined_share", "degraded"]


def provider_quality(
    files: pa.Table, previous_files: pa.Table, quarantine: pa.Table, min_delivery_share: float
) -> pd.DataFrame:
    """Per meter data provider: delivery_shortfalls' columns (this and last month's files and
    register-days, share, status), then its files rejected whole, the register-days it delivered in
    the files that were read (``delivered``) and how many of them were quarantined for their content
    (``quarantined``, ``quarantined_share``), and ``degraded`` (missing, below, or mostly quarantined).
    ``files``/``previous_files``: interval_reads' file logs; ``quarantine``: its quarantine dataset."""
    table = delivery_shortfalls(files, previous_files, min_delivery_share).set_index("provider")
    log = pd.DataFrame(
        {
            "source_file": files["source_file"].to_pandas(),
            "provider": providers_of(files),
            "rejected": files["rejected"].to_pandas().astype(bool),
        }
    )
    q = quarantine.select(["source_file", "severity", "code"]).to_pandas()
    q = q[(q["severity"] == "record_quarantined") & ~q["code"].isin(NOT_LOST)]
    q = q.merge(log.loc[~log["rejected"], ["source_file", "provider"]], on="source_file")  # files that were read
    lost = q.groupby("provider").size()
    left_out = q[~q["code"].isin(STAGED)].groupby("provider").size()  # not in the file log's count
    table["files_rejected"] = log[log["rejected"]].groupby("provider").size().reindex(table.index).fillna(0)
    table["delivered"] = table["register_days"] + left_out.reindex(table.index).fillna(0)
    table["quarantined"] = lost.reindex(table.index).fillna(0)
    table = table.astype({"files_rejected": "int64", "delivered": "int64", "quarantined": "int64"})
    share = (table["quarantined"] / table["delivered"].where(table["delivered"] > 0)).round(3)
    table["quarantined_share"] = share.astype(object).where(share.notna(), None)
    table["degraded"] = (
        table["status"].isin(["missing", "below"])
        | (table["files_rejected"] > MOSTLY * table["files"])
        | (table["quarantined"] > MOSTLY * table["delivered"])
    )
    return table.reset_index()[PROVIDER_COLUMNS]


def provider_reasons(providers: pd.DataFrame, min_delivery_share: float) -> list[str]:
    """One line per degraded provider, saying everything that is wrong with its month."""
    out = []
    for r in providers[providers["degraded"]].itertuples():
        parts = [shortfall(r, min_delivery_share)] if r.status in ("missing", "below") else []
        if r.files_rejected > MOSTLY * r.files:
            parts.append(f"{r.files_rejected} of {r.files} files rejected whole (nothing loaded from them)")
        if r.quarantined > MOSTLY * r.delivered:
            parts.append(f"{r.quarantined} of its {r.delivered} register-days quarantined ({r.quarantined_share:.0%})")
        out.append(f"{r.provider}: {', '.join(parts)}")
    return out


@dataclass(frozen=True)
class MonthQuality:
    """Whether the month is degraded, and why (each reason names the provider or the share)."""

    month: str  # YYYY-MM
    reasons: tuple[str, ...]
    estimated_share: float | None  # the month's unbilled interval register-days without meter data
    max_estimated_share: float
    notes: tuple[str, ...] = ()  # what could not be judged, said but not held against the month
    providers: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    @property
    def degraded(self) -> bool:
        return bool(self.reasons)

    def summary(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "not degraded"

    def record(self) -> dict:
        """As written into the snapshot's manifest (and so the promoted one) and the asset's metadata."""
        return {
            "degraded": self.degraded,
            "reasons": list(self.reasons),
            "estimated_share": self.estimated_share,
            "max_estimated_share": self.max_estimated_share,
            "notes": list(self.notes),
        }


def judge_month(
    month: AccrualMonth,
    files: pa.Table,
    previous_files: pa.Table | None,
    quarantine: pa.Table,
    coverage: pd.DataFrame | None,
    *,
    min_delivery_share: float,
    max_estimated_share: float = DEFAULT_MAX_ESTIMATED_SHARE,
) -> MonthQuality:
    """The month's verdict from interval_reads' file logs (this month's; last month's, None when
    it was never materialised) and quarantine, and nem12_estimates' coverage (None when the month's
    nem12_estimates predates it: the share cannot be judged, which holds the month back too)."""
    if not 0 < max_estimated_share <= 1:
        raise ValueError(f"BUA_MAX_ESTIMATED_SHARE must be above 0 and at most 1 (got {max_estimated_share})")
    notes = []
    if previous_files is None:
        notes.append(f"no file log for {month.previous} (interval_reads not materialised): deliveries not compared")
        previous_files = files.schema.empty_table()
    providers = provider_quality(files, previous_files, quarantine, min_delivery_share)
    reasons = provider_reasons(providers, min_delivery_share)
    share = None
    if coverage is None:
        reasons.append(
            f"the share of {month}'s interval register-days estimated is unknown (nem12_estimates has no "
            "coverage dataset: materialise it again)"
        )
    else:
        row = coverage[pd.to_datetime(coverage["month"]) == pd.Timestamp(month.start)]
        days = int(row["register_days"].iloc[0]) if len(row) else 0
        if days:
            share = float(row["estimated_share"].iloc[0])
            without = int(row["estimated"].iloc[0] + row["not_estimated"].iloc[0])
            if share > max_estimated_share:
                reasons.append(
                    f"{share:.1%} of {month}'s {days:,} unbilled interval register-days have no meter data "
                    f"({without:,} estimated or not estimable; at most {max_estimated_share:.0%} allowed, "
                    "BUA_MAX_ESTIMATED_SHARE)"
                )
        else:
            notes.append(f"no unbilled interval register-days in {month}: nothing estimated")
    return MonthQuality(month.label, tuple(reasons), share, max_estimated_share, tuple(notes), providers)


@dataclass(frozen=True)
class Acceptance:
    """An operator's explicit decision to publish a degraded month: who, when, how and why."""

    reason: str
    by: str  # the operator (the command line's user), or the run that carried the tag
    via: str  # "run tag bua/accept_degraded" or "bua-assets promote --accept-degraded"
    at: str  # ISO 8601, UTC

    @classmethod
    def given(cls, reason: str | None, by: str, via: str, at: datetime | None = None) -> Acceptance | None:
        """The acceptance, or None when no reason is given (an empty reason accepts nothing)."""
        text = (reason or "").strip()
        if not text:
            return None
        return cls(text, by, via, (at or datetime.now(UTC)).isoformat(timespec="seconds"))

    def record(self) -> dict:
        return {"reason": self.reason, "by": self.by, "via": self.via, "at": self.at}


def override_hint(month: AccrualMonth, snapshot: str) -> str:
    return (
        f"promote with `bua-assets promote --month {month} --snapshot {snapshot} --accept-degraded REASON` "
        f"or run with the tag {ACCEPT_TAG}=REASON"
    )


def gate(
    promote: bool, why: str, quality: MonthQuality, acceptance: Acceptance | None, month: AccrualMonth, snapshot: str
) -> tuple[bool, str]:
    """Whether the run's export is promoted after all, and why: a degraded month only with an
    acceptance (whatever else decided to promote it: auto or the run config's always)."""
    if not quality.degraded:
        return promote, why
    if not promote:
        return False, f"{why}; the month is degraded too: {quality.summary()}"
    if acceptance is not None:
        return True, (
            f"{why}; degraded month accepted ({acceptance.via}, {acceptance.by}): {acceptance.reason!r}; "
            f"degraded: {quality.summary()}"
        )
    return False, f"held back, degraded: {quality.summary()}; {override_hint(month, snapshot)}"
