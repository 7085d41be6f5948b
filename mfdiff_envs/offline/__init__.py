"""Offline data for mfdiff: Minari dataset building, the catalogue, and training windows.

* :mod:`.build` — roll out behaviour policies on the vectorised core and write Minari datasets
  ``mfdiff/<family>-n<N>/<tier>-v0`` atomically (:func:`build_dataset`, :func:`build_recipe`).
* :mod:`.catalogue` — the recipes in ``datasets/*.toml`` (:func:`load_catalogue`, :func:`select`).
* :mod:`.episodes` — :func:`load_episodes` (datasets as checked numpy episodes) and
  :func:`verify_dataset`.
* :mod:`.windows` — :class:`WindowSampler` (training windows of K particles).
* :mod:`.integrity` — content hashes written at build and checked at load (:func:`quick_check`).
* :mod:`.cli` — ``mfdiff data build`` / ``list`` / ``verify``.

No torch here (the tensor adapter is :mod:`mfdiff_agents.data`).
"""

from mfdiff_envs.offline.build import DatasetExistsError, build_dataset, build_recipe
from mfdiff_envs.offline.catalogue import TIERS, Recipe, dataset_id, load_catalogue, select
from mfdiff_envs.offline.episodes import (
    Episode,
    Episodes,
    dataset_family,
    load_episodes,
    verify_dataset,
)
from mfdiff_envs.offline.integrity import DatasetError, quick_check
from mfdiff_envs.offline.windows import Windows, WindowSampler

__all__ = [
    "TIERS",
    "DatasetError",
    "DatasetExistsError",
    "Episode",
    "Episodes",
    "Recipe",
    "WindowSampler",
    "Windows",
    "build_dataset",
    "build_recipe",
    "dataset_family",
    "dataset_id",
    "load_catalogue",
    "load_episodes",
    "quick_check",
    "select",
    "verify_dataset",
]
