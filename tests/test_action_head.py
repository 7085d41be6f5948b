"""MF-Diffuser's action head and classifier-free guidance: the head beats copying the particle's
action on a tiny Ising dataset, guidance changes plans (and w = 1 is the plain conditional
sampler), checkpoints round-trip with the head, old checkpoints load unchanged, and the head does
not touch the diffusion model's training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DEVICE

from mfdiff_agents.config import ConfigError
from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.diffuser.train import fit
from mfdiff_agents.evaluation import evaluate
from mfdiff_agents.methods import make_sampler

torch.set_num_threads(1)

N, T = 64, 20
ENV = ("mfdiff/Ising-v0", {"n_agents": N, "max_cycles": T})
TINY = dict(horizon=4, n_particles=16, device=DEVICE, seed=0, width=32, depth=2, n_timesteps=50,
            batch_size=16, stats_windows=256, k_schedule=(8, 32), ddim_steps=5, replan_every=2)


def ising_episodes(episodes: int = 8, skill: float = 0.5):
    """Ising episodes (N = 64, 20 steps) of the skill-0.5 behaviour policy, dataset layout."""
    from mfdiff_envs.ising import IsingCore
    from mfdiff_envs.offline.episodes import Episode, Episodes
    from mfdiff_envs.policies import make_behaviour_policy
    from mfdiff_envs.rollout import rollout

    core = IsingCore(N, max_cycles=T)
    out = [
        Episode.from_arrays(
            rollout(core, make_behaviour_policy(core, skill, seed=e), seed=e, record=True).episode
        )
        for e in range(episodes)
    ]
    return Episodes(episodes=out, env_id=ENV[0], env_kwargs=ENV[1], family="ising",
                    n_actions=core.n_actions)


@pytest.fixture(scope="module")
def data():
    return ising_episodes()


@pytest.fixture(scope="module")
def trained(data):
    cfg = Config(**TINY, steps=150, action_head=True, p_uncond=0.1)
    return fit(make_sampler(data, cfg), cfg, progress=False)


def test_head_beats_copying_the_particle(trained) -> None:
    # measured (this config, seeds 0-2): head 13.1, 18.5, 7.7 (mean 13.1); particle 3.2, -0.0,
    # 3.0 (mean 2.1). Deterministic on CPU; the margin 5 leaves room for BLAS differences.
    scores = {}
    for mode in ("head", "particle"):
        trained.cfg.act_with = mode
        recs = evaluate(trained, *ENV, seeds=[0, 1, 2])
        scores[mode] = [r["normalized_score"] for r in recs]
    trained.cfg.act_with = "auto"
    assert np.mean(scores["head"]) > np.mean(scores["particle"]) + 5, scores


def _plan(policy: MFDiffuserPlanner, w: float) -> torch.Tensor:
    from mfdiff_envs.ising import IsingCore

    obs, _ = IsingCore(N, max_cycles=T).reset(seed=3)
    policy.cfg.guidance_weight = w
    policy.reset(seed=7)
    try:
        return policy.plan(obs, np.ones(N, bool))["x0"]
    finally:
        policy.cfg.guidance_weight = 1.0


def test_guidance_weight_changes_plans(trained) -> None:
    x1, x1b, x0, x2 = (_plan(trained, w) for w in (1.0, 1.0, 0.0, 2.0))
    assert torch.equal(x1, x1b)  # same seed, same plan
    assert not torch.allclose(x0, x1, atol=1e-3)
    assert not torch.allclose(x2, x1, atol=1e-3)
    assert trained.model.diffusion.model.guidance_weight == 1.0  # restored after planning


def test_guidance_needs_a_null_token() -> None:
    with pytest.raises(ConfigError, match="p_uncond"):
        Config(p_uncond=0.0, guidance_weight=2.0)
    with pytest.raises(ConfigError, match="action_head"):
        Config(action_head=False, act_with="head")


def test_replan_every_horizon_needs_particle_actions() -> None:
    """Regression: with the head acting, replan_every = horizon was accepted and replanned every
    horizon - 1 steps (the head reads a planned next state; the last plan step has none)."""
    with pytest.raises(ConfigError, match=r"horizon - 1 \(3\)"):
        Config(horizon=4, replan_every=4)
    Config(horizon=4, replan_every=3)
    Config(horizon=4, replan_every=4, act_with="particle")
    Config(horizon=4, replan_every=4, action_head=False)


def test_head_actions_seeded_and_batched(trained) -> None:
    from mfdiff_envs.ising import IsingCore

    obs, _ = IsingCore(4096, max_cycles=T).reset(seed=1)  # a larger N: one MLP call for all
    mask = np.ones(len(obs), bool)
    acts = []
    for _ in range(2):
        trained.reset(seed=5)
        acts.append(trained.act_batch(obs, mask))
    assert acts[0].shape == (4096,) and np.array_equal(acts[0], acts[1])
    assert set(np.unique(acts[0])) <= {0, 1}


def test_checkpoint_round_trip_with_head(trained, tmp_path: Path) -> None:
    from mfdiff_envs.ising import IsingCore

    trained.save(tmp_path)
    obs, _ = IsingCore(N, max_cycles=T).reset(seed=2)
    mask = np.ones(N, bool)
    for mode in ("head", "particle"):
        loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, act_with=mode)
        assert loaded.uses_head == (mode == "head")
        trained.cfg.act_with = mode
        a, b = [], []
        for pol, out in ((trained, a), (loaded, b)):
            pol.reset(seed=11)
            out += [pol.act_batch(obs, mask) for _ in range(3)]
        trained.cfg.act_with = "auto"
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), mode
    with pytest.raises(ConfigError, match="shapes"):
        MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, action_head=False)


def test_head_leaves_the_diffusion_model_alone(data) -> None:
    """act_with="particle" on a with-head model is the no-head model: same diffusion weights."""
    nets = []
    for head in (True, False):
        cfg = Config(**TINY, steps=4, action_head=head, p_uncond=0.1)
        nets.append(fit(make_sampler(data, cfg), cfg, progress=False).model)
    assert nets[0].action_head is not None and nets[1].action_head is None
    want = nets[1].state_dict()
    got = {k: v for k, v in nets[0].state_dict().items() if not k.startswith("action_head.")}
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)


def changed_weights(data, field: str, off: float, on: float) -> list[str]:
    """Names of the weights that differ between two 4-step trainings with ``field`` = off / on
    (same data, same seeds)."""
    nets = []
    for value in (off, on):
        cfg = Config(**TINY, steps=4, **{field: value})
        nets.append(fit(make_sampler(data, cfg), cfg, progress=False).model.state_dict())
    keys = nets[0].keys() | nets[1].keys()  # a setting may rename the head's weights
    return [k for k in sorted(keys) if k not in nets[0] or k not in nets[1]
            or not torch.equal(nets[0][k], nets[1][k])]


def test_head_noise_trains_only_the_head(data) -> None:
    """head_noise > 0 gives another head and the same diffusion weights (its own RNG stream);
    0 draws nothing, so the weights of earlier runs are reproduced."""
    from mfdiff_agents.diffuser.action_head import ActionHead, head_loss

    diff = changed_weights(data, "head_noise", 0.0, 1.0)
    assert diff and all(k.startswith("action_head.") for k in diff)
    head = ActionHead(obs_dim=3, mf_dim=2, n_actions=2, hidden=8)
    obs, mf = torch.randn(2, 4, 5, 3), torch.randn(2, 5, 2)
    acts, alive = torch.randint(0, 2, (2, 4, 5)), torch.ones(2, 4, 5, dtype=torch.bool)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    clean = head_loss(head, obs, acts, alive, mf, noise=0.0, generator=g)[0]
    assert torch.equal(g.get_state(), state)  # no draw without noise
    noisy = head_loss(head, obs, acts, alive, mf, noise=1.0, generator=g)[0]
    assert torch.isfinite(noisy) and not torch.equal(clean, noisy)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="head_noise"):
            Config(head_noise=bad)


def test_shared_head_noise_keeps_the_displacement() -> None:
    """head_noise_shared: one draw for the state and its target, so the head reads the data's
    displacement s_{t+1} − s_t exactly; independent draws blur it."""
    from mfdiff_agents.diffuser.action_head import ActionHead, head_loss

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    class Spy(ActionHead):
        def forward(self, obs, target, mf, planned=None):
            seen.append((obs, target))
            return super().forward(obs, target, mf, planned)

    head = Spy(obs_dim=3, mf_dim=2, n_actions=2, hidden=8)
    obs, mf = torch.randn(2, 4, 5, 3), torch.randn(2, 5, 2)
    acts, alive = torch.randint(0, 2, (2, 4, 5)), torch.ones(2, 4, 5, dtype=torch.bool)
    step = obs[:, :, 1:] - obs[:, :, :-1]
    for shared in (True, False):
        g = torch.Generator().manual_seed(0)
        head_loss(head, obs, acts, alive, mf, noise=1.0, generator=g, noise_shared=shared)
        s, target = seen[-1]
        assert not torch.allclose(s, obs[:, :, :-1])  # the state itself is jittered
        assert torch.allclose(target - s, step, atol=1e-5) == shared
    assert Config(head_noise_shared=True).head_noise_shared

def test_head_blind_features_are_never_read(data) -> None:
    """head_blind: the head's target keeps the agent's own value of those features, in training
    (its s_{t+1} is s_t there) and at act time (the particle's displacement is zeroed there);
    only the head's weights change; bad indices are refused."""
    from mfdiff_agents.diffuser.action_head import ActionHead, head_loss

    diff = changed_weights(data, "head_blind", (), (0,))
    assert diff and all(k.startswith("action_head.") for k in diff)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def spy(module, args):
        seen.append((args[0], args[1]))

    head = ActionHead(obs_dim=3, mf_dim=2, n_actions=2, hidden=8)
    head.register_forward_pre_hook(spy)
    obs, mf = torch.randn(2, 4, 5, 3), torch.randn(2, 5, 2)
    acts, alive = torch.randint(0, 2, (2, 4, 5)), torch.ones(2, 4, 5, dtype=torch.bool)
    head_loss(head, obs, acts, alive, mf, blind=(0, 2))
    s, target = seen[-1]
    assert torch.equal(target[..., [0, 2]], s[..., [0, 2]])
    assert torch.equal(target[..., 1], obs[:, :, 1:, 1])  # the others: the next state

    cfg = Config(**TINY, steps=4, head_blind=(0,))
    policy = fit(make_sampler(data, cfg), cfg, progress=False)
    policy.model.action_head.register_forward_pre_hook(spy)
    obs_env = np.random.default_rng(0).choice([-1.0, 1.0], size=(N, 4)).astype(np.float32)
    obs_env[:, 3] = 0.0
    policy.reset(0)
    for _ in range(3):  # a replan and steps between replans
        policy.act_batch(obs_env, np.ones(N, bool))
        s, target = seen[-1]
        assert torch.equal(target[:, 0], s[:, 0]) and not torch.equal(target, s)
    for bad in ((0, 0), (-1,), (True,), ("x",)):
        with pytest.raises(ConfigError, match="head_blind"):
            Config(head_blind=bad)
    with pytest.raises(ConfigError, match="head_blind"):
        cfg = Config(**TINY, steps=1, head_blind=(7,))
        fit(make_sampler(data, cfg), cfg, progress=False)


def test_plan_deltas_encode_changes_and_plan_states(data, tmp_path: Path) -> None:
    """plan_deltas: the obs channels of plan steps h ≥ 1 hold the standardised change from step
    h − 1 (unit spread over the data's alive pairs), decode_obs inverts encode, the planner acts
    on the summed states (plan step 0 = the anchors' obs), checkpoints round-trip, and the
    switch is refused as a load override or a non-bool."""
    from mfdiff_agents.diffuser.model import MFDiffuserModel, Stats

    cfg = Config(**TINY, steps=3, plan_deltas=True)
    sampler = make_sampler(data, cfg)
    w = sampler.sample(256)
    stats = Stats.from_windows(w)
    assert stats.delta_std is not None and len(stats.delta_std) == 4
    model = MFDiffuserModel(obs_dim=4, n_actions=2, mf_dim=sampler.mf_dim, cfg=cfg, stats=stats)
    obs, acts = torch.as_tensor(w.obs), torch.as_tensor(w.actions)
    x = model.encode(obs, acts)  # [b, k, h, d + A]
    s = model.norm_obs(obs)
    assert torch.allclose(x[..., 0, :4], s[..., 0, :])
    assert not torch.allclose(x[..., 1:, :4], s[..., 1:, :])
    assert torch.allclose(model.decode_obs(x), s, atol=1e-5)
    both = torch.as_tensor(w.alive[..., 1:] & w.alive[..., :-1])
    step = x[..., 1:, :4][both]  # [pairs, d]: standardised changes of the alive pairs
    moving = step.std(0) > 0.5  # the spins change; the constant features stay ~0
    assert moving.any()
    assert torch.allclose(step.std(0)[moving], torch.ones(int(moving.sum())), atol=0.05)
    assert torch.allclose(step.mean(0), torch.zeros(4), atol=0.05)
    plain = MFDiffuserModel(obs_dim=4, n_actions=2, mf_dim=sampler.mf_dim,
                            cfg=Config(**TINY), stats=stats)
    assert torch.equal(plain.decode_obs(plain.encode(obs, acts)), plain.norm_obs(obs))
    assert "delta_std" in model.state_dict() and "delta_std" not in plain.state_dict()

    policy = fit(sampler, cfg, progress=False)
    obs_env = np.random.default_rng(0).choice([-1.0, 1.0], size=(N, 4)).astype(np.float32)
    obs_env[:, 3] = 0.0
    policy.reset(0)
    plans = []
    orig = policy.plan

    def traced(o, m):
        p = orig(o, m)
        plans.append(p)
        return p

    policy.plan = traced
    first = policy.act_batch(obs_env, np.ones(N, bool))
    p = plans[-1]
    assert torch.equal(policy._plan_obs[:, 0], p["obs_norm"][p["anchors"]])
    assert torch.allclose(policy._plan_obs, policy.model.decode_obs(p["x0"]))
    assert not torch.allclose(policy._plan_obs[:, 1:], p["x0"][:, 1:, :4])
    policy.save(tmp_path)
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE)
    assert loaded.cfg.plan_deltas and torch.equal(loaded.model.delta_std, policy.model.delta_std)
    loaded.reset(0)
    assert np.array_equal(loaded.act_batch(obs_env, np.ones(N, bool)), first)
    loaded.reset(2**70)  # beyond torch's seed range: still a seed
    loaded.act_batch(obs_env, np.ones(N, bool))
    # best-of-M plans are valued, and a mixture of plans acted on, on the decoded states
    best = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, plan_samples=3)
    best.reset(0)
    best.act_batch(obs_env, np.ones(N, bool))
    mix = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, plan_samples=3,
                                            plan_combine="mean")
    mix.reset(0)
    extra: list[torch.Tensor] = []
    orig_mix = mix.plan

    def keep(o, m):
        p = orig_mix(o, m)
        extra.append(p["x0_extra"])
        return p

    mix.plan = keep
    mix.act_batch(obs_env, np.ones(N, bool))
    assert torch.allclose(mix._extra_obs, mix.model.decode_obs(extra[-1]))
    assert torch.equal(mix._extra_obs[:, :, 0], mix._plan_obs[None, :, 0].expand_as(
        mix._extra_obs[:, :, 0]))  # every plan starts from the same anchors
    with pytest.raises(ConfigError, match="plan_deltas"):
        MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, plan_deltas=False)
    with pytest.raises(ConfigError, match="plan_deltas"):
        Config(plan_deltas=1)
    old = Stats(**{k: v for k, v in vars(stats).items() if not k.startswith("delta")})
    with pytest.raises(ConfigError, match="plan_deltas"):
        MFDiffuserModel(obs_dim=4, n_actions=2, mf_dim=sampler.mf_dim, cfg=cfg, stats=old)


