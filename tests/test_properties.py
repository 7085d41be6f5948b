"""Hypothesis property tests of the agents layer: planner inputs and the command line never give
a silent wrong result, an opaque crash or a traceback."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import DEVICE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.config import ConfigError, build_config
from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.methods import METHODS

torch.set_num_threads(1)
D, A = 5, 4


@pytest.fixture(scope="module")
def planner():
    cfg = Config(horizon=4, replan_every=3, width=16, depth=1, n_timesteps=20,
                 k_schedule=(4, 16), ddim_steps=4, device=DEVICE)
    env = EnvFacts(obs_dim=D, n_actions=A)
    torch.manual_seed(0)
    return MFDiffuserPlanner(MFDiffuserPlanner.build_model(cfg, env), cfg, env=env, seed=0,
                             device=DEVICE)


finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 300), data=st.data())
def test_planner_any_population(planner, n, data):
    obs = data.draw(arrays(np.float32, (n, D), elements=finite))
    mask = data.draw(arrays(np.bool_, (n,)))
    planner.reset(seed=0)
    acts = planner.act_batch(obs, mask)
    assert acts.shape == (n,) and acts.dtype == np.int64
    assert np.all((acts >= 0) & (acts < A)) and np.all(acts[~mask] == 0)
    if mask.any():  # any non-finite value in a live row is refused, naming the row
        bad = obs.copy()
        row = int(np.flatnonzero(mask)[0])
        bad[row, data.draw(st.integers(0, D - 1))] = data.draw(
            st.sampled_from([np.nan, np.inf, -np.inf]))
        with pytest.raises(ValueError, match=rf"rows \[{row}"):
            planner.act_batch(bad, mask)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(METHODS)), key=st.text(max_size=12),
       value=st.text(max_size=12))
def test_config_overrides_never_crash(name, key, value):
    cls = METHODS[name].config
    try:
        cfg = build_config(cls, overrides=[f"{key}={value}"])
    except ConfigError:
        return
    # accepted: only a field of the Config may be (an unknown key must never pass silently)
    assert isinstance(cfg, cls) and key.strip() in {f.name for f in dataclasses.fields(cls)}


@settings(max_examples=25, deadline=None)
@given(text=st.one_of(
    st.text(max_size=20),
    # values kept small where they set an episode length: max_cycles=10**6 is a valid, long run
    st.dictionaries(st.sampled_from(["max_cycles", "mu", "sigma", "n_levels", "bogus"]),
                    st.one_of(st.integers(-10, 40), st.floats(-1e3, 1e3), st.just(float("nan")),
                              st.text(max_size=5)), max_size=3).map(json.dumps)))
def test_cli_env_kwargs_exit_0_or_2(text):
    from mfdiff.cli import main

    # "--env-kwargs=TEXT": a TEXT that starts with "-" is then still the value (with a space,
    # argparse reads "-:" as an option and exits 2 itself, which hypothesis once found)
    try:
        code = main(["eval", "--policy", "random", "--env", "mfdiff/GaussianSqueeze-v0",
                     "--n-agents", "4", "--seeds", "1", "--no-progress", f"--env-kwargs={text}"])
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    assert code in (0, 2)


# (method, field, a refused value, the accepted boundary value): values that trained or acted
# silently wrong (or failed only after training) are refused at build time, naming the field
BOUNDS = [
    ("mfdiffuser", "eta", "1.01", "1"), ("mfdiffuser", "eta", "-0.1", "0"),
    ("mfdiffuser", "grad_clip", "0", "1e-6"), ("mfdiffuser", "grad_clip", "-1", "1e-6"),
    ("mfdiffuser", "w_max", "0", "1e-6"), ("mfdiffuser", "lr", "0", "1e-9"),
    ("mfdiffuser", "weight_decay", "-1e-4", "0"),
    ("mfdiffuser", "kernel_size", "4", "1"), ("mfdiffuser", "kernel_size", "-1", "1"),
    ("mfdiffuser", "value_hidden", "0", "1"), ("mfdiffuser", "batch_size", "1", "2"),
    ("indep_diffuser", "eta", "1.5", "1"), ("joint_diffuser", "eta", "-1", "0"),
    ("indep_diffuser", "ddim_steps", "51", "50"), ("joint_diffuser", "ddim_steps", "51", "50"),
    ("indep_diffuser", "act_chunk", "0", "1"), ("joint_diffuser", "max_agents", "0", "1"),
    ("indep_diffuser", "width", "12", "8"), ("joint_diffuser", "lr", "0", "1e-9"),
    ("iql", "tau", "0", "1"), ("iql", "tau", "1.5", "1"), ("iql", "beta", "-0.1", "0"),
    ("iql", "reward_scale", "-1", "1e-6"), ("iql", "lr", "0", "1e-9"),
    ("mfq", "tau", "0", "1"), ("mfq", "tau", "-0.1", "1"), ("mfq", "cql_alpha", "-0.1", "0"),
    ("mfq", "reward_scale", "0", "1e-6"), ("mfq", "lr", "-1", "1e-9"),
    ("bc", "lr", "0", "1e-9"), ("bc", "weight_decay", "-0.1", "0"),
]


@pytest.mark.parametrize(("name", "field", "bad", "ok"), BOUNDS)
def test_config_refuses_silently_wrong_values(name, field, bad, ok):
    cls = METHODS[name].config
    with pytest.raises(ConfigError, match=rf"\b{field}\b"):
        build_config(cls, overrides=[f"{field}={bad}"])
    assert getattr(build_config(cls, overrides=[f"{field}={ok}"]), field) == float(ok)


@pytest.mark.parametrize("name", ["mfdiffuser", "bc"])
def test_config_refuses_a_decay_that_wipes_the_weights(name):
    """AdamW scales each weight by 1 − lr × weight_decay a step: at a product ≥ 1 a fit ran
    its whole budget and trained nothing (listed as not changed in the fifty-first note)."""
    cls = METHODS[name].config
    with pytest.raises(ConfigError, match=r"lr × Config\.weight_decay must be < 1"):
        build_config(cls, overrides=["lr=0.5", "weight_decay=2"])
    cfg = build_config(cls, overrides=["lr=0.5", "weight_decay=1.99"])
    assert cfg.lr * cfg.weight_decay < 1
