"""Account shards (issue 28): the unbilled consumption of a large retailer computed a slice of
its accounts at a time, so one step's memory is bounded by the shard, not the retailer.

An account belongs to shard ``account_id % count``: the same shard on every run with the same
count, whatever other accounts come and go. Every input of ``unbilled.unbilled_consumption``
that is per account, supply point or register is cut to the shard's rows (``shard_inputs``,
``shard_reads``); the tables every account shares (plans, time of use, heating values, the
macro profiles) are whole. A supply point that changed hands between two accounts of different
shards is in both, each with its own account's unbilled days. Pure: no Dagster, no lake."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_ACCOUNTS_PER_SHARD = 250_000


def shard_count(accounts: int, accounts_per_shard: int = DEFAULT_ACCOUNTS_PER_SHARD) -> int:
    """How many shards a month of ``accounts`` takes: at most ``accounts_per_shard`` each (about,
    by account_id modulo the count), and always one."""
    if accounts_per_shard < 1:
        raise ValueError(f"accounts per shard must be at least 1, got {accounts_per_shard}")
    return max(1, math.ceil(accounts / accounts_per_shard))


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count} does not exist")

    @property
    def whole(self) -> bool:
        """The only shard: every account, the inputs as they are."""
        return self.count == 1

    def holds(self, account_ids: pd.Series | np.ndarray) -> np.ndarray:
        """Which of ``account_ids`` belong to this shard."""
        return np.asarray(account_ids, dtype=np.int64) % self.count == self.index

    def __str__(self) -> str:
        return f"shard {self.index + 1} of {self.count}"


@dataclass(frozen=True)
class ShardInputs:
    """The per-account inputs of unbilled.unbilled_consumption, cut to one shard's accounts."""

    unbilled_months: pd.DataFrame  # the shard's accounts' unbilled months
    registers: pd.DataFrame  # of their supply points
    account_plans: pd.DataFrame  # of their accounts
    scalar_table: pd.DataFrame  # micro scalars of their registers (indexed by register_id)
    read_intervals: pd.DataFrame  # basic read intervals of their registers (meter_register_id)
    estimated: pa.Table  # our estimated interval days of their NMIs

    @property
    def nmis(self) -> pa.Array:
        return pa.array(self.registers["nmi"].dropna().unique(), pa.string())


def shard_inputs(
    shard: Shard,
    unbilled_months: pd.DataFrame,
    registers: pd.DataFrame,
    account_plans: pd.DataFrame,
    scalar_table: pd.DataFrame,
    read_intervals: pd.DataFrame,
    estimated: pa.Table,
) -> ShardInputs:
    """The inputs with only the shard's accounts and their supply points, registers and NMIs (the
    order of the rows kept); the only shard gets them untouched."""
    if shard.whole:
        return ShardInputs(unbilled_months, registers, account_plans, scalar_table, read_intervals, estimated)
    months = unbilled_months[shard.holds(unbilled_months["account_id"])]
    shard_registers = registers[registers["utility_id"].isin(months["utility_id"].unique())]
    register_ids = shard_registers["register_id"].unique()
    nmis = pa.array(shard_registers["nmi"].dropna().unique(), pa.string())
    return ShardInputs(
        unbilled_months=months,
        registers=shard_registers,
        account_plans=account_plans[shard.holds(account_plans["account_id"])],
        scalar_table=scalar_table[scalar_table.index.isin(register_ids)],
        read_intervals=read_intervals[read_intervals["meter_register_id"].isin(register_ids)],
        estimated=estimated.filter(pc.is_in(estimated["nmi"], value_set=nmis.cast(estimated["nmi"].type))),
    )


def shard_reads(
    shard: Shard, inputs: ShardInputs, batches: Callable[[str], Iterable[pa.RecordBatch]]
) -> Callable[[str], Iterable[pa.RecordBatch]]:
    """``batches(month_key)`` (a month's interval data, streamed) with only the rows of the shard's
    NMIs (``inputs.registers``'): memory holds a batch and the shard's share of it."""
    if shard.whole:
        return batches
    nmis = inputs.nmis

    def of_shard(month_key: str) -> Iterator[pa.RecordBatch]:
        for batch in batches(month_key):
            yield batch.filter(pc.is_in(batch.column("nmi"), value_set=nmis.cast(batch.schema.field("nmi").type)))

    return of_shard