def test_pair_weights_credit_the_reward_to_go() -> None:
    """head_beta's weights: 1 on every valid pair without reward differences, more weight on
    the pairs before a reward (not after it), 0 on dead pairs, the mask at β = 0, no NaN."""
    from mfdiff_agents.diffuser.action_head import pair_weights

    alive = torch.ones(1, 2, 5, dtype=torch.bool)
    alive[0, 1, 4] = False  # particle 1 dies at the last step: its last pair is dead
    flat = pair_weights(torch.zeros(1, 2, 5), alive, 1.0, gamma=0.9)
    valid = (alive[..., :-1] & alive[..., 1:]).float()
    assert torch.allclose(flat, valid)
    assert torch.equal(pair_weights(torch.ones(1, 2, 5), alive, 0.0, gamma=0.9), valid)
    r = torch.zeros(1, 2, 5)
    r[0, 0, 2] = 1.0  # particle 0 is paid for its action at t = 2
    w = pair_weights(r, alive, 1.0, gamma=0.9)
    assert w[0, 1, 3] == 0 and torch.isfinite(w).all()
    assert w[0, 0, 2] > w[0, 0, 1] > w[0, 0, 0] > w[0, 0, 3]  # discounted credit, none after
    assert torch.isclose(w[0, 0, 3], w[0, 1, 0])  # after the reward: like an unpaid pair
    assert torch.isclose(w.sum(), valid.sum())  # mean 1 over the valid pairs (no clip hit)
    dead = pair_weights(r, torch.zeros(1, 2, 5, dtype=torch.bool), 1.0, gamma=0.9)
    assert torch.equal(dead, torch.zeros(1, 2, 4))


