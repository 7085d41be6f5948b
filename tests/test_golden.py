"""Golden planner actions: what tiny MF-Diffuser checkpoints of every family did, pinned.

tests/golden/ holds one tiny checkpoint per family (its config in configs/mfdiffuser/, shrunk),
a fixed observation sequence per family and the actions the planner took on it under six acting
settings (tests/golden/make_golden.py made them). A refactor of the planner that changes its
behaviour — a seed stream, the order plans are drawn in, the lifting, the decoding — changes
most of these actions; one that only moves floating-point noise (another CPU, another BLAS)
flips a few near-ties at most. When a change of behaviour is intended, regenerate with
``python tests/golden/make_golden.py`` and say so in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DEVICE

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
import make_golden  # noqa: E402

#: share of actions that must agree: float noise flips a near-tie now and then; a change of
#: behaviour flips 40-90 % of them (the variants below differ from each other that much)
AGREE = 0.98

pytestmark = pytest.mark.skipif(
    DEVICE != "cpu", reason="the fixtures pin the CPU generator's draws (CUDA draws differ)")


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "actions.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("family", list(make_golden.ENVS))
def test_the_observation_sequence_is_the_envs(golden, family: str) -> None:
    """The replayed observations are still what the env and its behaviour policy produce (else
    a change of the env would read as one of the planner)."""
    obs, alive = make_golden.observations(family)
    np.testing.assert_array_equal(alive, golden[f"{family}/alive"])
    np.testing.assert_allclose(obs, golden[f"{family}/obs"], atol=1e-6)


@pytest.mark.parametrize("variant", list(make_golden.VARIANTS))
@pytest.mark.parametrize("family", list(make_golden.ENVS))
def test_planner_acts_as_pinned(golden, family: str, variant: str) -> None:
    from mfdiff_agents.diffuser.planner import MFDiffuserPlanner

    planner = MFDiffuserPlanner.from_pretrained(GOLDEN / family, device="cpu",
                                                **make_golden.VARIANTS[variant])
    got = make_golden.replay(planner, golden[f"{family}/obs"], golden[f"{family}/alive"])
    want = golden[f"{family}/{variant}"]
    agree = float((got == want).mean())
    assert agree >= AGREE, (
        f"{family}/{variant}: {agree:.1%} of the pinned actions (needs {AGREE:.0%}): the "
        "planner's behaviour changed. If intended, `python tests/golden/make_golden.py` and say "
        "so in the commit")


def test_the_variants_are_distinguishable(golden) -> None:
    """The check above can fail: the pinned settings act differently from each other by far
    more than it tolerates."""
    for family in make_golden.ENVS:
        base = golden[f"{family}/config"]
        for variant in make_golden.VARIANTS:
            if variant != "config":
                assert (golden[f"{family}/{variant}"] != base).mean() > 3 * (1 - AGREE)
