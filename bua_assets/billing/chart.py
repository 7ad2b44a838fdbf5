"""The finance chart: accrual (net less expected discounts) by state x fuel and month, with the
previous month's accrual beside it when there is one. A PNG a person opens from the UI."""

from __future__ import annotations

import colorsys
import io

import pandas as pd

from bua_assets.months import AccrualMonth

# Distinct colours for the unbilled months, oldest first: matplotlib's tab10, then 18 picked one
# by one from the qualitative palettes (tab20, Dark2, Set1/2, Paired, Kelly's) as the farthest
# from all before them and from white and black: 28 in all, no two closer than 59 in RGB (the
# horizon is 24 months). Beyond that, evenly spread hues. The default cycle repeated after 10.
MONTH_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#dbdb8d",
    "#a1caf1",
    "#f0027f",
    "#ffff33",
    "#393b79",
    "#fc8d62",
    "#2b3d26",
    "#66c2a5",
    "#1b9e77",
    "#b3b3b3",
    "#f7b6d2",
    "#882d17",
    "#f3c300",
    "#98df8a",
    "#a6761d",
    "#66a61e",
    "#6a3d9a",
    "#d6616b",
)


def month_colours(count: int) -> list[str]:
    """``count`` distinct colours (hex), the first 28 from MONTH_PALETTE."""
    colours = list(MONTH_PALETTE[:count])
    extra = count - len(colours)
    for i in range(extra):
        r, g, b = colorsys.hls_to_rgb(i / extra, 0.35 if i % 2 else 0.6, 0.75)
        colour = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
        colours.append(colour if colour not in colours else f"#{(int(colour[1:], 16) ^ 0x010101):06x}")
    return colours


def accrual_chart(summary: pd.DataFrame, previous: pd.DataFrame | None, partition: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display: render to bytes
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    def cells(frame):
        f = frame.assign(cell=frame["state"].fillna("?") + " " + frame["fuel"].fillna("?").str.lower())
        return f.pivot_table(
            index="cell", columns="year_mnth", values="net_amount_less_discount", aggfunc="sum", fill_value=0.0
        )

    current = cells(summary)
    # Wide enough for the legend beside the plot (never over the bars) and the totals above them.
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=100)
    bottom = None
    months = sorted(current.columns)
    for month, colour in zip(months, month_colours(len(months))):
        values = current[month]
        ax.bar(current.index, values, bottom=bottom, color=colour, label=f"{pd.Timestamp(month):%b %Y}")
        bottom = values if bottom is None else bottom + values
    totals = current.sum(axis=1)
    top = float(max(totals.max(), 0.0)) if len(totals) else 0.0
    if previous is not None and len(previous):
        prior = cells(previous).sum(axis=1).reindex(current.index).fillna(0.0)
        ax.scatter(current.index, prior, marker="_", s=400, color="black", zorder=3, label="previous month's accrual")
        top = max(top, float(prior.max()))
    for x, total in enumerate(totals):  # the cell's total to the dollar above its bar
        ax.annotate(
            f"${total:,.0f}",
            (x, max(total, 0.0)),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylim(top=top * 1.1 if top > 0 else 1.0)  # room for the totals
    ax.set_title(f"Accrued unbilled revenue ex-GST, less expected discounts, as at {AccrualMonth.from_key(partition)}")
    ax.set_ylabel("Accrual ($, ex-GST, less expected discounts)")
    ax.set_xlabel("state and fuel of the supply point")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(
        title="unbilled month",
        fontsize=8,
        ncol=max(1, (len(months) + 15) // 16),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