def test_reward_to_go_at_any_gamma() -> None:
    """Both paths of action_head.reward_to_go agree with the definition, including gamma = 0
    (immediate rewards, where rebasing would divide by zero) and a tiny gamma."""
    from mfdiff_agents.diffuser.action_head import reward_to_go

    r = torch.randn(3, 4, 6)
    for gamma in (0.0, 1e-9, 0.5, 0.99, 1.0):
        want = torch.stack([sum(gamma ** (u - t) * r[..., u] for u in range(t, 6))
                            for t in range(6)], -1)
        got = reward_to_go(r, gamma)
        assert torch.isfinite(got).all() and torch.allclose(got, want, atol=1e-5), gamma
    assert torch.equal(reward_to_go(r, 0.0), r)


def test_head_beta_trains_only_the_head(data) -> None:
    """head_beta > 0 reweights the head's loss only: another head, the same diffusion weights;
    bad values are rejected."""
    diff = changed_weights(data, "head_beta", 0.0, 2.0)
    assert diff and all(k.startswith("action_head.") for k in diff)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="head_beta"):
            Config(head_beta=bad)


def test_per_particle_credit_changes_training_only_through_the_weights(data) -> None:
    """beta_agent > 0 trains (same data, same noise) to other weights than 0; the head, which
    its weights do not touch, is the same."""
    diff = changed_weights(data, "beta_agent", 0.0, 2.0)
    assert diff and not any(k.startswith("action_head.") for k in diff)
    with pytest.raises(ConfigError, match="beta_agent"):
        Config(beta_agent=-1.0)


