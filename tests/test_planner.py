"""MF-Diffuser planner: training loop, checkpoints, determinism, loop adapters, CLI, errors."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DEVICE, squeeze_episodes

from mfdiff_agents.checkpoint import CheckpointError, EnvFacts
from mfdiff_agents.config import ConfigError
from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.lifting import distinct_rows
from mfdiff_agents.diffuser.model import MFDiffuserModel, Stats
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.diffuser.train import fit
from mfdiff_envs.core import mean_field_summary
from mfdiff_envs.offline.windows import WindowSampler
from mfdiff_envs.squeeze import GaussianSqueezeCore

torch.set_num_threads(1)

TINY = Config(
    horizon=4,
    replan_every=3,  # the most a horizon-4 plan allows the action head
    n_particles=8,
    width=16,
    depth=1,
    n_timesteps=20,
    steps=40,
    batch_size=8,
    stats_windows=128,
    log_every=10,
    ckpt_every=20,
    k_schedule=(4, 16),
    ddim_steps=4,
    device=DEVICE,
)


@pytest.fixture(scope="module")
def sampler() -> WindowSampler:
    return WindowSampler(
        squeeze_episodes(), horizon=TINY.horizon, n_particles=TINY.n_particles, seed=0
    )


@pytest.fixture(scope="module")
def trained(sampler: WindowSampler, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("run")
    policy = fit(sampler, TINY, out_dir=out, progress=False)
    return policy, out


def untrained(obs_dim: int, n_actions: int, **cfg_kw) -> MFDiffuserPlanner:
    cfg = dataclasses.replace(TINY, **cfg_kw)
    m = 2 * obs_dim + 1
    stats = Stats([0.0] * obs_dim, [1.0] * obs_dim, [0.0] * m, [1.0] * m, 0.0, 1.0)
    torch.manual_seed(0)
    model = MFDiffuserModel(obs_dim=obs_dim, n_actions=n_actions, mf_dim=m, cfg=cfg, stats=stats)
    env = EnvFacts(obs_dim=obs_dim, n_actions=n_actions)
    return MFDiffuserPlanner(model, cfg, env=env, seed=0, device=DEVICE)


# ------------------------------------------------------------------------------- training
def test_fit_writes_checkpoint_and_metrics(trained) -> None:
    policy, out = trained
    assert isinstance(policy, MFDiffuserPlanner)
    for f in ("config.json", "model.safetensors", "train_state.pt", "metrics.csv"):
        assert (out / f).is_file(), f
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [10, 20, 30, 40]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    meta = json.loads((out / "config.json").read_text())
    assert meta["method"] == "mfdiffuser" and meta["env"]["obs_dim"] == 11
    assert meta["env"]["n_actions"] == 10 and meta["env"]["family"] == "squeeze"
    assert len(meta["stats"]["obs_mean"]) == 11 and meta["config"]["horizon"] == TINY.horizon
    # the Â scale the weights act with (an EMA in the model's buffer), not its start value 1
    assert meta["stats"]["adv_std"] == pytest.approx(float(policy.model.adv_std))
    assert meta["stats"]["adv_std"] != 1.0
    ran = json.loads((out / "trained_with.json").read_text())
    assert [r["from_step"] for r in ran] == [0] and ran[0]["torch"] == torch.__version__
    assert ran[0]["threads"] == torch.get_num_threads() and ran[0]["device"] == "cpu"


def test_resume_continues_from_checkpoint(sampler: WindowSampler, trained, tmp_path: Path) -> None:
    _, out = trained
    run = tmp_path / "run"
    run.mkdir()
    for f in ("config.json", "model.safetensors", "train_state.pt", "metrics.csv",
              "trained_with.json"):
        (run / f).write_bytes((out / f).read_bytes())
    with pytest.raises(FileExistsError, match="resume"):
        fit(sampler, TINY, out_dir=run, progress=False)
    fit(sampler, dataclasses.replace(TINY, steps=60), out_dir=run, resume=True, progress=False)
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [10, 20, 30, 40, 50, 60]
    assert torch.load(run / "train_state.pt", weights_only=False)["step"] == 60
    # each start of the run keeps what it trained with
    assert [r["from_step"] for r in json.loads((run / "trained_with.json").read_text())] == [0, 40]


def test_fit_rejects_mismatched_sampler(sampler: WindowSampler) -> None:
    with pytest.raises(ConfigError, match="WindowSampler"):
        fit(sampler, dataclasses.replace(TINY, horizon=5), progress=False)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="k_schedule"):
        Config(k_schedule=(16, 24))
    with pytest.raises(ValueError, match="interaction"):
        Config(interaction="pairs")
    with pytest.raises(ValueError, match="replan_every"):
        Config(horizon=4, replan_every=5)
    with pytest.raises(ValueError, match="exact_ot_max_n must be ≥ 0"):
        Config(exact_ot_max_n=-5)
    # the mixture of plans averages the head: particle actions (with or without a head) are
    # refused, naming the rule that fits them
    with pytest.raises(ValueError, match='set plan_combine="best"'):
        Config(plan_samples=4, plan_combine="mean", action_head=False)
    with pytest.raises(ValueError, match='set plan_combine="best"'):
        Config(plan_samples=4, plan_combine="mean", act_with="particle")
    Config(plan_samples=4, plan_combine="best", action_head=False)
    # stage_steps: one count ≥ 1 per k_schedule level, ddim_steps in all, coarse-to-fine only
    Config(ddim_steps=20, k_schedule=(32, 128, 512), stage_steps=[8, 8, 4])
    for bad, match in (((8, 8, 5), "20 .ddim_steps. in all"), ((8, 12), "each of the 3"),
                       ((0, 16, 4), "≥ 1"), ((8, True, 11), "≥ 1")):
        with pytest.raises(ValueError, match=match):
            Config(ddim_steps=20, k_schedule=(32, 128, 512), stage_steps=bad)
    with pytest.raises(ValueError, match="coarse_to_fine=true"):
        Config(ddim_steps=20, k_schedule=(32, 128, 512), stage_steps=(8, 8, 4),
               coarse_to_fine=False)


def test_build_dataset_names_the_families_it_knows(tmp_path, monkeypatch) -> None:
    from mfdiff_envs.offline.build import build_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    with pytest.raises(ValueError, match=r"unknown family 'sqeeze'; known: \['battle'"):
        build_dataset("sqeeze", n_agents=10, tier="medium", episodes=1, progress=False)


# ------------------------------------------------------------------------------- acting
def rollout_actions(policy: MFDiffuserPlanner, n: int, steps: int, seed: int) -> np.ndarray:
    core = GaussianSqueezeCore(n, max_cycles=steps)
    obs, _ = core.reset(seed=0)
    policy.reset(seed=seed)
    acts = []
    for _ in range(steps):
        a = policy.act_batch(obs)
        acts.append(a)
        obs, *_ = core.step(a)
    return np.stack(acts)


def test_same_seed_same_actions(trained) -> None:
    policy, _ = trained
    a = rollout_actions(policy, 50, 3, seed=7)
    b = rollout_actions(policy, 50, 3, seed=7)
    c = rollout_actions(policy, 50, 3, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("n", [10, 100, 3000])
def test_any_population_size_and_balanced_lifting(trained, n: int) -> None:
    """One model, any N; identical Squeeze agents are spread evenly over the K_max particles."""
    policy, _ = trained
    acts = rollout_actions(policy, n, 2, seed=0)
    assert acts.shape == (2, n) and acts.min() >= 0 and acts.max() < 10
    counts = np.bincount(policy.last_assignment, minlength=TINY.k_schedule[-1])
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("warm", [True, False])
@pytest.mark.parametrize("plans", [1, 2])
def test_lift_warm_start_decides_what_the_sinkhorn_route_starts_from(warm, plans,
                                                                    monkeypatch) -> None:
    """Between replans the balanced lifting's Sinkhorn route starts from the last step's
    potential (lift_warm_start, the default) or solves cold, as at a replan (false), for the
    acting plan and every other plan of a mixture (plan_combine="mean": a lift each)."""
    from mfdiff_agents.diffuser import planner as planner_module

    mix = {"plan_samples": plans, "plan_combine": "mean"} if plans > 1 else {}
    policy = untrained(3, 4, lift_warm_start=warm, exact_ot_max_n=4, replan_every=3, **mix)
    states = []
    real = planner_module.lift_balanced

    def spy(points, centers, *, state=None, **kw):
        states.append(state)
        return real(points, centers, state=state, **kw)

    monkeypatch.setattr(planner_module, "lift_balanced", spy)
    obs = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)  # 40 distinct rows
    policy.reset(seed=0)
    for _ in range(3):  # one replan (one lift serves every plan), two steps between
        policy.act_batch(obs, np.ones(40, bool))
    assert len(states) == 1 + 2 * plans and states[0] is None
    between = states[1:]
    assert all(s is not None for s in between) if warm else all(s is None for s in between)
    with pytest.raises(ConfigError, match="lift_warm_start must be true or false"):
        Config(lift_warm_start="no")


@pytest.mark.parametrize("rows", [2048, 16, 0])
def test_lift_sinkhorn_rows_is_what_the_sinkhorn_route_fits_on(rows, monkeypatch) -> None:
    """``lift_sinkhorn_rows`` reaches every balanced lift (the replan's and those between) as
    ``lift_balanced``'s ``sinkhorn_rows``; the default is what the tables measured (2048)."""
    from mfdiff_agents.diffuser import planner as planner_module

    assert Config().lift_sinkhorn_rows == 2048
    policy = untrained(3, 4, lift_sinkhorn_rows=rows, exact_ot_max_n=4, replan_every=3)
    seen = []
    real = planner_module.lift_balanced

    def spy(points, centers, **kw):
        seen.append(kw["sinkhorn_rows"])
        return real(points, centers, **kw)

    monkeypatch.setattr(planner_module, "lift_balanced", spy)
    obs = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)  # 40 distinct rows
    policy.reset(seed=0)
    for _ in range(3):
        policy.act_batch(obs, np.ones(40, bool))
    assert seen == [rows] * 3
    for bad in (-1, 1.5, True, "8"):
        with pytest.raises(ConfigError, match="lift_sinkhorn_rows must be an integer"):
            Config(lift_sinkhorn_rows=bad)
    with pytest.raises(ConfigError, match="below the 256 particles"):
        Config(lift_sinkhorn_rows=255)


