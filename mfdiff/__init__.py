"""mfdiff: top-level module of the distribution.

Importing it registers the environments, so ``gym.make("mfdiff:mfdiff/Ising-v0")`` works in a
fresh interpreter. The command line lives in :mod:`mfdiff.cli`.
"""

import mfdiff_envs  # noqa: F401  (registers the envs)

__version__ = "0.1.0"
