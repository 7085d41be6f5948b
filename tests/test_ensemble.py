"""MF-Diffuser ensembles: the mixture of the members' heads, seeding, and what they refuse."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import DEVICE
from test_planner import TINY, rollout_actions

from mfdiff_agents.diffuser.ensemble import MFDiffuserEnsemble, member_seed
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.diffuser.train import fit
from mfdiff_envs.ising import IsingCore
from mfdiff_envs.squeeze import GaussianSqueezeCore

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Two tiny checkpoints of one setting, training seeds 0 and 1."""
    from conftest import squeeze_episodes

    from mfdiff_envs.offline.windows import WindowSampler

    sampler = WindowSampler(squeeze_episodes(), horizon=TINY.horizon,
                            n_particles=TINY.n_particles, seed=0)
    out = []
    for seed in (0, 1):
        d = tmp_path_factory.mktemp(f"run{seed}")
        fit(sampler, dataclasses.replace(TINY, seed=seed), out_dir=d, progress=False)
        out.append(str(d))
    return out


def test_one_member_acts_as_the_member_alone(runs) -> None:
    kw = dict(plan_samples=2, plan_combine="mean", replan_every=2)
    alone = MFDiffuserPlanner.from_pretrained(runs[0], device=DEVICE, **kw)
    ens = MFDiffuserEnsemble.from_pretrained(runs[:1], device=DEVICE, **kw)
    assert np.array_equal(rollout_actions(alone, 40, 4, seed=3),
                          rollout_actions(ens, 40, 4, seed=3))


def test_agents_act_on_the_plan_weighted_mixture(runs) -> None:
    """Member 0 with 2 plans weighs twice member 1 with one: the argmax of (2 p0 + p1) / 3,
    p_m the head distribution member m gives alone at its member seed."""
    core = GaussianSqueezeCore(50, max_cycles=2)
    obs, _ = core.reset(seed=0)
    mask = np.ones(50, dtype=bool)
    plans = (2, 1)
    ens = MFDiffuserEnsemble([
        MFDiffuserPlanner.from_pretrained(r, device=DEVICE, plan_samples=p, plan_combine="mean",
                                          head_temperature=0.0)
        for r, p in zip(runs, plans)])
    assert ens.weights == [2, 1]
    ens.reset(seed=4)
    got = torch.exp(ens.head_step(obs, mask))
    alone = []
    for i, (r, p) in enumerate(zip(runs, plans)):
        m = MFDiffuserPlanner.from_pretrained(r, device=DEVICE, plan_samples=p,
                                              plan_combine="mean", head_temperature=0.0)
        m.reset(seed=member_seed(4, i))
        alone.append(torch.softmax(m.head_step(obs, mask), -1))
    torch.testing.assert_close(got, (2 * alone[0] + alone[1]) / 3)
    assert (alone[0] - alone[1]).abs().max() > 0.01  # the members differ: a real mixture
    # acting decodes that mixture (argmax at temperature 0)
    ens.reset(seed=4)
    assert np.array_equal(ens.act_batch(obs), got.argmax(-1).cpu().numpy())


def test_seeding_reproduces_and_members_draw_apart(runs) -> None:
    ens = MFDiffuserEnsemble.from_pretrained(runs, device=DEVICE, plan_samples=2)
    a = rollout_actions(ens, 60, 3, seed=7)
    assert np.array_equal(a, rollout_actions(ens, 60, 3, seed=7))
    assert not np.array_equal(a, rollout_actions(ens, 60, 3, seed=8))
    seeds = [member_seed(7, i) for i in range(4)]
    assert seeds[0] == 7 and len(set(seeds)) == 4 and all(s >= 0 for s in seeds)
    assert member_seed(None, 2) is None


def test_dead_agents_act_zero_and_are_not_seen(runs) -> None:
    """Dead rows get 0 and do not change the live agents' actions (as a planner alone)."""
    core = GaussianSqueezeCore(40, max_cycles=2)
    obs, _ = core.reset(seed=0)
    mask = np.ones(40, dtype=bool)
    mask[::3] = False
    ens = MFDiffuserEnsemble.from_pretrained(runs, device=DEVICE, plan_samples=2)
    ens.reset(seed=2)
    a = ens.act_batch(obs, mask)
    assert (a[~mask] == 0).all()
    garbage = obs.copy()
    garbage[~mask] = 123.0
    ens.reset(seed=2)
    assert np.array_equal(ens.act_batch(garbage, mask), a)
    with pytest.raises(ValueError, match="no agent alive"):
        ens.members[0].head_step(obs, np.zeros(40, dtype=bool))


def test_refuses_what_it_cannot_mix(runs, tmp_path) -> None:
    import shutil

    with pytest.raises(ValueError, match="at least one member"):
        MFDiffuserEnsemble([])
    with pytest.raises(ValueError, match="given twice"):
        MFDiffuserEnsemble.from_pretrained([runs[0], runs[0] + "/"], device=DEVICE)
    shutil.copytree(runs[0], tmp_path / "copy")  # the same checkpoint in another directory
    with pytest.raises(ValueError, match="given twice"):
        MFDiffuserEnsemble.from_pretrained([runs[0], tmp_path / "copy"], device=DEVICE)
    one = MFDiffuserPlanner.from_pretrained(runs[0], device=DEVICE)
    with pytest.raises(ValueError, match="object is given twice"):
        MFDiffuserEnsemble([one, one])
    other = MFDiffuserPlanner.from_pretrained(runs[1], device=DEVICE)
    other.env = dataclasses.replace(other.env, dataset_id="mfdiff/other/medium-v0")
    with pytest.raises(ValueError, match="dataset_id"):
        MFDiffuserEnsemble([one, other])
    with pytest.raises(ValueError, match="particle actions"):
        MFDiffuserEnsemble.from_pretrained(runs, device=DEVICE, act_with="particle",
                                           plan_combine="best")
    a = MFDiffuserPlanner.from_pretrained(runs[0], device=DEVICE, head_temperature=0.0)
    b = MFDiffuserPlanner.from_pretrained(runs[1], device=DEVICE, head_temperature=0.5)
    with pytest.raises(ValueError, match="head_temperature"):
        MFDiffuserEnsemble([a, b])
    with pytest.raises(TypeError, match="MFDiffuserPlanner"):
        MFDiffuserEnsemble([a, object()])  # type: ignore[list-item]
    ens = MFDiffuserEnsemble.from_pretrained(runs, device=DEVICE)
    with pytest.raises(ValueError):  # trained on Squeeze, not Ising
        ens.check_env(IsingCore(16))
    ens.check_env(GaussianSqueezeCore(30, max_cycles=8))


