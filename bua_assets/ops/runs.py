"""What happened in a month's run, for the operators: the notification text (SNS) and the run
record kept in the lake (``bua_run_log/<partition>/runs.parquet``, one row per run). Pure: the
sensor in bua_assets/run_sensors.py gathers the facts from the Dagster instance and the lake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.billing.glance import glance_text
from bua_assets.billing.money import round_cents
from bua_assets.months import AccrualMonth

RUN_LOG_ASSET, RUN_LOG_DATASET = "bua_run_log", "runs"
SNS_SUBJECT_MAX = 100  # SNS rejects longer subjects


@dataclass
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str  # ERROR or WARN
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.asset}.{self.check}"

    @property
    def outcome(self) -> str:
        """passed, warned (did not pass at WARN) or failed (did not pass at ERROR)."""
        return "passed" if self.passed else "warned" if self.severity == "WARN" else "failed"


def check_counts(checks: list[CheckOutcome]) -> dict[str, int]:
    """How many of a run's check evaluations passed, warned and failed."""
    return {k: sum(c.outcome == k for c in checks) for k in ("passed", "warned", "failed")}


def counts_text(counts: dict[str, int]) -> str:
    return f"{counts['passed']} passed, {counts['warned']} warned, {counts['failed']} failed"


def exceptions_by_code(by_source_and_code: dict[str, int]) -> dict[str, int]:
    """The errors asset's counts per "source:code" summed per code, largest first (then by code)."""
    totals: dict[str, int] = {}
    for key, n in by_source_and_code.items():
        code = key.split(":", 1)[1] if ":" in key else key
        totals[code] = totals.get(code, 0) + int(n)
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class RunFacts:
    run_id: str
    month: str  # the partition key, YYYY-MM-01
    status: str  # SUCCESS or FAILURE
    snapshot: str
    started: datetime | None
    ended: datetime | None
    code_version: str
    step_seconds: dict[str, float] = field(default_factory=dict)  # step (asset) -> seconds
    failed_steps: list[str] = field(default_factory=list)
    failure_messages: dict[str, str] = field(default_factory=dict)  # failed step -> its error's first line
    totals: pd.DataFrame | None = None  # state, fuel, net_amount, previous_net_amount, change
    glance: pd.DataFrame | None = None  # billing.glance.month_at_a_glance: the accrual against last month
    checks: list[CheckOutcome] = field(default_factory=list)
    export_location: str = ""
    note: str = ""  # the operator's note: run tag bua/note
    job: str = ""
    exceptions: dict[str, int] | None = None  # the run's errors by code (None: errors not materialised)
    promotion: str = ""  # bua_export's word on promotion (why promoted, kept apart or held back)
    promoted: bool | None = None  # None: the run did not export
    degraded: list[str] = field(default_factory=list)  # why the month is degraded (billing/degraded.py)
    accepted_degraded: dict | None = None  # the acceptance that promoted a degraded month
    snapshot_created: datetime | None = None  # when CORE's snapshot was taken (the EARL event)
    core_release: str | None = None  # CORE's release the snapshot came from (None: no snapshot restored)

    @property
    def snapshot_to_export_seconds(self) -> float | None:
        """From the snapshot to the end of the run that exported it: what the month-end waits."""
        exported = self.promoted is not None
        if not (exported and self.snapshot_created and self.ended):
            return None
        return (self.ended - self.snapshot_created).total_seconds()

    @property
    def check_counts(self) -> dict[str, int]:
        return check_counts(self.checks)

    @property
    def duration_seconds(self) -> float | None:
        return (self.ended - self.started).total_seconds() if self.started and self.ended else None