def test_checkpoint_from_before_the_head_loads_unchanged(data, tmp_path: Path) -> None:
    """config.json without action_head / p_uncond / head_hidden: no head, no null token."""
    from mfdiff_envs.ising import IsingCore

    cfg = Config(**TINY, steps=2, action_head=False, p_uncond=0.0)
    old = fit(make_sampler(data, cfg), cfg, progress=False)
    old.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    for k in ("action_head", "p_uncond", "head_hidden", "guidance_weight", "act_with",
              "head_temperature"):
        meta["config"].pop(k)
    meta.pop("config_sha256")  # as saved before the digest was recorded
    (tmp_path / "config.json").write_text(json.dumps(meta))
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE)
    assert type(loaded) is MFDiffuserPlanner and type(loaded.cfg) is Config
    assert not loaded.cfg.action_head and loaded.cfg.p_uncond == 0.0 and not loaded.uses_head
    obs, _ = IsingCore(N, max_cycles=T).reset(seed=4)
    mask = np.ones(N, bool)
    old.reset(seed=3)
    loaded.reset(seed=3)
    assert np.array_equal(old.act_batch(obs, mask), loaded.act_batch(obs, mask))
    with pytest.raises(ConfigError, match="p_uncond"):
        MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, guidance_weight=2.0)