def test_distinct_rows_reused_only_for_the_same_values() -> None:
    """The lifting and the balanced decoding of one env step share one ``distinct_rows``; a
    call with other values (or the same tensor changed in place since) computes it afresh."""
    policy = untrained(3, 4)
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [5.0, 1.0, 2.0]])
    first = policy._distinct_rows(x)
    assert policy._distinct_rows(x.clone()) is first  # same values: reused
    x[2, 0] = 0.0  # in place: now every row is the same
    again = policy._distinct_rows(x)
    assert again is not first
    for got, want in zip(again, distinct_rows(x), strict=True):
        assert torch.equal(got, want)
    assert again[0].shape[0] == 1
    policy.reset(seed=0)
    assert policy._distinct is None


@pytest.mark.parametrize("n", [3, 11, 16, 40])
def test_no_more_particles_than_agents(trained, n: int) -> None:
    """cap_particles: below K_max the planner plans one particle per agent, anchored at it,
    and the replan's balanced lifting matches every agent to its own particle; from K_max on
    the Config's schedule is kept (K_max particles, N / K_max agents each). Off (the
    default), K_max particles at any N."""
    _, out = trained
    off = MFDiffuserPlanner.from_pretrained(out, seed=0)
    assert off.plan(np.zeros((n, off.obs_dim), np.float32), np.ones(n, bool))["x0"].shape[0] == 16
    policy = MFDiffuserPlanner.from_pretrained(out, seed=0, cap_particles=True)
    obs = np.random.default_rng(n).normal(size=(n, policy.obs_dim)).astype(np.float32)
    k = min(n, TINY.k_schedule[-1])
    policy.reset(seed=0)
    plan = policy.plan(obs, np.ones(n, dtype=bool))
    assert plan["x0"].shape[0] == k
    policy.reset(seed=0)  # act_batch's replan draws the same plan
    policy.act_batch(obs)
    owner = plan["anchors"].cpu().numpy()[policy.last_assignment]  # [n] anchor of each match
    if n < TINY.k_schedule[-1]:
        assert sorted(plan["anchors"].tolist()) == list(range(n))  # every agent, once
        assert np.array_equal(owner, np.arange(n))
    else:  # the same plans as without the cap: the grid's records at N >= K_max stand
        counts = np.bincount(policy.last_assignment, minlength=k)
        assert len(counts) == k and counts.max() - counts.min() <= 1
        off.reset(seed=0)
        assert torch.equal(off.plan(obs, np.ones(n, dtype=bool))["x0"], plan["x0"])


