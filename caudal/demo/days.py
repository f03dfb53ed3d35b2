"""Day arithmetic shared by the demo generator and its history: dates as day numbers since
1970-01-01 (NumPy int64), months as ``year * 12 + month - 1``."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl


def epoch_days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def month_start_days(month_index: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of day 1 of month ``year * 12 + month - 1``."""
    since_epoch = np.asarray(month_index, dtype=np.int64) - 1970 * 12
    return since_epoch.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def dates(days: np.ndarray) -> pl.Series:
    """Day numbers as a Polars Date column."""
    return pl.Series(np.asarray(days, dtype=np.int32)).cast(pl.Date)
