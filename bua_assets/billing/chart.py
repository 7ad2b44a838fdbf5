"""The finance chart: accrual (net less expected discounts) by state x fuel and month, with the
previous month's accrual beside it when there is one. A PNG a person opens from the UI."""

from __future__ import annotations

import io

import pandas as pd


def accrual_chart(summary: pd.DataFrame, previous: pd.DataFrame | None, partition: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display: render to bytes
    import matplotlib.pyplot as plt

    def cells(frame):
        f = frame.assign(cell=frame["state"].fillna("?") + " " + frame["fuel"].fillna("?").str.lower())
        return f.pivot_table(index="cell", columns="year_mnth", values="net_amount_less_discount", aggfunc="sum",
                             fill_value=0.0)

    current = cells(summary)
    fig, ax = plt.subplots(figsize=(10, 5), dpi=100)
    bottom = None
    for month in sorted(current.columns):
        values = current[month]
        ax.bar(current.index, values, bottom=bottom, label=f"{pd.Timestamp(month):%b %Y}")
        bottom = values if bottom is None else bottom + values
    if previous is not None and len(previous):
        prior = cells(previous).sum(axis=1).reindex(current.index).fillna(0.0)
        ax.scatter(current.index, prior, marker="_", s=400, color="black", zorder=3, label="previous month's accrual")
    ax.set_title(f"Accrued unbilled revenue ex-GST, less expected discounts, as at {partition[:7]}")
    ax.set_ylabel("$")
    ax.tick_params(axis="x", rotation=45)
    ax.legend(title="unbilled month", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
