"""The normalised score, defined once: ``100 · (R − ref_min) / (ref_max − ref_min)``.

It is ``minari.get_normalized_score`` × 100 with a dataset's reference returns (random play = 0,
the scripted expert = 100, the D4RL convention); used by the data cards, the behaviour-policy
calibration and the evaluation harness.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def normalized_score(returns: Any, ref_min: float, ref_max: float) -> np.ndarray | np.float64:
    """``100 · (R − ref_min) / (ref_max − ref_min)`` of ``returns``: an array for an array or
    list, a numpy scalar for a scalar."""
    if not ref_max != ref_min:
        raise ValueError(f"degenerate reference scores ({ref_min}, {ref_max})")
    return 100.0 * (np.asarray(returns, float) - ref_min) / (ref_max - ref_min)