def test_replan_every_follows_plan(trained) -> None:
    policy, out = trained
    p = MFDiffuserPlanner.from_pretrained(out, replan_every=2, seed=0)
    calls = []
    orig = p.plan
    p.plan = lambda *a, **k: calls.append(1) or orig(*a, **k)  # type: ignore[method-assign]
    rollout_actions(p, 40, 6, seed=0)
    assert len(calls) == 3  # steps 0, 2 and 4


def test_plan_samples_follows_the_highest_valued_plan(trained) -> None:
    """plan_samples = M draws M plans in one batch and keeps the one the value net rates
    highest; M = 1 is the single plan of before (same random stream)."""
    policy, out = trained
    core = GaussianSqueezeCore(60, max_cycles=3)
    obs, _ = core.reset(seed=0)
    mask = np.ones(60, dtype=bool)
    one = MFDiffuserPlanner.from_pretrained(out, seed=3)
    p1 = one.plan(obs, mask)
    assert "plan_values" not in p1
    many = MFDiffuserPlanner.from_pretrained(out, seed=3, plan_samples=5)
    p5 = many.plan(obs, mask)
    values = p5["plan_values"]
    assert values.shape == (5,) and len(set(values.tolist())) == 5  # five different plans
    assert p5["x0"].shape == p1["x0"].shape
    # the chosen plan's value, recomputed by hand from its raw planned states
    many.reset(seed=3)
    again = many.plan(obs, mask)
    assert torch.equal(again["x0"], p5["x0"])  # same seed, same choice
    m = many.model
    raw = p5["x0"][..., :many.obs_dim] * m.obs_std + m.obs_mean  # [K, H, d]
    alive = torch.ones(raw.shape[1], 1, device=raw.device)  # everyone alive
    mf = torch.cat([raw.mean(0), raw.std(0, unbiased=False), alive], -1)  # [H, 2d + 1]
    assert torch.isclose(m.value(m.norm_mf(mf))[1:].mean(), values.max(), atol=1e-5)
    with pytest.raises(ConfigError):
        Config(plan_samples=0)


