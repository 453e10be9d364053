"""JSON reports: the values a report holds, turned into plain Python types that ``json.dumps`` writes.

The bench, the study, the budgets and the command line build their JSON objects through :func:`jsonable`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["jsonable"]


def jsonable(value):
    """Plain Python types only; NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value