def test_checkpoint_from_before_balanced_decoding_still_samples(trained, tmp_path: Path) -> None:
    """config.json without head_decode / head_min_p: the head decodes as it did then (i.i.d.
    sample at its saved temperature), not with today's balanced default."""
    from mfdiff_envs.ising import IsingCore

    trained.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["config"]["head_temperature"] = 1.0
    for k in ("head_decode", "head_min_p"):
        meta["config"].pop(k)
    meta.pop("config_sha256")  # as saved before the digest was recorded
    (tmp_path / "config.json").write_text(json.dumps(meta))
    old = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE)
    assert old.cfg.head_decode == "sample" and old.cfg.head_min_p == 0.0
    now = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_decode="sample")
    obs, _ = IsingCore(N, max_cycles=T).reset(seed=6)
    mask = np.ones(N, bool)
    for pol in (old, now):
        pol.reset(seed=9)
    assert all(np.array_equal(old.act_batch(obs, mask), now.act_batch(obs, mask))
               for _ in range(3))
    assert Config().head_decode == "balanced"


def test_removing_the_uniform_floor_of_two_actions_is_the_argmax(trained, tmp_path) -> None:
    """head_remove_uniform reaches the decoding (a planning field, set at load): with two
    actions the floor is the less likely one, so T = 1 decodes to the argmax."""
    from mfdiff_envs.ising import IsingCore

    trained.save(tmp_path)
    obs, _ = IsingCore(N, max_cycles=T).reset(seed=3)
    mask = np.ones(N, bool)
    acts = {}
    for name, kw in (("floor", {"head_remove_uniform": True, "head_temperature": 1.0}),
                     ("argmax", {"head_temperature": 0.0}),
                     ("t1", {"head_temperature": 1.0})):
        pol = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, **kw)
        pol.reset(seed=4)
        acts[name] = pol.act_batch(obs, mask)  # the first step: one plan, same draws
    assert np.array_equal(acts["floor"], acts["argmax"])
    assert not np.array_equal(acts["t1"], acts["argmax"])  # the test can tell them apart


def test_head_plan_dropout_trains_only_the_head(data) -> None:
    """head_plan_dropout > 0 adds the head's plan-flag channel and changes only the head."""
    diff = changed_weights(data, "head_plan_dropout", 0.0, 0.3)
    assert diff and all(k.startswith("action_head.") for k in diff)
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ConfigError, match="head_plan_dropout"):
            Config(head_plan_dropout=bad)
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="head_plan_weight"):
            Config(head_plan_dropout=0.2, head_plan_weight=bad)
    with pytest.raises(ConfigError, match="head_plan_dropout > 0"):
        Config(head_plan_weight=0.5)
    with pytest.raises(ConfigError, match="act_with"):
        Config(head_plan_dropout=0.2, head_plan_weight=0.5, act_with="particle")


def test_head_loss_withholds_the_plan_as_drawn() -> None:
    """A withheld pair reads (s, s, m, flag 0), a planned one (s, s', m, flag 1); the draw is
    one uniform per pair from the generator, and none without dropout."""
    from mfdiff_agents.diffuser.action_head import ActionHead, head_loss

    torch.manual_seed(0)
    head = ActionHead(obs_dim=3, mf_dim=2, n_actions=2, hidden=8, plan_flag=True)
    obs, mf = torch.randn(2, 4, 5, 3), torch.randn(2, 5, 2)
    acts, alive = torch.randint(0, 2, (2, 4, 5)), torch.ones(2, 4, 5, dtype=torch.bool)
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    head_loss(head, obs, acts, alive, mf, generator=g)
    assert torch.equal(g.get_state(), state)  # no draw at plan_dropout 0
    loss = head_loss(head, obs, acts, alive, mf, generator=g, plan_dropout=0.5)[0]
    g.set_state(state)
    keep = (torch.rand(2, 4, 4, 1, generator=g) >= 0.5).float()
    assert 0 < keep.sum() < keep.numel()
    s, s_next = obs[:, :, :-1], obs[:, :, 1:]
    logits = head(s, torch.where(keep.bool(), s_next, s), mf[:, None, :-1], keep)
    want = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), acts[:, :, :-1].reshape(-1))
    assert torch.allclose(loss, want)
    plain = ActionHead(obs_dim=3, mf_dim=2, n_actions=2, hidden=8)
    with pytest.raises(ValueError, match="plan_flag"):
        head_loss(plain, obs, acts, alive, mf, generator=g, plan_dropout=0.5)


