"""Config.head_data_range: the training data's range is recorded at training (dead agents left
out), travels with the checkpoint, and clips every input the action head reads while acting;
a checkpoint trained before the range was recorded refuses the setting at load."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DEVICE
from test_action_head import ENV, TINY, N, ising_episodes

from mfdiff_agents.checkpoint import config_digest
from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.diffuser.train import fit
from mfdiff_agents.methods import check_policy, make_sampler
from mfdiff_envs.core import mean_field_summary
from mfdiff_envs.offline.episodes import Episodes

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data() -> Episodes:
    return ising_episodes(episodes=4)


@pytest.fixture(scope="module")
def trained(data):
    cfg = Config(**TINY, steps=20, action_head=True)
    return fit(make_sampler(data, cfg), cfg, progress=False)


def test_data_range_is_the_alive_data_s(data) -> None:
    """The range of every alive agent-step and of every step's mean field; a dead agent's row
    (here 5 on every feature, beyond the live data's [-1, 1]) is left out."""
    eps = [dataclasses.replace(e, observations=e.observations.copy(), alive=e.alive.copy())
           for e in data.episodes]
    eps[0].alive[5:, 3] = False
    eps[0].observations[5:, 3] = 5.0
    d = Episodes(episodes=eps, env_id=ENV[0], env_kwargs=ENV[1], family="ising", n_actions=2)
    lo, hi, mf_lo, mf_hi = make_sampler(d, Config(**TINY)).data_range()
    obs = np.concatenate([e.observations[e.alive] for e in eps])  # [alive rows, d]
    mf = np.concatenate([mean_field_summary(e.observations, e.alive) for e in eps])
    np.testing.assert_array_equal(lo, obs.min(0))
    np.testing.assert_array_equal(hi, obs.max(0))
    np.testing.assert_array_equal(mf_lo, mf.min(0))
    np.testing.assert_array_equal(mf_hi, mf.max(0))
    assert (hi <= 1).all()  # not the dead rows' 5


def test_the_range_travels_with_the_checkpoint(trained, tmp_path: Path) -> None:
    want = make_sampler(ising_episodes(episodes=4), trained.cfg).data_range()
    trained.save(tmp_path)
    stats = json.loads((tmp_path / "config.json").read_text())["stats"]
    for key, value in zip(("obs_low", "obs_high", "mf_low", "mf_high"), want):
        np.testing.assert_allclose(stats[key], value, rtol=0, atol=0)
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_data_range=True)
    assert loaded.cfg.head_data_range


def _head_inputs(pol: MFDiffuserPlanner, obs: np.ndarray) -> tuple[list, np.ndarray]:
    """The (obs, target, mf) the head reads in one act_batch call on ``obs``, and the actions."""
    seen = []
    head = pol.model.action_head
    forward = head.forward

    def spy(o, t, m, planned=None):
        seen.append((o.clone(), t.clone(), m.clone()))
        return forward(o, t, m, planned)

    head.forward = spy
    try:
        pol.reset(seed=0)
        acts = pol.act_batch(obs, np.ones(obs.shape[0], bool))
    finally:
        del head.forward
    return seen, acts


def test_acting_clips_every_head_input(trained, tmp_path: Path) -> None:
    """With the recorded range narrowed (magnetisation at most 0, the clock at most 0.25), the
    head reads the nearest inputs inside it; without the setting it reads them unclipped."""
    from mfdiff_envs.ising import IsingCore

    trained.save(tmp_path)
    core = IsingCore(N, max_cycles=20)
    obs, _ = core.reset(seed=3)
    core.spins[:] = 1  # an ordered lattice: magnetisation 1, beyond the narrowed range
    obs = core._obs(core._neighbour_sum(), 0)
    clipped = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_data_range=True,
                                                head_temperature=0.0)
    plain = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_temperature=0.0)
    for pol in (clipped, plain):
        pol.stats["obs_high"][2] = 0.0
        pol.stats["mf_high"] = [max(lo, min(hi, 0.0))
                                for lo, hi in zip(pol.stats["mf_low"], pol.stats["mf_high"])]
    clipped._data_range_n = None  # built at load from the recorded range: rebuilt narrowed
    seen, _ = _head_inputs(clipped, obs)
    seen_plain, _ = _head_inputs(plain, obs)
    lo_o, hi_o, lo_m, hi_m = clipped._data_range()
    assert seen and len(seen) == len(seen_plain)
    for (o, t, m), (o_p, _, m_p) in zip(seen, seen_plain):
        for x, lo, hi in ((o, lo_o, hi_o), (t, lo_o, hi_o), (m, lo_m, hi_m)):
            assert bool(((x >= lo) & (x <= hi)).all())
        assert float(o[:, 2].max()) == pytest.approx(float(hi_o[2]))
        assert float(o_p[:, 2].max()) > float(hi_o[2]) + 0.5  # unclipped: magnetisation 1
        assert bool((m_p > hi_m + 1e-6).any())


def test_a_checkpoint_without_the_range_refuses_it(trained, tmp_path: Path) -> None:
    trained.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    for key in ("obs_low", "obs_high", "mf_low", "mf_high"):
        del meta["stats"][key]
    meta["config_sha256"] = config_digest(meta)  # as saved before the range was recorded
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="retrain it, or act with head_data_range=false"):
        MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_data_range=True)
    # a sweep checks every run before it evaluates any (config.json only)
    with pytest.raises(ValueError, match="retrain it, or act with head_data_range=false"):
        check_policy(tmp_path, head_data_range=True)
    check_policy(tmp_path, head_data_range=True, act_with="particle")  # no head, no clipping
    check_policy(tmp_path)
    MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE)  # acting without it still loads


def test_a_checkpoint_with_the_range_passes_the_sweep_check(trained, tmp_path: Path) -> None:
    trained.save(tmp_path)
    check_policy(tmp_path, head_data_range=True)


def test_a_run_saved_before_the_range_resumes_with_it(data, tmp_path: Path) -> None:
    """A train state from before the range was recorded resumes to a checkpoint that has it
    (the resumed data's), with the weights of the uninterrupted run."""
    cfg = Config(**TINY, steps=8, action_head=True)
    straight = fit(make_sampler(data, cfg), cfg, progress=False)
    fit(make_sampler(data, Config(**TINY, steps=4, action_head=True)),
        Config(**TINY, steps=4, action_head=True), out_dir=tmp_path, progress=False)
    state_path = tmp_path / "train_state.pt"
    state = torch.load(state_path, weights_only=False)
    for key in ("obs_low", "obs_high", "mf_low", "mf_high"):
        del state["learner"]["stats"][key]
    torch.save(state, state_path)
    resumed = fit(make_sampler(data, cfg), cfg, out_dir=tmp_path, resume=True, progress=False)
    want = make_sampler(data, cfg).data_range()
    for key, value in zip(("obs_low", "obs_high", "mf_low", "mf_high"), want):
        np.testing.assert_array_equal(resumed.stats[key], value)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
