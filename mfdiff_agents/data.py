"""Torch adapter for the numpy training windows of :mod:`mfdiff_envs.offline.windows`.

``mfdiff_envs`` never imports torch (nor anything of the agents layer), so the conversion of its
numpy windows to tensors lives here: ``windows_to_torch(sampler.sample(64), "cuda")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def windows_to_torch(windows: Any, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Every field of a :class:`~mfdiff_envs.offline.windows.Windows` as a tensor on ``device``.

    Dtypes are kept (float32, int64, bool); host memory is pinned for a non-blocking copy to CUDA.
    """
    device = torch.device(device)
    out: dict[str, torch.Tensor] = {}
    for name, arr in windows.as_dict().items():
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if device.type == "cuda":
            t = t.pin_memory().to(device, non_blocking=True)
        elif device.type != "cpu":
            t = t.to(device)
        out[name] = t
    return out
