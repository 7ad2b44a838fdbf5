"""A month stopped by a blocking check says why in the run's failure, not only on the Checks tab."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg


def stop_on_blocking_failures(asset: str, results: Iterable[dg.AssetCheckResult]) -> None:
    """Raise after the step has yielded its check results when any failed at ERROR. Dagster would
    stop the step itself, naming only the checks ("1 blocking asset check failed"); this failure
    carries each finding (table, column, what to do) to the run's failure, its notification and
    the run log. Every asset that yields a blocking check calls this after yielding them all."""
    failed = [r for r in results if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR]
    if failed:
        raise dg.Failure(
            description="; ".join(f"{asset}.{r.check_name} failed: {r.description}" for r in failed),
            metadata={"failed_checks": [f"{asset}.{r.check_name}" for r in failed]},
        )
