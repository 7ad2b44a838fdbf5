"""The month's NEM12 estimate files (DESIGN §5.2): estimated register-days written as NEM12 files
of whole registers, REGISTERS_PER_FILE registers a file in register-id order, each read back by
our own reader (what the lake holds as estimated_reads is what the files say)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.estimation.estimates import ESTIMATOR, write_estimate_file
from bua_assets.estimation.intervals import READ_COLUMNS
from bua_assets.months import AccrualMonth
from bua_assets.nem12.reader import DAY_SCHEMA, read_nem12

REGISTERS_PER_FILE = 5000


def estimate_file_name(month: AccrualMonth, number: int, participant: str) -> str:
    """NEM12#<YYYYMM>EST<nnn>#<from>#<to>.csv: the month, the file's number, our estimator and the
    participant the files are for."""
    return f"NEM12#{month.compact}EST{number:03d}#{ESTIMATOR}#{participant}.csv"


def file_created(month: AccrualMonth) -> str:
    """The files' creation stamp (NEM12 header): 01:00 on the month's run date."""
    return f"{month.run_date:%Y%m%d}0100"


def register_chunks(register_ids: np.ndarray, per_file: int = REGISTERS_PER_FILE) -> list[np.ndarray]:
    """Row positions of each file: ``per_file`` registers a file (a register never split), by
    register id."""
    uniq = np.unique(register_ids)
    return [
        np.flatnonzero(np.isin(register_ids, uniq[first : first + per_file])) for first in range(0, len(uniq), per_file)
    ]


@dataclass
class EstimateFile:
    name: str
    path: Path
    days: pa.Table  # as read back, READ_COLUMNS
    issues: list = field(default_factory=list)  # the reader's issues: ours must have none


def estimate_files(
    days: pd.DataFrame,
    half_hours: np.ndarray,
    month: AccrualMonth,
    participant: str,
    folder: Path,
    per_file: int = REGISTERS_PER_FILE,
) -> list[EstimateFile]:
    """Writes ``days`` (sorted by register and date: nmi, nmi_configuration, register_code, suffix,
    meter_serial, interval_length, date, register_id) with their ``half_hours`` kWh into ``folder``
    and reads each file back."""
    files = []
    for n, rows in enumerate(register_chunks(days["register_id"].to_numpy(), per_file)):
        name = estimate_file_name(month, n, participant)
        path = Path(folder) / name
        write_estimate_file(
            path, days.iloc[rows], half_hours[rows], created=file_created(month), to_participant=participant
        )
        (parsed,) = read_nem12(path, source=name)
        files.append(EstimateFile(name, path, parsed.days.select(READ_COLUMNS), list(parsed.issues)))
    return files


def estimated_reads(files: list[EstimateFile]) -> pa.Table:
    """The files' register-days in one table (READ_COLUMNS), empty when there are none."""
    return pa.concat_tables([f.days for f in files]) if files else DAY_SCHEMA.empty_table().select(READ_COLUMNS)