def test_neighbour_targets_take_the_nearest_other_valid_agents_step() -> None:
    """target_i = s_i + (s'_j - s_j), j the nearest other agent alive at t and t+1 in the same
    window and step; a pair with no such agent keeps its own s'; p < 1 keeps its own s' where
    the generator's uniform is ≥ p, one draw per pair."""
    from mfdiff_agents.diffuser.action_head import neighbour_targets

    # one window, one step, 4 agents on a line at 0, 1, 3, 10; steps +1, +2, +3, +4
    s = torch.tensor([0.0, 1.0, 3.0, 10.0])[None, :, None, None]  # [1, 4, 1, 1]
    s_next = s + torch.tensor([1.0, 2.0, 3.0, 4.0])[None, :, None, None]
    valid = torch.ones(1, 4, 1, dtype=torch.bool)
    out = neighbour_targets(s, s_next, valid)
    # nearest of 0 is 1 (+2), of 1 is 0 (+1), of 3 is 1 (+2), of 10 is 3 (+3)
    assert torch.equal(out.flatten(), torch.tensor([2.0, 2.0, 5.0, 13.0]))
    valid[0, 1, 0] = False  # agent 1 dead at t+1: no one's neighbour (its pair is masked)
    out = neighbour_targets(s, s_next, valid)
    assert torch.equal(out.flatten(), torch.tensor([3.0, 2.0, 4.0, 13.0]))
    lone = torch.tensor([[True], [False], [False], [False]])[None]  # agent 0 has no other
    out = neighbour_targets(s, s_next, lone)
    assert torch.equal(out.flatten(), torch.tensor([1.0, 2.0, 4.0, 11.0]))
    # batched shapes, and p < 1: own target exactly where the draw is ≥ p
    torch.manual_seed(0)
    s, s_next = torch.randn(3, 6, 5, 2), torch.randn(3, 6, 5, 2)
    valid = torch.ones(3, 6, 5, dtype=torch.bool)
    full = neighbour_targets(s, s_next, valid)
    g = torch.Generator().manual_seed(1)
    half = neighbour_targets(s, s_next, valid, 0.5, generator=g)
    use = (torch.rand(3, 5, 6, generator=torch.Generator().manual_seed(1)) < 0.5).transpose(1, 2)
    assert 0 < use.sum() < use.numel()
    assert torch.equal(half, torch.where(use[..., None], full, s_next))
    assert not torch.equal(full, s_next)


def test_head_neighbour_trains_only_the_head(data) -> None:
    """head_neighbour changes the head's targets, hence only the head's weights; out of [0, 1]
    it is refused."""
    diff = changed_weights(data, "head_neighbour", 0.0, 1.0)
    assert diff and all(k.startswith("action_head.") for k in diff)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="head_neighbour"):
            Config(head_neighbour=bad)


@pytest.fixture(scope="module")
def trained_dropout(data):
    cfg = Config(**TINY, steps=60, action_head=True, head_plan_dropout=0.3)
    return fit(make_sampler(data, cfg), cfg, progress=False)


def test_plan_weight_zero_acts_without_the_plan(trained_dropout, tmp_path: Path) -> None:
    """head_plan_weight 0 = the head's plan-free argmax whatever the plan; 1 = the planned head
    alone (the plan matters); a head trained without plan dropout refuses a weight ≠ 1."""
    from mfdiff_envs.ising import IsingCore

    pol = trained_dropout
    obs, _ = IsingCore(N, max_cycles=T).reset(seed=2)
    mask = np.ones(N, bool)
    pol.cfg.head_temperature = 0.0
    try:
        acts = {}
        for w in (0.0, 1.0):
            pol.cfg.head_plan_weight = w
            acts[w] = []
            for seed in range(4):
                pol.reset(seed=seed)
                acts[w].append(pol.act_batch(obs, mask))
        with torch.no_grad():
            m = pol.model
            obs_n = pol._norm_obs(obs)
            from mfdiff_envs.core import mean_field_summary

            mf_n = m.norm_mf(torch.as_tensor(mean_field_summary(obs, mask), device=obs_n.device))
            want = m.action_head.noplan_logits(obs_n, mf_n[None]).argmax(-1).cpu().numpy()
        assert all(np.array_equal(a, want) for a in acts[0.0])
        assert any(not np.array_equal(a, acts[1.0][0]) for a in acts[1.0][1:])
    finally:
        pol.cfg.head_temperature, pol.cfg.head_plan_weight = 0.3, 1.0
    pol.save(tmp_path)
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_plan_weight=0.5)
    assert loaded.cfg.head_plan_weight == 0.5 and loaded.model.action_head.plan_flag


