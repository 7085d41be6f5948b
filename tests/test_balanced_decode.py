"""The action head's balanced decoding: a sample without histogram noise (action_head.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfdiff_agents.diffuser.action_head import (
    balanced_actions,
    largest_remainder,
    truncate_min_p,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_identical_agents_split_exactly() -> None:
    # 100 interchangeable agents, head says 78 % level 2, 22 % level 3: exactly 78 / 22
    p = torch.tensor([0.0, 0.0, 0.78, 0.22]).clamp_min(1e-12)
    logits = p.log().expand(100, 4)
    a = balanced_actions(logits, torch.zeros(100, dtype=torch.long), temperature=1.0,
                         generator=_gen())
    assert np.bincount(a.numpy(), minlength=4).tolist() == [0, 0, 78, 22]
    # an i.i.d. sample of the same distribution misses the split by ~4 agents (std √(n p q))
    sharp = balanced_actions(logits, torch.zeros(100, dtype=torch.long), temperature=0.5,
                             generator=_gen())
    # T = 0.5 squares and renormalises: 0.78² / (0.78² + 0.22²) = 0.926
    assert np.bincount(sharp.numpy(), minlength=4).tolist() == [0, 0, 93, 7]


def test_temperature_zero_is_argmax() -> None:
    logits = torch.randn(50, 5, generator=_gen(1))
    a = balanced_actions(logits, torch.zeros(50, dtype=torch.long), temperature=0.0,
                         generator=_gen())
    assert torch.equal(a, logits.argmax(-1))


def test_agents_leaning_higher_get_the_higher_slots() -> None:
    # one group, two actions: the 3 agents most inclined to action 1 take its 3 slots
    p1 = torch.tensor([0.9, 0.1, 0.8, 0.2, 0.7, 0.1, 0.05, 0.15, 0.05, 0.05])
    logits = torch.stack([(1 - p1).log(), p1.log()], 1)
    a = balanced_actions(logits, torch.zeros(10, dtype=torch.long), temperature=1.0,
                         generator=_gen())
    assert int(a.sum()) == round(float(p1.sum())) == 3  # 3.1 -> 3
    assert set(torch.nonzero(a).flatten().tolist()) == {0, 2, 4}


def test_seeded() -> None:
    logits = torch.randn(200, 3, generator=_gen(2))
    groups = torch.randint(0, 4, (200,), generator=_gen(3))
    a = balanced_actions(logits, groups, temperature=1.0, generator=_gen(7))
    b = balanced_actions(logits, groups, temperature=1.0, generator=_gen(7))
    assert torch.equal(a, b)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), n_act=st.integers(1, 6), n_groups=st.integers(1, 8),
       temperature=st.sampled_from([0.3, 1.0, 2.0]), seed=st.integers(0, 10_000))
def test_group_counts_are_the_rounded_expectation(
    n: int, n_act: int, n_groups: int, temperature: float, seed: int
) -> None:
    g = _gen(seed)
    logits = 3 * torch.randn(n, n_act, generator=g)
    groups = torch.randint(0, n_groups, (n,), generator=g) * 10  # ids need not be 0..G-1
    a = balanced_actions(logits, groups, temperature=temperature, generator=g)
    assert a.shape == (n,) and int(a.min()) >= 0 and int(a.max()) < n_act
    p = torch.softmax(logits / temperature, -1)
    for gid in groups.unique():
        sel = groups == gid
        counts = torch.bincount(a[sel], minlength=n_act).float()
        assert torch.all((counts - p[sel].sum(0)).abs() < 1 + 1e-4)
        assert int(counts.sum()) == int(sel.sum())


def test_largest_remainder_rows() -> None:
    exp = torch.tensor([[0.5, 0.5, 2.0], [1.2, 1.2, 0.6]])
    c = largest_remainder(exp, torch.tensor([3.0, 3.0]))
    assert c.sum(1).tolist() == [3, 3]
    assert c[1].tolist() in ([1, 1, 1],)
    assert c[0, 2] == 2


@pytest.mark.parametrize("bad", ["nope", "argmax"])
def test_config_rejects_unknown_decode(bad: str) -> None:
    from mfdiff_agents.config import ConfigError
    from mfdiff_agents.diffuser.config import Config

    with pytest.raises(ConfigError, match="head_decode"):
        Config(head_decode=bad)


def test_min_p_drops_the_low_tail() -> None:
    # the behaviour data's noise floor (8 levels at 3.5 %) is cut, the 3:1 mode split is kept
    p = torch.tensor([0.035, 0.035, 0.54, 0.18] + [0.035] * 6)
    logits = p.log().expand(200, 10)
    a = balanced_actions(logits, torch.zeros(200, dtype=torch.long), temperature=1.0,
                         generator=_gen(), min_p=0.2)
    assert np.bincount(a.numpy(), minlength=10).tolist() == [0, 0, 150, 50] + [0] * 6
    kept = truncate_min_p(logits[:1], 0.2)
    assert torch.isinf(kept).sum() == 8 and torch.isfinite(kept[0, 2:4]).all()
    assert torch.equal(truncate_min_p(logits, 0.0), logits)


def test_config_checks_min_p() -> None:
    from mfdiff_agents.config import ConfigError
    from mfdiff_agents.diffuser.config import Config

    with pytest.raises(ConfigError, match="head_min_p"):
        Config(head_min_p=1.0)
