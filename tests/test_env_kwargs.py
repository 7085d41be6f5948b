"""Env kwargs are validated at construction to the ranges that keep every output finite.

Property: any kwargs a family's constructor accepts give finite observations, rewards, state and
metrics over a whole (short) episode, with no numpy overflow, divide-by-zero or invalid-value
error (underflow to 0 is fine); any kwargs it refuses raise ValueError/TypeError naming the
kwarg.
"""

from __future__ import annotations

import functools
import math
import tracemalloc
import warnings

import numpy as np
import pettingzoo
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mfdiff_envs import squeeze_v0
from mfdiff_envs.battle import BattleCore
from mfdiff_envs.ising import IsingCore
from mfdiff_envs.parallel import DEFAULT_MAX_MEMORY_GB, dict_view_bytes
from mfdiff_envs.squeeze import GaussianSqueezeCore

#: Reals from everywhere: normal, huge, tiny, subnormal, zero, negative, inf, nan.
WILD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e4, 1e4),
    st.sampled_from([0.0, -0.0, 1e-320, 5e-324, 1e-7, 1e-6, 1e9, 1.1e9, 1e300, -436.0]),
    st.integers(-(10**12), 10**12),
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _episode_is_finite(core, seed: int) -> None:
    """Run one whole episode of random actions with numpy warnings as errors; all finite."""
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error", RuntimeWarning)
        obs, _ = core.reset(seed=seed)
        assert np.isfinite(obs).all() and np.isfinite(core.state()).all()
        for _ in range(core.max_cycles):
            obs, rew, term, trunc, info = core.step(rng.integers(0, core.n_actions, core.n_agents))
            assert np.isfinite(obs).all() and np.isfinite(rew).all()
            assert np.isfinite(core.state()).all()
            assert all(math.isfinite(v) for v in core.metrics().values())
            assert math.isfinite(core.team_reward(rew))
            if np.all(term | trunc):
                break


def _build_or_reject(cls, kwargs: dict, names: set[str]):
    """The core, or None when the constructor refuses with an error naming a given kwarg."""
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        assert any(n in str(e) for n in names), f"error does not name the kwarg: {e}"
        return None