def test_plan_weight_refused_on_a_head_without_plan_dropout(trained, tmp_path: Path) -> None:
    trained.save(tmp_path)
    with pytest.raises(ConfigError, match="head_plan_dropout"):
        MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_plan_weight=0.5)
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_plan_weight=1.0)
    assert not loaded.model.action_head.plan_flag


def test_diffusion_steps_then_the_head_alone(data, tmp_path: Path) -> None:
    """After diffusion_steps the head trains alone: the diffusion weights (and buffers) are
    those of a run that stopped there, the head has trained on; a resume across the switch is
    the uninterrupted run (AdamW's own step count decides)."""
    def run(out: str | None, steps: int, resume: bool = False, **kw):
        cfg = Config(**TINY, steps=steps, action_head=True, **kw)
        return fit(make_sampler(data, cfg), cfg, out_dir=None if out is None else tmp_path / out,
                   resume=resume, progress=False).model.state_dict()

    short = run(None, 4)
    long = run("long", 8, diffusion_steps=4)
    head = [k for k in long if k.startswith("action_head.")]
    assert head and all(torch.equal(long[k], short[k]) for k in long if k not in head)
    assert any(not torch.equal(long[k], short[k]) for k in head)
    run("cut", 6, diffusion_steps=4)
    resumed = run("cut", 8, resume=True, diffusion_steps=4)
    assert all(torch.equal(resumed[k], long[k]) for k in long)
    with pytest.raises(ConfigError, match="diffusion_steps"):
        Config(steps=4, diffusion_steps=5)
    with pytest.raises(ConfigError, match="action_head"):
        Config(steps=4, diffusion_steps=2, action_head=False)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="diffusion_steps"):
            Config(steps=4, diffusion_steps=bad)


def test_head_own_plans_trains_the_head_on_the_models_plans(data) -> None:
    """head_own_plans: the head-only steps read s_t + the frozen model's planned displacement
    (its own samples, anchored at the window's start states) instead of s_{t+1}: the diffusion
    weights stay the head-only run's, the head ends elsewhere; share 0 is the data's targets."""
    from mfdiff_agents.data import windows_to_torch
    from mfdiff_agents.diffuser.train import MFDiffuserLearner

    def run(**kw):
        cfg = Config(**TINY, steps=6, action_head=True, diffusion_steps=4, **kw)
        return cfg, fit(make_sampler(data, cfg), cfg, progress=False).model.state_dict()

    _, base = run()
    cfg, own = run(head_own_plans=1.0)
    head = [k for k in own if k.startswith("action_head.")]
    assert all(torch.equal(own[k], base[k]) for k in own if k not in head)
    assert any(not torch.equal(own[k], base[k]) for k in head)
    # the targets themselves: anchored plans, not the data's next states; share 0 -> the data
    learner = MFDiffuserLearner(make_sampler(data, cfg), cfg, torch.device(DEVICE))
    batch = windows_to_torch(learner.sampler.sample(4), DEVICE)
    obs_n = learner.model.norm_obs(batch["obs"])
    targets = learner._own_plan_targets(batch)
    assert targets.shape == obs_n[:, :, 1:].shape and torch.isfinite(targets).all()
    assert not torch.allclose(targets, obs_n[:, :, 1:])
    learner.cfg = Config(**{**TINY, "steps": 6, "diffusion_steps": 4, "action_head": True,
                            "head_own_plans": 1e-12})
    assert torch.equal(learner._own_plan_targets(batch), obs_n[:, :, 1:])
    for bad, match in ((dict(head_own_plans=1.5), r"\[0, 1\]"),
                       (dict(head_own_plans=0.5), "diffusion_steps < steps"),
                       (dict(head_own_plans=0.5, diffusion_steps=4), "diffusion_steps < steps")):
        with pytest.raises(ConfigError, match=match):
            Config(steps=4, **bad)


def test_head_ensemble_acts_on_the_mean_of_its_members(data) -> None:
    """head_ensemble E: E heads that differ, trained only beside the diffusion model (same
    diffusion weights as one head), each clipped alone; the ensemble's log q is the log of
    the members' mean distribution, also without a plan."""
    from mfdiff_agents.diffuser.action_head import HeadEnsemble

    diff = changed_weights(data, "head_ensemble", 1, 3)
    assert diff and all(k.startswith("action_head.") for k in diff)
    cfg = Config(**TINY, steps=4, head_ensemble=3, head_plan_dropout=0.2)
    model = fit(make_sampler(data, cfg), cfg, progress=False).model
    head = model.action_head
    assert isinstance(head, HeadEnsemble) and len(model.head_parameter_groups()) == 3
    w = [m.net[0].weight for m in head.members]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    d = (w[0].shape[1] - 1 - model.mf_mean.shape[0]) // 2
    dev = model.mf_mean.device  # the GPU under MFDIFF_TEST_DEVICE=cuda
    obs, tgt = torch.randn(7, d, device=dev), torch.randn(7, d, device=dev)
    mf = torch.randn(1, model.mf_mean.shape[0], device=dev)
    with torch.no_grad():
        want = torch.stack([torch.softmax(m(obs, tgt, mf), -1) for m in head.members]).mean(0)
        assert torch.allclose(head(obs, tgt, mf).exp(), want, atol=1e-6)
        want = torch.stack([torch.softmax(m.noplan_logits(obs, mf), -1)
                            for m in head.members]).mean(0)
        assert torch.allclose(head.noplan_logits(obs, mf).exp(), want, atol=1e-6)
    for bad in (0, -2, 1.5):
        with pytest.raises(ConfigError, match="head_ensemble"):
            Config(head_ensemble=bad)


