"""What the customer was billed: the line items of issued invoices, filtered in Arrow before
anything becomes a DataFrame (InvoiceLineItem is the largest CORE table at a real retailer)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ISSUED = "ISSUED"


def issued_invoices(invoices: pa.Table, *, credits: bool) -> pa.Array:
    """Ids of ISSUED invoices: debits only, or debits and credits (``credits=True``)."""
    keep = pc.equal(invoices["status"], ISSUED)
    if not credits:
        keep = pc.and_(keep, pc.equal(invoices["is_credit"], 0))
    return invoices.filter(pc.fill_null(keep, False))["id"].combine_chunks()


def billed_lines(invoices: pa.Table, line_items: pa.Table, *, credits: bool = False) -> pa.Table:
    """Line items of issued debit invoices (with ``credits``, of issued credit notes too)."""
    ids = issued_invoices(invoices, credits=credits)
    return line_items.filter(
        pc.fill_null(
            pc.is_in(line_items["invoice_id"], value_set=ids.cast(line_items.schema.field("invoice_id").type)), False
        )
    )


def largest_bill(invoices: pa.Table, line_items: pa.Table) -> pd.Series:
    """Per account: the net amount of its largest issued (debit) bill, as float."""
    lines = billed_lines(invoices, line_items.select(["account_id", "invoice_id", "net_amount"]))
    per_bill = lines.group_by(["account_id", "invoice_id"], use_threads=False).aggregate([("net_amount", "sum")])
    per_account = per_bill.group_by("account_id", use_threads=False).aggregate([("net_amount_sum", "max")])
    # Through text: a decimal's nearest float (a direct cast can be off in the last bit).
    amounts = per_account["net_amount_sum_max"].cast(pa.string()).cast(pa.float64())
    return pd.Series(
        amounts.to_numpy(zero_copy_only=False),
        index=per_account["account_id"].to_numpy(zero_copy_only=False),
        name="net_amount",
    )


def billed_through(invoices: pa.Table, line_items: pa.Table) -> pd.Series:
    """Per account: the last day any issued (debit) bill covers."""
    lines = billed_lines(invoices, line_items.select(["account_id", "invoice_id", "period_end"]))
    last = lines.group_by("account_id", use_threads=False).aggregate([("period_end", "max")])
    return pd.Series(
        last["period_end_max"].to_pandas().to_numpy(),
        name="period_end",
        index=last["account_id"].to_numpy(zero_copy_only=False),
    )
