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
    remove_uniform,
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


@pytest.mark.parametrize("min_p", [0.0, 0.1])
def test_every_agent_its_own_group(min_p: float) -> None:
    """Agents that all differ (Battle) skip the slot ordering: each takes the one action its
    group's largest-remainder count gives (ties included: equal rows), and the generator
    moves on as if the tie-breaks had been used, so later draws are unchanged."""
    n, n_act = 500, 5
    logits = torch.randn(n, n_act, generator=_gen(4))
    logits[:50] = 0.0  # uniform rows: the count goes to largest_remainder's tie order
    groups = torch.randperm(n, generator=_gen(5))  # labels in any order
    gen = _gen(11)
    got = balanced_actions(logits, groups, temperature=0.7, generator=gen, min_p=min_p)
    p = torch.softmax(truncate_min_p(logits, min_p).float() / 0.7, dim=-1)
    gid = torch.unique(groups, return_inverse=True)[1]
    expected = torch.zeros(n, n_act).index_add_(0, gid, p)
    expected = expected * (torch.ones(n) / expected.sum(1).clamp_min(1e-30))[:, None]
    counts = largest_remainder(expected, torch.ones(n))
    assert torch.equal(counts.sum(1), torch.ones(n, dtype=torch.long))
    assert torch.equal(got, counts.argmax(1)[gid])
    ref = _gen(11)
    torch.rand(n, generator=ref)
    assert torch.equal(gen.get_state(), ref.get_state())


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


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=3, max_size=12).filter(lambda w: sum(w) > 1e-3),
    st.floats(0.0, 0.9),
)
def test_remove_uniform_recovers_the_policy_under_uniform_noise(w: list[float], eps: float) -> None:
    # behaviour = (1 - eps) pi + eps / A, pi leaving at least one action out: pi comes back
    pi = torch.tensor(w, dtype=torch.float64)
    pi[int(pi.argmin())] = 0.0
    if pi.sum() <= 1e-3:
        return
    pi = pi / pi.sum()
    behaviour = (1 - eps) * pi + eps / len(w)
    got = remove_uniform(behaviour.log()[None].float()).exp()[0].double()
    assert torch.allclose(got, pi, atol=1e-4)


def test_remove_uniform_keeps_a_minority_mode_that_min_p_drops() -> None:
    # Squeeze: level 3 at 0.19 x level 2, on a 0.5 % noise floor. min-p 0.2 sends all 1000
    # agents to level 2 (94.6 % of the optimum at best); the floor removed keeps the split.
    p = torch.tensor([0.005, 0.005, 0.78, 0.15] + [0.01] * 6)
    p = p / p.sum()
    logits = p.log().expand(1000, 10)
    groups = torch.zeros(1000, dtype=torch.long)
    cut = balanced_actions(logits, groups, temperature=1.0, generator=_gen(), min_p=0.2)
    assert np.bincount(cut.numpy(), minlength=10)[2] == 1000
    kept = balanced_actions(remove_uniform(logits), groups, temperature=1.0, generator=_gen())
    counts = np.bincount(kept.numpy(), minlength=10)
    assert counts[0] == counts[1] == 0  # the least likely levels are gone
    # level 3 keeps its share above the floor: (0.15 - 0.005) / (1 - 10 * 0.005) of the agents
    assert abs(counts[3] - 1000 * (p[3] - p[0]) / (1 - 10 * p[0])) <= 1
    assert counts[2] > counts[3] > 100


def test_remove_uniform_leaves_a_uniform_row() -> None:
    logits = torch.zeros(3, 4)
    out = remove_uniform(logits)
    assert torch.isfinite(out).all()
    assert torch.allclose(out.exp(), torch.full((3, 4), 0.25))


def test_config_checks_remove_uniform() -> None:
    from mfdiff_agents.config import ConfigError
    from mfdiff_agents.diffuser.config import PLANNING_FIELDS, Config

    assert "head_remove_uniform" in PLANNING_FIELDS  # overridable at evaluation
    with pytest.raises(ConfigError, match="head_remove_uniform"):
        Config(head_remove_uniform=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("temperature", [1e-45, 1e-38, 1e-30])
def test_a_tiny_temperature_decodes_the_argmax(temperature: float) -> None:
    """An outside audit: a subnormal head temperature overflowed logits / T to ±inf (argmax of
    +inf ties picked action 0; softmax gave NaN). Every decoder now tends to the argmax, as
    T → 0 should; the baselines' sampler too."""
    from mfdiff_agents.baselines.common import sample_categorical
    from mfdiff_agents.diffuser.action_head import sample_actions

    logits = torch.randn(64, 5, generator=_gen(3)) * 4  # positive and negative rows
    logits[:8] = -logits[:8].abs() - 1  # rows whose every logit is negative
    best = logits.argmax(-1)
    assert torch.equal(sample_actions(logits, temperature=temperature, generator=_gen()), best)
    groups = torch.arange(64) % 3
    assert torch.equal(balanced_actions(logits, groups, temperature=temperature,
                                        generator=_gen()), best)
    np.testing.assert_array_equal(
        sample_categorical(logits, np.random.default_rng(0), temperature), best.numpy())
