"""mfdiff: top-level module of the distribution.

Importing it registers the environments, so ``gym.make("mfdiff:mfdiff/Ising-v0")`` works in a
fresh interpreter. The command line lives in :mod:`mfdiff.cli` (``mfdiff …`` or
``python -m mfdiff …``).
"""

from importlib import metadata

import mfdiff_envs  # noqa: F401  (registers the envs)

try:
    __version__ = metadata.version("mfdiff")
except metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "unknown"