@SETTINGS
@given(
    n=st.integers(1, 40),
    n_levels=st.integers(-3, 1500),
    n_domains=st.integers(1, 3),
    mu=st.one_of(st.none(), WILD),
    sigma=st.one_of(st.none(), WILD),
    max_cycles=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
@example(n=10, n_levels=10, n_domains=1, mu=-436.0, sigma=None, max_cycles=1, seed=0)
@example(n=10, n_levels=10, n_domains=1, mu=1e300, sigma=1e-300, max_cycles=1, seed=0)
@example(n=10, n_levels=10, n_domains=1, mu=0.0, sigma=1e-6, max_cycles=2, seed=0)
@example(n=10, n_levels=1000, n_domains=2, mu=1e9, sigma=1e9, max_cycles=2, seed=0)
def test_squeeze_accepted_kwargs_stay_finite(n, n_levels, n_domains, mu, sigma, max_cycles, seed):
    kw = {"n_levels": n_levels, "n_domains": min(n_domains, n), "mu": mu, "sigma": sigma}
    core = _build_or_reject(
        GaussianSqueezeCore, {"n_agents": n, "max_cycles": max_cycles, **kw}, set(kw)
    )
    if core is not None:
        _episode_is_finite(core, seed)


@SETTINGS
@given(
    side=st.integers(3, 6),  # N >= 9: IsingCore refuses smaller tori (test_envs)
    temperature=WILD,
    field=WILD,
    coupling=WILD,
    max_cycles=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
@example(side=3, temperature=1e-300, field=0.0, coupling=1.0, max_cycles=2, seed=0)
@example(side=3, temperature=1e-6, field=1e6, coupling=-1e6, max_cycles=2, seed=0)
@example(side=3, temperature=1e6, field=-1e6, coupling=1e6, max_cycles=2, seed=0)
def test_ising_accepted_kwargs_stay_finite(side, temperature, field, coupling, max_cycles, seed):
    kw = {"temperature": temperature, "field": field, "coupling": coupling}
    core = _build_or_reject(
        IsingCore, {"n_agents": side * side, "max_cycles": max_cycles, **kw}, set(kw)
    )
    if core is not None:
        _episode_is_finite(core, seed)


@SETTINGS
@given(
    n=st.integers(1, 30),
    opponent=st.sampled_from([None, "random", "medium", "expert", "grandmaster", 3]),
    map_size=st.one_of(st.none(), st.integers(-5, 60), st.just(10**6)),
    max_cycles=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_battle_accepted_kwargs_stay_finite(n, opponent, map_size, max_cycles, seed):
    kw = {"n_agents": n, "opponent": opponent, "map_size": map_size}
    core = _build_or_reject(BattleCore, {"max_cycles": max_cycles, **kw}, set(kw))
    if core is not None:
        _episode_is_finite(core, seed)


@pytest.mark.parametrize(
    ("cls", "kw", "name"),
    [
        (GaussianSqueezeCore, {"mu": -436}, "mu"),
        (GaussianSqueezeCore, {"mu": [1.0, 2e9], "n_domains": 2}, "mu"),
        (GaussianSqueezeCore, {"sigma": 1e-300}, "sigma"),
        (GaussianSqueezeCore, {"sigma": 0.0}, "sigma"),
        (GaussianSqueezeCore, {"n_levels": 1}, "n_levels"),
        (IsingCore, {"temperature": 1e-9}, "temperature"),
        (IsingCore, {"field": 1e39}, "field"),
        (IsingCore, {"coupling": -1e7}, "coupling"),
        (BattleCore, {"map_size": 10**6}, "map_size"),
    ],
)
def test_out_of_range_kwargs_name_the_kwarg_and_range(cls, kw, name):
    with pytest.raises(ValueError, match=rf"{name} must lie in \["):
        cls(**kw)


@pytest.mark.parametrize(("n", "smallest"), [(2, 6), (38, 14), (334, 30)])
def test_battle_map_too_small_names_the_smallest_that_fits(n, smallest):
    with pytest.raises(ValueError, match=rf"too small .* smallest that fits them is {smallest}"):
        BattleCore(n_agents=n, map_size=smallest - 1)
    BattleCore(n_agents=n, map_size=smallest)  # and that one is accepted


# ------------------------------------------------------------------ memory guard of the dict view
def test_dict_view_refuses_huge_n_with_a_clear_error():
    with pytest.raises(MemoryError, match=r"N=100,000 needs ~0\.\d GB.*env\.unwrapped\.core"):
        squeeze_v0.parallel_env(n_agents=100_000, max_memory_gb=0.05)
    for make in (squeeze_v0.env, functools.partial(pettingzoo.make, "aec", "mfdiff/Ising-v0")):
        with pytest.raises(MemoryError, match="max_memory_gb"):
            make(n_agents=250_000, max_memory_gb=0.1)
    with pytest.raises(ValueError, match="max_memory_gb"):
        squeeze_v0.parallel_env(n_agents=10, max_memory_gb=-1)
    assert dict_view_bytes(10**7, 11) > DEFAULT_MAX_MEMORY_GB * 1e9  # the default refuses 10^7
    env = squeeze_v0.parallel_env(n_agents=100_000, max_memory_gb=1)  # a raised limit builds
    assert len(env.reset(seed=0)[0]) == 100_000


def test_core_and_joint_view_take_large_n():
    """No guard on the array paths: N = 10^6 steps in the core and the joint view."""
    env = squeeze_v0.joint_env(n_agents=10**6, max_cycles=2)
    obs, _ = env.reset(seed=0)
    obs, r, *_ = env.step(np.ones(10**6, dtype=np.int64))
    assert obs.shape == (10**6, 11) and np.isfinite(r)


@pytest.mark.parametrize("core", [GaussianSqueezeCore(20_000), BattleCore(20_000, opponent=None)])
def test_dict_view_estimate_bounds_what_it_allocates(core):
    env = squeeze_v0.SqueezeParallelEnv  # any family's view class wraps any core
    tracemalloc.start()
    try:
        par = env(core)
        par.reset(seed=0)
        out = par.step(dict.fromkeys(par.agents, 0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(out[0]) == core.n_agents
    assert 0.25 * dict_view_bytes(core.n_agents, core.obs_dim) < peak  # not a wild guess either
    assert peak < dict_view_bytes(core.n_agents, core.obs_dim)
