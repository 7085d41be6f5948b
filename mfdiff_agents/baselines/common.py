"""Shared pieces of the trainable baselines: strict config (de)serialisation, checkpoint files,
small MLPs, and the population features every per-agent baseline conditions on.

Checkpoint layout (every trainable baseline): ``<dir>/config.json`` =
``{"method": <name>, "obs_dim", "n_actions", "config": {<Config fields>}, ...}`` and
``<dir>/model.safetensors`` (float tensors of the torch module's ``state_dict``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import load_file, save_file
from torch import nn

from mfdiff_envs.core import mean_field_summary

C = TypeVar("C")

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON data."""
    return dataclasses.asdict(cfg)


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild ``cls`` from ``data``; unknown keys fail (a typo must not be swallowed)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise TypeError(
            f"{cls.__name__}: unknown config keys {sorted(unknown)}; valid: {sorted(names)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**kwargs)


def save_checkpoint(
    directory: str | Path, *, method: str, module: nn.Module, meta: dict[str, Any]
) -> Path:
    """Write ``config.json`` ({"method": method, **meta}) and ``model.safetensors``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(d / WEIGHTS_FILE))
    (d / CONFIG_FILE).write_text(json.dumps({"method": method, **meta}, indent=2))
    return d


def load_checkpoint(
    directory: str | Path, *, method: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a checkpoint written by :func:`save_checkpoint`; checks the method name."""
    d = Path(directory)
    if not (d / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{d} has no {CONFIG_FILE}: not a checkpoint directory")
    meta = json.loads((d / CONFIG_FILE).read_text())
    if meta.get("method") != method:
        raise ValueError(f"{d} holds a {meta.get('method')!r} checkpoint, not {method!r}")
    return meta, load_file(str(d / WEIGHTS_FILE))


def mlp(in_dim: int, hidden: int, out_dim: int, *, depth: int = 2) -> nn.Sequential:
    """``depth`` hidden layers of width ``hidden`` with SiLU, then a linear head."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), nn.SiLU()]
        d = hidden
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def population_features(obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Per-agent input ``[own obs, m_t]`` [N, 3d+1] with m_t = mean_field_summary(obs, mask).

    Exactly what the training windows' ``mean_field`` holds (over all N alive agents).
    """
    m = mean_field_summary(obs, mask)  # [2d+1]
    return np.concatenate([obs, np.broadcast_to(m, (obs.shape[0], m.shape[-1]))], axis=-1)


def window_features(
    obs: NDArray[np.float32], mean_field: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Training-time twin of :func:`population_features`: obs [B, K, H, d], mean_field [B, H, m]
    -> [B, K, H, d + m]."""
    b, k, h, _ = obs.shape
    mf = np.broadcast_to(mean_field[:, None], (b, k, h, mean_field.shape[-1]))
    return np.concatenate([obs, mf], axis=-1).astype(np.float32)


def sample_categorical(logits: torch.Tensor, rng: np.random.Generator) -> NDArray[np.int64]:
    """One action per row of ``logits`` [N, A], drawn with the policy's numpy generator
    (so ``policy.reset(seed)`` fixes the draws independently of torch's global RNG)."""
    p = torch.softmax(logits.double(), dim=-1).cpu().numpy()
    cdf = np.cumsum(p, axis=-1)
    u = rng.random((p.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u > cdf).sum(-1), p.shape[1] - 1).astype(np.int64)


def pick_device(name: str) -> torch.device:
    """``"auto"`` -> cuda when present, else cpu (see :mod:`mfdiff_agents.device`)."""
    from mfdiff_agents.device import resolve_device

    return resolve_device(name)
