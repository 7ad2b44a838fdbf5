"""Money: one rule for cents and GST, used by the tariff engine, the corrections, the finance
outputs and the synthetic bills alike.

Amounts round half away from zero to the cent, as invoices do (numpy's and pandas' ``round``
round half to even, and a float such as 1.005 sits just below its decimal value, hence the
small epsilon). GST is 10% of the net amount, rounded the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GST_RATE = 0.10
_EPSILON = 1e-9  # below a tenth of a millionth of a cent: absorbs binary representation, never a real amount


def round_cents(x):
    """``x`` to the cent, half away from zero: an array (or Series, keeping its index) for an
    array, a float for a scalar."""
    if isinstance(x, pd.Series):
        return pd.Series(round_cents(x.to_numpy(dtype=float)), index=x.index, name=x.name)
    if isinstance(x, pd.DataFrame):
        return x.apply(round_cents)
    a = np.asarray(x, dtype=float)
    out = np.sign(a) * np.floor(np.abs(a) * 100 + 0.5 + _EPSILON) / 100
    return float(out) if out.ndim == 0 else out


def gst(net):
    """The GST on a net amount (or amounts), to the cent."""
    if isinstance(net, pd.Series):
        return round_cents(net * GST_RATE)
    return round_cents(np.asarray(net, dtype=float) * GST_RATE)