def test_head_ensemble_checkpoint_round_trip(data, tmp_path: Path) -> None:
    from mfdiff_envs.ising import IsingCore

    cfg = Config(**TINY, steps=4, head_ensemble=2)
    pol = fit(make_sampler(data, cfg), cfg, progress=False)
    pol.save(tmp_path)
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE)
    obs, _ = IsingCore(N, max_cycles=T).reset(seed=2)
    mask = np.ones(N, bool)
    out = []
    for p in (pol, loaded):
        p.reset(seed=4)
        out.append([p.act_batch(obs, mask) for _ in range(3)])
    assert all(np.array_equal(a, b) for a, b in zip(*out))
    with pytest.raises(ConfigError, match="shapes"):
        MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_ensemble=1)


def test_head_value_baseline_weighs_pairs_against_their_state(data, tmp_path: Path) -> None:
    """head_value: each head gets a value baseline V(s, m, steps left) fit to the agents'
    reward-to-go; the advantage weights use reward-to-go less V (pair_weights(baseline=)); only
    the head changes, the checkpoint round-trips, and a mismatched setting is refused."""
    from mfdiff_agents.diffuser.action_head import (
        ActionHead,
        head_value_loss,
        pair_reward_to_go,
        pair_weights,
        steps_left,
    )
    from mfdiff_envs.ising import IsingCore

    nets = {}
    for on in (False, True):
        cfg = Config(**TINY, steps=4, head_beta=1.0, head_value=on)
        nets[on] = fit(make_sampler(data, cfg), cfg, progress=False)
    off, on = (nets[b].model.state_dict() for b in (False, True))
    assert not any("baseline" in k for k in off)
    assert any(k.startswith("action_head.baseline.") for k in on)
    assert all(torch.equal(off[k], on[k]) for k in off if not k.startswith("action_head."))
    assert any(not torch.equal(off[k], on[k]) for k in off if k.startswith("action_head."))
    # the weights: reward-to-go less the baseline, standardised over the valid pairs
    torch.manual_seed(0)
    rewards, alive = torch.randn(2, 3, 5), torch.ones(2, 3, 5, dtype=torch.bool)
    alive[0, 0, 3:] = False
    base = torch.randn(2, 3, 4)
    got = pair_weights(rewards, alive, 1.0, gamma=0.9, baseline=base)
    valid = (alive[..., :-1] & alive[..., 1:]).float()
    adv = pair_reward_to_go(rewards, alive, 0.9) - base
    n = valid.sum()
    mean = (adv * valid).sum() / n
    std = (((adv - mean) ** 2 * valid).sum() / n).sqrt()
    z = ((adv - mean) / std).clamp(-3, 3).masked_fill(valid == 0, float("-inf"))
    want = (torch.softmax(z.reshape(-1), 0).reshape(z.shape) * n).clamp(max=20.0) * valid
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, pair_weights(rewards, alive, 1.0, gamma=0.9))
    # the baseline's regression: inputs (s_t, m_t, (H - t) / H), masked MSE on valid pairs
    head = ActionHead(obs_dim=3, mf_dim=2, n_actions=2, hidden=8, baseline=True)
    obs, mf = torch.randn(2, 3, 5, 3), torch.randn(2, 5, 2)
    loss, v = head_value_loss(head, obs, mf, rewards, alive, gamma=0.9)
    assert v.shape == (2, 3, 4) and torch.allclose(steps_left(obs)[0, 0, :, 0],
                                                  torch.tensor([1.0, 0.8, 0.6, 0.4]))
    err = (v - pair_reward_to_go(rewards, alive, 0.9)) ** 2
    assert torch.allclose(loss, (err * valid).sum() / n)
    # round trip, and the refusals
    nets[True].save(tmp_path)
    loaded = MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE)
    obs_env, _ = IsingCore(N, max_cycles=T).reset(seed=2)
    outs = []
    for p in (nets[True], loaded):
        p.reset(seed=4)
        outs.append(p.act_batch(obs_env, np.ones(N, bool)))
    assert np.array_equal(*outs)
    with pytest.raises(ConfigError, match="shapes"):
        MFDiffuserPlanner.from_pretrained(tmp_path, device=DEVICE, head_value=False)
    with pytest.raises(ConfigError, match="head_beta > 0"):
        Config(head_value=True)
    with pytest.raises(ConfigError, match="head_value"):
        Config(head_value="yes", head_beta=1.0)
