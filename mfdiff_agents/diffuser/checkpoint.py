"""Checkpoint files of MF-Diffuser: ``config.json`` + ``model.safetensors`` (+ ``train_state.pt``).

Layout (same as the baselines' ``mfdiff_agents.baselines.common``):
``config.json = {"method": "mfdiffuser", "format_version": 1, "package_version", "env_id",
"family", "env_kwargs", "obs_dim", "n_actions", "mf_dim", "stats": {...}, "config": {...}}``.
Writes go to a temporary file and are renamed, so an interrupted save never leaves half a file.
Every way a checkpoint can be wrong (missing file, bad JSON, truncated safetensors, another
method, a newer format) raises :class:`CheckpointError` naming the directory and the problem.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TRAIN_STATE_FILE = "train_state.pt"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint directory is missing, corrupt, or holds something else."""


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(
    directory: str | Path, *, meta: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write ``config.json`` (``meta`` + method/format keys) and ``model.safetensors``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
    _atomic_write(d / WEIGHTS_FILE, lambda p: save_file(state, str(p)))
    full = {"method": "mfdiffuser", "format_version": FORMAT_VERSION, **meta}
    _atomic_write(d / CONFIG_FILE, lambda p: p.write_text(json.dumps(full, indent=2)))
    return d


def load_checkpoint(directory: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and check a checkpoint; returns (meta, tensors)."""
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(f"{d}: no such checkpoint directory")
    cfg_path, w_path = d / CONFIG_FILE, d / WEIGHTS_FILE
    if not cfg_path.is_file():
        raise CheckpointError(f"{d}: missing {CONFIG_FILE} (not an MF-Diffuser checkpoint)")
    if not w_path.is_file():
        raise CheckpointError(f"{d}: missing {WEIGHTS_FILE}")
    try:
        meta = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from e
    if not isinstance(meta, dict) or meta.get("method") != "mfdiffuser":
        got = meta.get("method") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{d}: holds a {got!r} checkpoint, not 'mfdiffuser'")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{d}: format_version {meta.get('format_version')!r}, this code reads {FORMAT_VERSION}"
        )
    missing = [k for k in ("obs_dim", "n_actions", "mf_dim", "stats", "config") if k not in meta]
    if missing:
        raise CheckpointError(f"{cfg_path}: missing keys {missing}")
    try:
        tensors = load_file(str(w_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{w_path}: truncated or not a safetensors file ({e})") from e
    return meta, tensors


def save_train_state(directory: str | Path, state: dict[str, Any]) -> None:
    """Optimizer, step and RNG states for resuming (torch pickle, written atomically)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _atomic_write(d / TRAIN_STATE_FILE, lambda p: torch.save(state, p))


def load_train_state(directory: str | Path) -> dict[str, Any] | None:
    """The resume state, or None when the directory has none."""
    p = Path(directory) / TRAIN_STATE_FILE
    if not p.is_file():
        return None
    try:
        return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001  (torch raises many kinds on a corrupt pickle)
        raise CheckpointError(f"{p}: cannot be read ({type(e).__name__}: {e})") from e