def test_plan_combine_mean_decodes_the_mixture_over_plans(trained) -> None:
    """plan_combine="mean": the M - 1 other plans come back beside x0 (no value ranking), the
    decoded distribution is the mean of the per-plan head distributions, M copies of one plan
    act as that plan alone, and every lifting mode runs."""
    _, out = trained
    core = GaussianSqueezeCore(60, max_cycles=3)
    obs, _ = core.reset(seed=0)
    mask = np.ones(60, dtype=bool)
    kw = dict(seed=3, head_temperature=0.0, replan_every=2)
    mixed = MFDiffuserPlanner.from_pretrained(out, plan_samples=3, plan_combine="mean", **kw)
    p = mixed.plan(obs, mask)
    assert "plan_values" not in p and p["x0_extra"].shape == (2, *p["x0"].shape)
    # the mixture, by hand: per-plan head probabilities at plan step 0, averaged, argmax
    d, m = mixed.obs_dim, mixed.model
    plans = torch.cat([p["x0"][None], p["x0_extra"]])[..., :d]  # [3, K, H, d]
    mixed._plan_obs, mixed._extra_obs, mixed._tau = plans[0], plans[1:], 0
    g = torch.Generator().manual_seed(0)
    assigns = [torch.randint(0, plans.shape[1], (60,), generator=g) for _ in range(3)]
    got = mixed.decode_head(mixed._head_logits(obs, mask, assigns[0], assigns[1:]), obs, mask)
    obs_n = mixed._norm_obs(obs)
    mf_n = m.norm_mf(torch.as_tensor(mean_field_summary(obs, mask), device=mixed.device))
    probs = sum(torch.softmax(m.action_head(obs_n, obs_n + (x[:, 1] - x[:, 0])[a], mf_n[None]),
                              -1) for x, a in zip(plans, assigns)) / 3
    assert torch.equal(got, probs.argmax(-1))
    # three copies of one plan act as that plan alone (replanning every step: between replans
    # each plan's own balanced lift may break ties among identical agents differently)
    every = {**kw, "replan_every": 1}
    one = MFDiffuserPlanner.from_pretrained(out, plan_samples=1, **every)
    copies = MFDiffuserPlanner.from_pretrained(out, plan_samples=1, **every)
    copies.cfg.plan_combine = "mean"
    orig = copies.plan
    copies.plan = lambda o, k: (lambda r: {**r, "x0_extra": r["x0"][None].repeat(2, 1, 1, 1)})(
        orig(o, k))  # type: ignore[method-assign]
    assert np.array_equal(rollout_actions(one, 60, 3, seed=5), rollout_actions(copies, 60, 3, 5))
    for lifting in ("balanced", "frozen", "nearest"):
        for n in (10, 100):
            pol = MFDiffuserPlanner.from_pretrained(out, plan_samples=3, plan_combine="mean",
                                                    lifting=lifting, **kw)
            acts = rollout_actions(pol, n, 4, seed=0)
            assert acts.shape == (4, n) and acts.min() >= 0 and acts.max() < 10
    with pytest.raises(ConfigError, match="plan_combine"):
        Config(plan_combine="vote")
    with pytest.raises(ConfigError, match="act_with"):
        Config(plan_combine="mean", act_with="particle")
    # without a head there is nothing to average: refused when the config is made (a
    # checkpoint trained so could never act)
    with pytest.raises(ConfigError, match="needs action_head=true"):
        untrained(mixed.obs_dim, 10, action_head=False, plan_samples=2, plan_combine="mean")