def totals_against_previous(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Net amount by state x fuel for the month (accrual_summary rows) beside last month's, and the change.
    A cell only in one month shows 0 in the other."""

    def by_cell(frame: pd.DataFrame | None) -> pd.Series:
        if frame is None or frame.empty:
            return pd.Series(dtype=float)
        return frame.groupby(["state", "fuel"], dropna=False)["net_amount"].sum()

    now, before = by_cell(current), by_cell(previous)
    out = round_cents(pd.concat({"net_amount": now, "previous_net_amount": before}, axis=1).fillna(0.0))
    out["change"] = round_cents(out["net_amount"] - out["previous_net_amount"])
    out = out.reset_index().rename(columns={"level_0": "state", "level_1": "fuel"})
    return out.sort_values(["state", "fuel"], na_position="last").reset_index(drop=True)


def run_link(ui_base_url: str, run_id: str) -> str:
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def blocking_failure(facts: RunFacts) -> CheckOutcome | None:
    """The check that stopped the month: the first failed ERROR check (a blocking check at ERROR)."""
    return next((c for c in facts.checks if not c.passed and c.severity == "ERROR"), None)


def _success(facts: RunFacts, month: str) -> tuple[str, list[str]]:
    """Subject and body of a finished month: degraded or not, warnings, the month at a glance, export."""
    counts = facts.check_counts
    subject = f"BUA {month}: done"
    if facts.degraded and not facts.promoted:
        subject += ", DEGRADED: not published"
    elif facts.degraded:
        subject += ", degraded: published on acceptance"
    if counts["warned"]:
        subject += f" ({counts['warned']} {'check' if counts['warned'] == 1 else 'checks'} warned)"
    lines = ["", "Accrual (ex-GST, less expected discounts) against last month:"]
    if facts.glance is not None:
        lines.append(glance_text(facts.glance, month, AccrualMonth.from_key(facts.month).previous.label))
    else:
        lines.append("(no accrual summary for the month)")
    lines += ["", f"Export: {facts.export_location or '(none)'}"]
    if facts.promotion:
        lines.append(f"Promotion: {facts.promotion}")
    return subject, lines


def _failure(facts: RunFacts, month: str) -> tuple[str, list[str]]:
    """Subject and body of a failed month: the step, the check that stopped it, the errors."""
    failed = blocking_failure(facts)
    step = ", ".join(facts.failed_steps) or "(no step failed: the run was stopped)"
    subject = f"BUA {month}: FAILED at {facts.failed_steps[0] if facts.failed_steps else 'run'}"
    lines = ["", f"Failed step: {step}"]
    if failed:
        lines.append(f"Failed check: {failed.name} ({failed.severity}): {failed.description}")
    lines += [f"Error in {name}: {error}" for name, error in facts.failure_messages.items()]
    lines.append("Re-run: open the run, Re-execute > From failure")
    return subject, lines


def message(facts: RunFacts, ui_base_url: str) -> tuple[str, str]:
    """(subject, body) of the notification: a short summary of a finished month, or of a failed
    one naming the failed step and the check that stopped it."""
    month = AccrualMonth.from_key(facts.month).label
    lines = [
        f"Month: {month}",
        f"Snapshot: {facts.snapshot}" + (f" (CORE release {facts.core_release})" if facts.core_release else ""),
        f"Run: {facts.run_id} ({run_link(ui_base_url, facts.run_id)})",
        f"Duration: {_duration(facts.duration_seconds)}",
    ]
    if facts.snapshot_to_export_seconds is not None:
        lines.append(f"Snapshot to export: {_duration(facts.snapshot_to_export_seconds)}")
    if facts.note:
        lines.append(f"Note: {facts.note}")
    subject, body = (_success if facts.status == "SUCCESS" else _failure)(facts, month)
    lines += body
    lines += ["", f"Checks: {counts_text(facts.check_counts)}" if facts.checks else "Checks:"]
    lines += [
        f"  {c.name}: {'passed' if c.passed else 'FAILED (' + c.severity + ')'}"
        + ("" if c.passed or not c.description else f" - {c.description}")
        for c in facts.checks
    ] or ["  (none evaluated)"]
    if facts.exceptions is not None:
        lines += ["", "Exceptions by code:"]
        lines += [f"  {code}: {n:,}" for code, n in facts.exceptions.items()] or ["  (none)"]
    return subject[:SNS_SUBJECT_MAX], "\n".join(lines) + "\n"


RUN_LOG_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("month", pa.string()),
        ("status", pa.string()),
        ("job", pa.string()),
        ("snapshot", pa.string()),
        ("code_version", pa.string()),
        ("started", pa.timestamp("us", tz="UTC")),
        ("ended", pa.timestamp("us", tz="UTC")),
        ("duration_seconds", pa.float64()),
        ("step_seconds", pa.string()),  # JSON: step -> seconds
        ("failed_steps", pa.string()),
        ("net_amount", pa.float64()),
        ("previous_net_amount", pa.float64()),
        ("totals", pa.string()),  # JSON: [{state, fuel, net_amount, previous_net_amount, change}]
        ("checks_passed", pa.int32()),
        ("checks_failed", pa.int32()),  # did not pass at ERROR (before issue 23: at any severity)
        ("checks", pa.string()),  # JSON
        ("export_location", pa.string()),
        ("note", pa.string()),
        ("checks_warned", pa.int32()),  # did not pass at WARN
        ("exceptions", pa.string()),  # JSON: code -> rows of the month's errors (this run's)
        ("promotion", pa.string()),
        ("promoted", pa.bool_()),
        ("degraded", pa.string()),  # JSON: why the month is degraded ([] when it is not)
        ("accepted_degraded", pa.string()),  # JSON: reason, by, via, at of the acceptance that promoted it
        ("snapshot_created", pa.timestamp("us", tz="UTC")),
        ("snapshot_to_export_seconds", pa.float64()),  # from the snapshot to the run that exported it
        ("core_release", pa.string()),  # the snapshot's core:release tag ("unknown" when absent)
    ]
)


def run_record(facts: RunFacts) -> dict:
    """One row of the run log."""
    totals = (
        facts.totals
        if facts.totals is not None
        else pd.DataFrame(columns=["state", "fuel", "net_amount", "previous_net_amount", "change"])
    )
    return {
        "run_id": facts.run_id,
        "month": facts.month,
        "status": facts.status,
        "job": facts.job,
        "snapshot": facts.snapshot,
        "code_version": facts.code_version,
        "started": facts.started,
        "ended": facts.ended,
        "duration_seconds": None if facts.duration_seconds is None else round(facts.duration_seconds, 1),
        "step_seconds": json.dumps({k: round(v, 3) for k, v in facts.step_seconds.items()}),
        "failed_steps": ",".join(facts.failed_steps),
        "net_amount": round_cents(float(totals["net_amount"].sum())) if facts.status == "SUCCESS" else None,
        "previous_net_amount": (
            round_cents(float(totals["previous_net_amount"].sum())) if facts.status == "SUCCESS" else None
        ),
        "totals": json.dumps(totals.astype({"state": str, "fuel": str}).to_dict("records")),
        "checks_passed": facts.check_counts["passed"],
        "checks_failed": facts.check_counts["failed"],
        "checks_warned": facts.check_counts["warned"],
        "checks": json.dumps(
            [
                {"check": c.name, "passed": c.passed, "severity": c.severity, "description": c.description}
                for c in facts.checks
            ]
        ),
        "export_location": facts.export_location,
        "note": facts.note,
        "exceptions": None if facts.exceptions is None else json.dumps(facts.exceptions),
        "promotion": facts.promotion,
        "promoted": facts.promoted,
        "degraded": json.dumps(facts.degraded),
        "accepted_degraded": None if facts.accepted_degraded is None else json.dumps(facts.accepted_degraded),
        "snapshot_created": facts.snapshot_created,
        "snapshot_to_export_seconds": facts.snapshot_to_export_seconds,
        "core_release": facts.core_release,
    }


def append_run(existing: pa.Table | None, record: dict) -> pa.Table:
    """The month's run log with ``record`` in it: a run already recorded (the sensor saw it
    twice) is replaced, never repeated; rows stay in start order."""
    new = pa.Table.from_pylist([record], schema=RUN_LOG_SCHEMA)
    if existing is None or existing.num_rows == 0:
        return new
    for f in RUN_LOG_SCHEMA:  # a log written before a column was added has it empty
        if f.name not in existing.column_names:
            existing = existing.append_column(f.name, pa.nulls(existing.num_rows, f.type))
    existing = existing.select(RUN_LOG_SCHEMA.names).cast(RUN_LOG_SCHEMA)
    kept = existing.filter(pc.not_equal(existing["run_id"], record["run_id"]))
    return pa.concat_tables([kept, new]).sort_by([("started", "ascending"), ("run_id", "ascending")])