def test_ensemble_seeds_script(runs, tmp_path) -> None:
    """experiments/ensemble_seeds.py: groups in the order given, one record per group and
    evaluation seed naming its members, a rerun skips what the file holds, bad input refused."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for seed, run in zip((3, 5), runs):
        (tmp_path / f"mfdiffuser-medium-s{seed}").symlink_to(run)
    out = tmp_path / "records.jsonl"
    cmd = [sys.executable, str(root / "experiments/ensemble_seeds.py"), "squeeze", str(tmp_path),
           "--tier", "medium", "--seeds", "3", "5", "--n", "20", "--eval-seeds", "1",
           "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for _ in range(2):
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
    assert "already in" in p.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["n_agents"] == 20
    assert recs[0]["config"]["policy"] == "+".join(str(tmp_path / f"mfdiffuser-medium-s{s}")
                                                   for s in (3, 5))
    assert recs[0]["config"]["set"] == {"plan_samples": 2, "plan_combine": "mean"}  # TINY: best
    ids = [json.loads((tmp_path / f"mfdiffuser-medium-s{s}/config.json").read_text())
           ["config_sha256"] for s in (3, 5)]
    assert recs[0]["config"]["member_ids"] == ids
    # another spelling of the same checkpoints is the same run: skipped, not appended twice
    rel = os.path.relpath(tmp_path)
    p = subprocess.run([*cmd[:3], rel, *cmd[4:]], capture_output=True, text=True, env=env,
                       timeout=300)
    assert p.returncode == 0 and "already in" in p.stderr, p.stderr
    more = subprocess.run([*cmd[:-3], "2", *cmd[-2:]], capture_output=True, text=True, env=env,
                          timeout=300)
    assert more.returncode == 2 and "seeds [0] only" in more.stderr, more.stderr
    for bad, msg in ((["--size", "3"], "does not divide"), (["--seeds", "3", "4"], "no finished"),
                     (["--lane", "2", "--lanes", "2"], "--lane 2")):
        p = subprocess.run(cmd + bad, capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 2 and msg in p.stderr, p.stderr


@pytest.mark.parametrize("env, msg", [({"TIER": "expert"}, "TIER: medium mixed"),
                                      ({"PLANS": "0"}, "PLANS is a positive integer"),
                                      ({"PLANS": "8x"}, "PLANS is a positive integer")])
def test_plans_seeds_script_refuses_bad_settings(env, msg) -> None:
    """experiments/plans_seeds.sh stops before evaluating anything on a bad TIER or PLANS."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    p = subprocess.run(["bash", str(root / "experiments/plans_seeds.sh")], capture_output=True,
                       text=True, env={**os.environ, **env}, timeout=60)
    assert p.returncode == 2 and msg in p.stderr, p.stderr


@pytest.mark.parametrize("w", ["x", ".", "1.2.3", "-1"])
def test_guidance_seeds_script_refuses_a_bad_weight(w: str) -> None:
    """experiments/guidance_seeds.sh stops before evaluating anything unless W is a number
    (an empty W is the default, 2, as unset: never test it here, it would evaluate)."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    p = subprocess.run(["bash", str(root / "experiments/guidance_seeds.sh")], capture_output=True,
                       text=True, env={**os.environ, "W": w}, timeout=60)
    assert p.returncode == 2 and "W is a number" in p.stderr, p.stderr


def test_sampling_draws_from_the_mixture(runs) -> None:
    """At T = 1, i.i.d. decoding: the actions of 20 000 agents are draws from the mixture of
    the members' heads (both members weigh 1), not from member 0's head alone."""
    n = 20_000
    core = GaussianSqueezeCore(n, max_cycles=2)
    obs, _ = core.reset(seed=0)
    mask = np.ones(n, dtype=bool)
    kw = dict(head_temperature=1.0, head_decode="sample", head_min_p=0.0,
              head_remove_uniform=False)

    def load(dirs):
        return MFDiffuserEnsemble.from_pretrained(dirs, device=DEVICE, **kw)

    probe = load(runs)
    probe.reset(seed=5)
    mix = torch.exp(probe.head_step(obs, mask)).mean(0).cpu().numpy()  # [A]
    alone = load(runs[:1])
    alone.reset(seed=5)
    p0 = torch.softmax(alone.head_step(obs, mask), -1).mean(0).cpu().numpy()
    ens = load(runs)
    ens.reset(seed=5)  # same seed: its head step gives the probe's distribution
    freq = np.bincount(ens.act_batch(obs), minlength=mix.size) / n
    tv = 0.5 * np.abs(freq - mix).sum()
    # the TV of n draws from `mix` over A actions: about sqrt(A / n) / 2 ~ 0.011
    assert tv < 0.025, (tv, freq, mix)
    assert 0.5 * np.abs(freq - p0).sum() > tv + 0.02, "member 0 alone fits as well"
