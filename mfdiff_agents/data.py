"""Torch adapter for the numpy training windows of :mod:`mfdiff_envs.offline.windows`.

``mfdiff_envs`` never imports torch (nor anything of the agents layer), so the conversion of its
numpy windows to tensors lives here, one rule for every learner: ``windows_to_torch(w, "cuda")``
for a window's fields, :func:`arrays_to_torch` for arrays a learner derived from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

from mfdiff_envs.offline.windows import Windows


def arrays_to_torch(
    arrays: Mapping[str, np.ndarray], device: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Each array as a tensor on ``device``, its dtype kept (float32, int64, bool).

    On CUDA the host copy is pinned first, so the copy to the device can be non-blocking.
    """
    device = torch.device(device)
    out: dict[str, torch.Tensor] = {}
    for name, arr in arrays.items():
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if device.type == "cuda":
            t = t.pin_memory().to(device, non_blocking=True)
        elif device.type != "cpu":
            t = t.to(device)
        out[name] = t
    return out


def windows_to_torch(
    windows: Windows, device: str | torch.device = "cpu", names: Iterable[str] | None = None
) -> dict[str, torch.Tensor]:
    """The fields ``names`` (default: every field) of a :class:`Windows` batch as tensors."""
    fields = windows.as_dict()
    if names is not None:
        fields = {n: fields[n] for n in names}
    return arrays_to_torch(fields, device)