def test_dead_agents_do_not_influence_the_living(trained) -> None:
    """Rows of dead agents (even NaN) change nothing: the mean field, anchors and lifting see
    live agents only, and the dead get action 0."""
    policy, _ = trained
    obs = GaussianSqueezeCore(30).reset(seed=0)[0]
    mask = np.arange(30) % 3 != 0
    policy.reset(seed=4)
    a = policy.act_batch(obs, mask)
    garbage = obs.copy()
    garbage[~mask] = np.nan
    policy.reset(seed=4)
    b = policy.act_batch(garbage, mask)
    assert np.array_equal(a, b) and np.all(b[~mask] == 0)


def test_save_load_identical_actions(trained, tmp_path: Path) -> None:
    policy, _ = trained
    policy.save(tmp_path / "ckpt")
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path / "ckpt", device=DEVICE)
    assert np.array_equal(
        rollout_actions(policy, 80, 3, seed=1), rollout_actions(loaded, 80, 3, seed=1)
    )


def test_bad_checkpoints_fail_clearly(trained, tmp_path: Path) -> None:
    _, out = trained
    with pytest.raises(CheckpointError, match="no such"):
        MFDiffuserPlanner.from_pretrained(tmp_path / "missing")

    def copy_run(name: str) -> Path:
        d = tmp_path / name
        d.mkdir()
        for f in ("config.json", "model.safetensors"):
            (d / f).write_bytes((out / f).read_bytes())
        return d

    trunc = copy_run("trunc")
    (trunc / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="hash"):
        MFDiffuserPlanner.from_pretrained(trunc)
    wrong = copy_run("wrong")
    meta = json.loads((out / "config.json").read_text())
    meta["env"]["obs_dim"] = 7
    meta.pop("config_sha256")  # past the digest check: the deeper checks
    (wrong / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not match"):
        MFDiffuserPlanner.from_pretrained(wrong)
    meta["method"] = "bc"
    (wrong / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="'bc'"):
        MFDiffuserPlanner.from_pretrained(wrong)
    with pytest.raises(ConfigError, match="width"):
        MFDiffuserPlanner.from_pretrained(out, width=32)  # an architecture field
    # a training-only field would be ignored (steps) or contradict the weights (head_blind)
    for field in ({"steps": 5}, {"head_blind": (1,)}):
        with pytest.raises(ConfigError, match="fixed when the checkpoint is trained"):
            MFDiffuserPlanner.from_pretrained(out, **field)


def test_bad_inputs(trained) -> None:
    policy, _ = trained
    with pytest.raises(ValueError, match=r"\[N, 11\]"):
        policy.act_batch(np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="mask"):
        policy.act_batch(np.zeros((5, 11), np.float32), np.ones(4, bool))
    obs = GaussianSqueezeCore(100).reset(seed=0)[0]
    for bad in (np.nan, np.inf):
        o = obs.copy()
        o[17, 3] = bad
        with pytest.raises(ValueError, match=r"non-finite .*rows \[17\]"):
            policy.act_batch(o)
    huge = obs.copy()
    huge[5] *= 1e30  # finite but far outside the data: planned without a linear-algebra crash
    assert policy.act_batch(huge).shape == (100,)


# ------------------------------------------------------------------------------- env loops
def env_modules():
    from mfdiff_envs import squeeze_v0

    cases = [(squeeze_v0, {"n_agents": 40, "max_cycles": 5})]
    try:
        from mfdiff_envs import ising_v0

        cases.append((ising_v0, {"n_agents": 36, "max_cycles": 5}))
    except ImportError:
        pass
    try:
        from mfdiff_envs import battle_v0

        cases.append((battle_v0, {"n_agents": 40, "opponent": "expert", "max_cycles": 5}))
    except ImportError:
        pass
    return cases


@pytest.mark.parametrize("mod,kw", env_modules(), ids=lambda v: getattr(v, "__name__", ""))
def test_parallel_and_aec_loops(mod, kw) -> None:
    env = mod.parallel_env(**kw)
    observations, _ = env.reset(seed=0)
    agent0 = env.agents[0]
    policy = untrained(env.observation_space(agent0).shape[0], env.action_space(agent0).n)
    policy.reset(seed=0)
    steps = 0
    while env.agents:  # a plain PettingZoo parallel loop, unchanged
        actions = policy.act(observations, env.agents)
        assert set(actions) == set(env.agents)
        observations, rewards, terms, truncs, infos = env.step(actions)
        steps += 1
    assert steps >= 1
    aec = mod.env(**kw)
    aec.reset(seed=0)
    policy.bind(aec)
    for agent in aec.agent_iter():  # a plain AEC loop, unchanged
        obs, reward, term, trunc, info = aec.last()
        action = None if term or trunc else policy(obs, agent)
        aec.step(action)
    with pytest.raises(KeyError, match="unknown agent"):
        aec.reset(seed=1)
        policy(aec.observe(aec.agents[0]), "nobody")


# ------------------------------------------------------------------------------- CLI
def test_cli_train_smoke(tmp_path: Path) -> None:
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari"), "OMP_NUM_THREADS": "1"}
    build = (
        "from mfdiff_envs.offline.build import build_dataset; "
        "build_dataset('squeeze', n_agents=100, tier='medium', episodes=2, "
        "env_kwargs={'max_cycles': 6}, ref_scores=(0.0, 1.0), progress=False)"
    )
    subprocess.run(
        [sys.executable, "-c", build], env=env, check=True, capture_output=True, timeout=120
    )
    ds = "mfdiff/squeeze-n100/medium-v0"
    cmd = [
        sys.executable,
        "-m",
        "mfdiff",
        "train",
        "--dataset",
        ds,
        "--algo",
        "mfdiffuser",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
        "--set",
        "steps=4",
        "--set",
        "horizon=4",
        "--set",
        "replan_every=3",
        "--set",
        "n_particles=8",
        "--set",
        "width=16",
        "--set",
        "depth=1",
        "--set",
        "k_schedule=4,16",
        "--set",
        "ddim_steps=4",
        "--set",
        "stats_windows=64",
        "--set",
        "batch_size=4",
        "--set",
        "log_every=2",
    ]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    p = MFDiffuserPlanner.from_pretrained(tmp_path / "run")
    assert p.cfg.k_schedule == (4, 16) and p.cfg.steps == 4
    assert p.env.env_id == "mfdiff/GaussianSqueeze-v0" and p.env.family == "squeeze"
    bad = subprocess.run(
        cmd[:-2] + ["--set", "no_such_key=1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "no_such_key" in bad.stderr


def test_stage_steps_reach_the_denoiser_capped_or_not(trained) -> None:
    """``--set stage_steps=[…]`` at load: each level's own DDIM steps, the finest levels'
    summed where cap_particles merges them into N; null is the near-equal split."""
    _, out = trained
    calls: list[int] = []

    def counted(policy: MFDiffuserPlanner, n: int) -> list[int]:
        den = policy.model.diffusion.model
        if "forward" not in vars(den):  # wrapped once per policy
            orig = den.forward
            den.forward = lambda x, t, c: calls.append(x.shape[1]) or orig(x, t, c)
        calls.clear()
        policy.reset(seed=0)
        obs = np.random.default_rng(0).normal(size=(n, policy.obs_dim)).astype(np.float32)
        policy.plan(obs, np.ones(n, dtype=bool))
        return list(calls)

    steps = TINY.ddim_steps
    split = (steps - 1, 1)
    plain = MFDiffuserPlanner.from_pretrained(out, seed=0)
    assert counted(plain, 40) == [4] * (steps // 2) + [16] * (steps - steps // 2)
    policy = MFDiffuserPlanner.from_pretrained(out, seed=0, stage_steps=list(split),
                                               cap_particles=True)
    assert counted(policy, 40) == [4] * split[0] + [16] * split[1]
    assert counted(policy, 10) == [4] * split[0] + [10] * split[1]
    assert counted(policy, 3) == [3] * steps  # one level: every step
    with pytest.raises(ValueError, match="stage_steps"):
        MFDiffuserPlanner.from_pretrained(out, seed=0, stage_steps=[1, 1, 1])


def test_a_field_added_later_leaves_the_settings_digest_of_its_old_value(trained, tmp_path):
    """An outside review: ``train_inpaint`` (false) in every new config.json split checkpoints
    of one setting trained before and after it into two report rows; at its old value it is
    left out of the digest (checkpoint.LATER_FIELDS), on it is another setting."""
    from mfdiff_agents.checkpoint import checkpoint_identity, config_digest

    _, out = trained

    def copy_with(name: str, change) -> Path:
        d = tmp_path / name
        d.mkdir()
        for f in ("config.json", "model.safetensors"):
            (d / f).write_bytes((out / f).read_bytes())
        meta = json.loads((d / "config.json").read_text())
        change(meta["config"])
        meta["config_sha256"] = config_digest(meta)
        (d / "config.json").write_text(json.dumps(meta))
        return d

    now = checkpoint_identity(out)
    assert json.loads((out / "config.json").read_text())["config"]["train_inpaint"] is False
    before = checkpoint_identity(copy_with("before", lambda c: c.pop("train_inpaint")))
    on = checkpoint_identity(copy_with("on", lambda c: c.update(train_inpaint=True)))
    assert before["settings"] == now["settings"] != on["settings"]
    # stage_steps (fifty-seventh update): null left out, a split is another setting
    assert json.loads((out / "config.json").read_text())["config"]["stage_steps"] is None
    before = checkpoint_identity(copy_with("no_split", lambda c: c.pop("stage_steps")))
    split = checkpoint_identity(copy_with("split", lambda c: c.update(stage_steps=[2, 3])))
    assert before["settings"] == now["settings"] != split["settings"]
    # lift_sinkhorn_rows (sixtieth update): 2048 left out, another count another setting
    assert json.loads((out / "config.json").read_text())["config"]["lift_sinkhorn_rows"] == 2048
    before = checkpoint_identity(copy_with("rows_before", lambda c: c.pop("lift_sinkhorn_rows")))
    fewer = checkpoint_identity(copy_with("rows_1024",
                                          lambda c: c.update(lift_sinkhorn_rows=1024)))
    assert before["settings"] == now["settings"] != fewer["settings"]
    # the sixty-fourth update: three training fields added in the sixty-third
    meta = json.loads((out / "config.json").read_text())["config"]
    for field, other in (("init_seed", 7), ("lr_schedule", "cosine"), ("value_warmup", 2)):
        before = checkpoint_identity(copy_with(f"{field}_before",
                                               lambda c, f=field: c.pop(f)))
        assert field in meta and before["settings"] == now["settings"], field
        changed = checkpoint_identity(copy_with(f"{field}_on",
                                                lambda c, f=field, v=other: c.update({f: v})))
        assert changed["settings"] != now["settings"], field


def test_an_evaluation_records_the_threads_its_policy_acted_with(trained):
    """An outside review: records gave the process's thread count, while a policy loaded with
    ``num_threads`` acts under its own."""
    from mfdiff_agents.evaluation import evaluate
    from mfdiff_agents.methods import load_policy

    _, out = trained
    n = 1 if torch.get_num_threads() > 1 else 2  # not the process's count
    policy = load_policy(out, num_threads=n)
    (rec,) = evaluate(policy, "mfdiff/GaussianSqueeze-v0", {"n_agents": 11, "max_cycles": 2},
                      [0], 1)
    assert rec["threads"] == n and rec["torch"] == torch.__version__
