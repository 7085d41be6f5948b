"""Per-family training and acting settings: ``<algo>/<family>.json``, one JSON object of Config
fields per (method, env family), shipped with the package.

They are what ``mfdiff train`` builds a config from before ``--config`` and ``--set`` (the
results grid trains with exactly these), so a plain

    mfdiff train --dataset mfdiff/ising-n1024/medium-v0 --algo mfdiffuser

trains and acts as the grid's MF-Diffuser row does. Why each field differs from the Config
dataclass' default is in ``configs/README.md`` (``configs/<algo>`` in a clone links here).

    family_config("mfdiffuser", "ising")      # {"steps": 400, "beta_agent": 2.0, ...}
    family_config("bc", "nonexistent")        # {}: the dataclass defaults alone
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: where the files live (a plain directory inside the installed package)
FAMILY_CONFIG_DIR = Path(__file__).resolve().parent


def family_config_path(algo: str, family: str | None) -> Path | None:
    """``<algo>/<family>.json``, or None when there is no such file (or no family)."""
    if not family:
        return None
    path = FAMILY_CONFIG_DIR / algo / f"{family}.json"
    return path if path.is_file() else None


def family_config(algo: str, family: str | None) -> dict[str, Any]:
    """The fields of ``<algo>/<family>.json``; {} when there is none.

    Raises:
        ValueError: the file exists but is not a JSON object (a damaged install).
    """
    path = family_config_path(algo, family)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read the family config {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"the family config {path} must hold a JSON object")
    return data
