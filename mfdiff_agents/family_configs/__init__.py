"""Per-family training and acting settings: ``<algo>/<family>.json``, one JSON object of Config
fields per (method, env family), shipped with the package.

They are what ``mfdiff train`` builds a config from before ``--config`` and ``--set`` (the
results grid trains with exactly these), so a plain

    mfdiff train --dataset mfdiff/ising-n1024/medium-v0 --algo mfdiffuser

trains and acts as the grid's MF-Diffuser row does. Why each field differs from the Config
dataclass' default is in ``configs/README.md`` (``configs/<algo>`` in a clone links here).

    family_config("mfdiffuser", "ising")      # {"steps": 400, "beta_agent": 2.0, ...}
    family_config("bc", "squeez")             # ValueError: unknown family (the valid ones named)

A known (algo, family) pair without a file gives {}: the Config defaults alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: where the files live (a plain directory inside the installed package)
FAMILY_CONFIG_DIR = Path(__file__).resolve().parent


def _check_names(algo: str, family: str | None) -> None:
    """Refuse an algo or family no method or env has: a misspelt name would otherwise read as
    "no settings file" and train or act with the dataclass defaults, silently."""
    if family_config_path(algo, family) is not None:  # a file of that name: nothing misspelt
        return  # (also a user's own <algo>/<family>.json beside the shipped ones)
    from mfdiff_agents.methods import METHODS  # the one list of methods
    from mfdiff_envs.core import SAME_FAMILY
    from mfdiff_envs.offline.catalogue import FAMILY_ENV

    if algo not in METHODS:
        raise ValueError(f"unknown algo {algo!r}; algos: {', '.join(METHODS)}")
    if family and family not in FAMILY_ENV and family not in SAME_FAMILY:  # magent_battle
        raise ValueError(f"unknown family {family!r}; families: {', '.join(FAMILY_ENV)}")


def family_config_path(algo: str, family: str | None) -> Path | None:
    """``<algo>/<family>.json``, or None when there is no such file (or no family).

    Unchecked, unlike :func:`family_config`: ``mfdiff train`` looks up the family a dataset
    records, which may be a user env's own (it warns and trains with the Config defaults).
    """
    if not family:
        return None
    path = FAMILY_CONFIG_DIR / algo / f"{family}.json"
    return path if path.is_file() else None


def family_config(algo: str, family: str | None) -> dict[str, Any]:
    """The fields of ``<algo>/<family>.json``; {} for a known pair without a file (or no
    family): the Config defaults alone.

    Raises:
        ValueError: an unknown ``algo`` (not in ``mfdiff_agents.methods.METHODS``) or
            ``family`` (not in ``mfdiff_envs.offline.catalogue.FAMILY_ENV``), or the file
            exists but is not a JSON object (a damaged install).
    """
    _check_names(algo, family)
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
