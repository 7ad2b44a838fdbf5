"""The segment profiles' check (DESIGN §5.3, profile_validation): per segment the days with a
missing, negative or absurd entry (errors) and the share of days filled (a warning over the
limit); the registers' coverage; the months of the window without interval statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bua_assets.estimation.profiles import SegmentProfiles

MAX_FILL_SHARE = 0.5  # a segment filled on more of its days than this is a warning
MAX_INTERVAL_KWH = 500.0  # an average register-half-hour above this is absurd


@dataclass
class ProfileFindings:
    segments: pd.DataFrame  # segment, missing_days, negative_days, absurd_days, fill_share (3 decimals)
    errors: pd.DataFrame  # the segments with a missing, negative or absurd day
    over_filled: pd.DataFrame  # the segments filled over the limit
    coverage: pd.Series  # each register's coverage (utility_profile_summary)
    lowest_coverage: pd.DataFrame  # the 10 registers with the least coverage
    missing_history: list[str]  # partition keys without interval statistics, sorted

    @property
    def passed(self) -> bool:
        return self.errors.empty and self.over_filled.empty and not self.missing_history

    def coverage_summary(self) -> dict:
        c = self.coverage
        return {
            "registers": int(len(c)),
            "median": float(c.median()) if len(c) else None,
            "p10": float(c.quantile(0.1)) if len(c) else None,
            "below_50pct": int((c < 0.5).sum()),
        }


def profile_findings(
    result: SegmentProfiles,
    summary: pd.DataFrame,
    max_interval_kwh: float = MAX_INTERVAL_KWH,
    max_fill_share: float = MAX_FILL_SHARE,
    missing_history=(),
) -> ProfileFindings:
    """``result``: segment_profiles; ``summary``: utility_profile_summary (register_id, nmi,
    suffix, coverage, days_with_data); ``missing_history``: months of the window without
    interval statistics (their segment-days are filled or missing for want of data)."""
    missing = (result.status == "MISSING").sum(axis=1)
    negative = (result.values < 0).any(axis=2).sum(axis=1)
    absurd = (result.values > max_interval_kwh).any(axis=2).sum(axis=1)
    fill_share = (result.status == "FILLED").mean(axis=1)
    table = pd.DataFrame(
        {
            "segment": result.names,
            "missing_days": missing,
            "negative_days": negative,
            "absurd_days": absurd,
            "fill_share": np.round(fill_share, 3),
        }
    )
    errors = table[(table["missing_days"] > 0) | (table["negative_days"] > 0) | (table["absurd_days"] > 0)]
    over = table[table["fill_share"] > max_fill_share]
    coverage = summary["coverage"] if len(summary) else pd.Series(dtype=float)
    low = summary.sort_values("coverage").head(10)[["register_id", "nmi", "suffix", "coverage", "days_with_data"]]
    return ProfileFindings(table, errors, over, coverage, low, sorted(missing_history))
