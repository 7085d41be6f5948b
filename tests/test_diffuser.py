"""Unit tests of the MF-Diffuser blocks: denoiser, diffusion, objective, sampler, lifting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfdiff_agents.diffuser.denoiser import ParticleDenoiser
from mfdiff_agents.diffuser.diffusion import GaussianDiffusion
from mfdiff_agents.diffuser.lifting import assign_nearest_balanced, assign_ot, lift, tie_groups
from mfdiff_agents.diffuser.objective import (
    agent_weights,
    chaos_loss,
    energy_distance,
    value_weights,
)
from mfdiff_agents.diffuser.sampler import (
    capped_schedule,
    capped_stage_steps,
    coarse_to_fine_sample,
    split_anchor,
    split_groups,
    stage_sizes,
    stratified_anchors,
    validate_schedule,
)

torch.set_num_threads(1)

B, K, H, D, A, C = 2, 6, 8, 5, 3, 7  # windows, particles, horizon, obs dim, actions, cond dim


def make_denoiser(interaction: str = "mean", width: int = 16) -> ParticleDenoiser:
    torch.manual_seed(0)
    net = ParticleDenoiser(x_dim=D + A, cond_dim=C, width=width, depth=2, interaction=interaction)
    for p in net.parameters():  # zero-initialised output layers would make every test trivial
        torch.nn.init.normal_(p, std=0.1)
    return net.eval()


@pytest.mark.parametrize("interaction", ["mean", "none", "attention"])
def test_denoiser_shapes_any_k(interaction: str) -> None:
    net = make_denoiser(interaction)
    for k in (1, K, 33):
        x = torch.randn(B, k, H, D + A)
        out = net(x, torch.tensor([3, 50]), torch.randn(B, C))
        assert out.shape == (B, k, H, D + A)
        assert torch.isfinite(out).all()


def test_denoiser_bad_inputs() -> None:
    net = make_denoiser()
    with pytest.raises(ValueError, match="x:"):
        net(torch.randn(B, K, H, D), torch.zeros(B, dtype=torch.long), torch.randn(B, C))
    with pytest.raises(ValueError, match="cond"):
        net(torch.randn(B, K, H, D + A), torch.zeros(B, dtype=torch.long), torch.randn(B, C + 1))
    with pytest.raises(ValueError, match="unknown interaction"):
        ParticleDenoiser(x_dim=4, cond_dim=2, interaction="pairs")


@pytest.mark.parametrize("interaction", ["mean", "none", "attention"])
def test_denoiser_permutation_equivariant(interaction: str) -> None:
    net = make_denoiser(interaction)
    x, t, c = torch.randn(B, K, H, D + A), torch.tensor([7, 91]), torch.randn(B, C)
    perm = torch.randperm(K, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, out_p = net(x, t, c), net(x[:, perm], t, c)
    torch.testing.assert_close(out_p, out[:, perm], rtol=1e-4, atol=1e-5)


def test_mean_pool_interaction_couples_particles() -> None:
    """Changing one particle changes the others' outputs with mean-pool, never with "none"."""
    x, t, c = torch.randn(1, K, H, D + A), torch.tensor([10]), torch.randn(1, C)
    x2 = x.clone()
    x2[:, 0] += 1.0
    for interaction, coupled in (("mean", True), ("none", False)):
        net = make_denoiser(interaction)
        with torch.no_grad():
            delta = (net(x, t, c) - net(x2, t, c))[:, 1:].abs().max()
        assert (delta > 1e-4) == coupled, interaction


def test_diffusion_loss_and_weights() -> None:
    diff = GaussianDiffusion(make_denoiser(), n_timesteps=50)
    x0, c = torch.randn(B, K, H, D + A), torch.randn(B, C)
    loss = diff.loss(x0, c)
    assert loss.ndim == 0 and torch.isfinite(loss)
    g = torch.Generator().manual_seed(0)
    l_w = diff.loss(x0, c, torch.tensor([2.0, 0.0]), generator=g)
    terms = diff.training_terms(x0, c, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(l_w, terms.mse[0])  # weights [2, 0] -> mean = mse_0
    # per-particle errors: with every element scored, their mean is the window's
    assert terms.mse_particle.shape == (B, K)
    torch.testing.assert_close(terms.mse_particle.mean(1), terms.mse)
    mask = torch.ones(B, K, H, 1, dtype=torch.bool)
    mask[:, 0] = False  # particle 0 dead: not scored
    masked = diff.training_terms(x0, c, mask=mask, generator=torch.Generator().manual_seed(0))
    assert torch.all(masked.mse_particle[:, 0] == 0)
    torch.testing.assert_close(masked.mse_particle[:, 1:].mean(1), masked.mse)
    with pytest.raises(ValueError, match="weights"):
        diff.loss(x0, c, torch.ones(B + 1))
    with pytest.raises(ValueError, match="schedule"):
        GaussianDiffusion(make_denoiser(), schedule="quadratic")


def test_training_with_known_entries_gives_them_clean_and_leaves_them_unscored() -> None:
    """Config.train_inpaint: plan step 0's obs channels enter x_t as x0's values, as the
    sampler writes the anchors; the denoiser's output there is never scored."""
    seen = []

    class Spy(torch.nn.Module):  # records its input; predicts 0, or 99 at the known entries
        def forward(self, x, t, cond):
            seen.append(x.clone())
            return torch.where(known, torch.full_like(x, 99.0), torch.zeros_like(x))

    known = torch.zeros(1, 1, H, D + A, dtype=torch.bool)
    known[:, :, 0, :D] = True
    diff = GaussianDiffusion(Spy(), n_timesteps=50)
    x0, c = torch.randn(B, K, H, D + A), torch.randn(B, C)
    mask = torch.ones(B, K, H, 1, dtype=torch.bool)
    mask[1, 2] = False  # a dead particle stays unscored too
    for m in (None, mask):
        seen.clear()
        terms = diff.training_terms(x0, c, mask=m, known=known,
                                    generator=torch.Generator().manual_seed(0))
        x_t = seen[0]
        assert torch.equal(x_t[:, :, 0, :D], x0[:, :, 0, :D])  # given clean
        assert not torch.equal(x_t[:, :, 0, D:], x0[:, :, 0, D:])  # the actions noised
        assert not torch.equal(x_t[:, :, 1:], x0[:, :, 1:])
        assert torch.equal(terms.x0_pred[:, :, 0, :D], x0[:, :, 0, :D])
        # the 99s at the known entries are not scored: the same noise with ε̂ = 0 elsewhere
        noise_t = diff.training_terms(x0, c, mask=m, generator=torch.Generator().manual_seed(0))
        g = torch.Generator().manual_seed(0)
        torch.randint(0, 50, (B,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        scored = (~known).expand(B, K, H, D + A).float()
        if m is not None:
            scored = scored * m.float()
        want = (noise**2 * scored).reshape(B, -1).sum(1) / scored.reshape(B, -1).sum(1)
        torch.testing.assert_close(terms.mse, want)
        assert torch.all(terms.mse < 10) and not torch.equal(terms.mse, noise_t.mse)
    assert terms.mse_particle[1, 2] == 0


def test_sampler_deterministic_per_seed_and_inpaints() -> None:
    diff = GaussianDiffusion(make_denoiser(), n_timesteps=50)
    c = torch.randn(1, C)
    mask = torch.zeros(1, 1, H, D + A, dtype=torch.bool)
    mask[..., 0, :D] = True
    value = torch.randn(1, K, H, D + A)

    def draw(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return diff.sample((1, K, H, D + A), c, n_steps=5, generator=g, inpaint=(mask, value))

    a, b, other = draw(3), draw(3), draw(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, other)
    assert torch.equal(a[:, :, 0, :D], value[:, :, 0, :D])
    with pytest.raises(ValueError, match="n_steps"):
        diff.ddim_timesteps(0)


def test_tiny_dataset_is_overfit() -> None:
    """Training on 2 fixed windows drives the (fixed-noise) loss well below its start."""
    torch.manual_seed(0)
    net = ParticleDenoiser(x_dim=D + A, cond_dim=C, width=32, depth=2)
    diff = GaussianDiffusion(net, n_timesteps=20)
    x0 = torch.randn(B, K, H, D + A).clamp(-2, 2)
    c = torch.randn(B, C)

    def eval_loss() -> float:
        with torch.no_grad():
            return float(diff.loss(x0, c, generator=torch.Generator().manual_seed(123)))

    start = eval_loss()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(200):
        opt.zero_grad()
        diff.loss(x0.repeat(4, 1, 1, 1), c.repeat(4, 1)).backward()
        opt.step()
    assert eval_loss() < 0.3 * start


def test_value_weights_and_energy_distance() -> None:
    adv = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    assert torch.equal(value_weights(adv, 0.0), torch.ones(4))
    w = value_weights(adv, 1.0)
    assert torch.isclose(w.sum(), torch.tensor(4.0)) and torch.all(w[1:] > w[:-1])
    assert value_weights(torch.tensor([0.0, 100.0]), 1.0, w_max=1.5).max() == 1.5
    data = torch.randn(3, 16, 4, 2)
    assert torch.allclose(energy_distance(data, data), torch.zeros(3), atol=1e-3)
    collapsed = data.mean(1, keepdim=True).expand_as(data)  # all particles on the mean
    assert torch.all(energy_distance(collapsed, data) > 0.1)
    ab = torch.ones(3)
    assert chaos_loss(collapsed, data, ab) > chaos_loss(data + 0.01, data, ab)


def test_agent_weights_credit_the_particle_with_the_higher_own_reward() -> None:
    rewards = torch.zeros(2, 3, 4)
    rewards[:, 2] = 1.0  # particle 2 earns every step; 0 and 1 nothing
    rewards[1] += 5.0  # a whole window better: the window weight's job, not this one's
    alive = torch.ones(2, 3, 4, dtype=torch.bool)
    assert torch.equal(agent_weights(rewards, alive, 0.0, gamma=0.99), torch.ones(2, 3))
    w = agent_weights(rewards, alive, 1.0, gamma=0.99)
    assert w.shape == (2, 3) and torch.isclose(w.sum(), torch.tensor(6.0))
    assert torch.all(w[:, 2] > w[:, 0]) and torch.allclose(w[0], w[1])  # shift-invariant
    dead = alive.clone()
    dead[:, 2] = False  # a dead particle's rewards do not count
    assert torch.allclose(agent_weights(rewards, dead, 1.0, gamma=0.99)[0], torch.ones(3))
    assert agent_weights(rewards * 100, alive, 5.0, gamma=0.99, w_max=2.0).max() <= 2.0


def test_schedule_validation_and_stages() -> None:
    assert validate_schedule([4, 16, 64]) == (4, 16, 64)
    for bad in ([16, 8], [4, 6], [], [0, 4]):
        with pytest.raises(ValueError):
            validate_schedule(bad)
    assert stage_sizes(10, 3) == [3, 3, 4] and sum(stage_sizes(7, 2)) == 7
    with pytest.raises(ValueError, match="DDIM step"):
        stage_sizes(2, 3)
    assert validate_schedule([32, 100], dividing=False) == (32, 100)  # the planner's capped
    with pytest.raises(ValueError, match="increase"):
        validate_schedule([32, 32], dividing=False)


def test_capped_schedule_never_exceeds_the_agents() -> None:
    assert capped_schedule((32, 128, 512), 100) == (32, 100)
    assert capped_schedule((32, 128, 512), 512) == (32, 128, 512)
    assert capped_schedule((32, 128, 512), 10_000) == (32, 128, 512)
    assert capped_schedule((16, 64, 256), 16) == (16,)
    assert capped_schedule((16, 64, 256), 7) == (7,)
    assert capped_schedule((256,), 50) == (50,)
    with pytest.raises(ValueError, match="agent"):
        capped_schedule((16, 64), 0)


def counted_particles(diff: GaussianDiffusion) -> list[int]:
    """The particle count K of every denoiser call ``diff`` makes from now on (a live list)."""
    calls: list[int] = []
    orig = diff.model.forward

    def counting(x, t, c):
        calls.append(x.shape[1])
        return orig(x, t, c)

    diff.model.forward = counting  # type: ignore[method-assign]
    return calls


def test_coarse_to_fine_grows_to_kmax_and_holds_anchors() -> None:
    diff = GaussianDiffusion(make_denoiser(), n_timesteps=50)
    anchors = torch.randn(1, 16, D)
    calls = counted_particles(diff)
    g = torch.Generator().manual_seed(0)
    x0 = coarse_to_fine_sample(
        diff,
        anchor_obs=anchors,
        cond=torch.randn(1, C),
        horizon=H,
        x_dim=D + A,
        k_schedule=(2, 4, 16),
        n_steps=6,
        generator=g,
    )
    assert x0.shape == (1, 16, H, D + A)
    assert torch.equal(x0[:, :, 0, :D], anchors)
    assert calls == [2, 2, 4, 4, 16, 16]  # the particle population grows during denoising
    # a schedule whose entries do not divide (the planner's, capped at N = 11 agents): the
    # copies are spread as evenly as the sizes allow and every particle keeps its anchor
    calls.clear()
    x0 = coarse_to_fine_sample(
        diff, anchor_obs=anchors[:, :11], cond=torch.randn(1, C), horizon=H, x_dim=D + A,
        k_schedule=(4, 11), n_steps=4, generator=g,
    )
    assert x0.shape == (1, 11, H, D + A) and calls == [4, 4, 11, 11]
    assert torch.equal(x0[:, :, 0, :D], anchors[:, :11])
    with pytest.raises(ValueError, match="anchors"):
        coarse_to_fine_sample(
            diff,
            anchor_obs=anchors[:, :8],
            cond=torch.randn(1, C),
            horizon=H,
            x_dim=D + A,
            k_schedule=(2, 16),
            n_steps=4,
        )


def test_stage_steps_split_the_ddim_steps_per_level_and_merge_when_capped() -> None:
    """Config.stage_steps: the denoiser runs each level's own steps; None is the near-equal
    split bit for bit; a capped schedule's merged level gets the merged levels' sum."""
    diff = GaussianDiffusion(make_denoiser(), n_timesteps=50)
    anchors = torch.randn(1, 16, D)
    calls = counted_particles(diff)

    def sample(steps, n_steps=7, ks=(2, 4, 16)):
        calls.clear()
        return coarse_to_fine_sample(
            diff, anchor_obs=anchors[:, :ks[-1]], cond=torch.ones(1, C), horizon=H, x_dim=D + A,
            k_schedule=ks, n_steps=n_steps, generator=torch.Generator().manual_seed(3),
            stage_steps=steps)

    x_split = sample((3, 3, 1))
    assert calls == [2, 2, 2, 4, 4, 4, 16]
    assert torch.equal(x_split[:, :, 0, :D], anchors)
    assert torch.equal(sample(None), sample(tuple(stage_sizes(7, 3))))  # [2, 2, 3]
    assert calls == [2, 2, 4, 4, 16, 16, 16]
    assert not torch.equal(x_split, sample(None))
    for bad in ((3, 4), (3, 3, 2), (0, 6, 1)):
        with pytest.raises(ValueError, match="stage_steps"):
            sample(bad)
    assert capped_stage_steps((8, 8, 4), (32, 128, 512), 100) == (8, 12)
    assert capped_stage_steps((8, 8, 4), (32, 128, 512), 128) == (8, 12)
    assert capped_stage_steps((8, 8, 4), (32, 128, 512), 300) == (8, 8, 4)
    assert capped_stage_steps((8, 8, 4), (32, 128, 512), 10_000) == (8, 8, 4)
    assert capped_stage_steps((8, 8, 4), (32, 128, 512), 20) == (20,)
    assert capped_stage_steps(None, (32, 128, 512), 100) is None


def test_stratified_anchors_cover_population() -> None:
    g = torch.Generator().manual_seed(0)
    obs = torch.arange(100, dtype=torch.float32)[:, None].repeat(1, 3)  # 1-D population
    idx = stratified_anchors(obs, 10, generator=g)
    assert sorted((idx // 10).tolist()) == list(range(10))  # one anchor per decile
    small = stratified_anchors(obs[:3], 8, generator=g)  # N < K repeats agents
    assert small.shape == (8,) and set(small.tolist()) <= {0, 1, 2}


@pytest.mark.parametrize("n", [100, 1000, 5003])
def test_lifting_spreads_identical_agents_evenly(n: int) -> None:
    """Gaussian Squeeze: identical observations -> every particle gets n/K agents (±1)."""
    g = torch.Generator().manual_seed(0)
    obs, centers = torch.ones(n, 4), torch.ones(64, 4)
    for assign in (
        assign_nearest_balanced(obs, centers, generator=g),
        lift(obs, centers, generator=g),
    ):
        counts = torch.bincount(assign, minlength=64)
        assert counts.max() - counts.min() <= 1


def test_lifting_nearest_and_ot() -> None:
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pts = centers.repeat_interleave(5, 0) + 0.1 * torch.randn(15, 2, generator=g)
    expect = torch.arange(3).repeat_interleave(5)
    assert torch.equal(assign_nearest_balanced(pts, centers, generator=g), expect)
    assert torch.equal(assign_ot(pts, centers, generator=g), expect)
    # two groups of identical agents, each tied between two of four centers -> balanced per group
    c4 = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 5.0], [0.0, 5.0]])
    p = torch.cat([torch.zeros(40, 2), torch.tensor([[0.0, 5.0]]).repeat(20, 1)])
    a = assign_nearest_balanced(p, c4, generator=g)
    assert torch.bincount(a[:40], minlength=4).tolist() == [20, 20, 0, 0]
    assert torch.bincount(a[40:], minlength=4).tolist() == [0, 0, 10, 10]


def test_tie_groups_exact() -> None:
    t = torch.rand(300, 130, generator=torch.Generator().manual_seed(0)) < 0.5
    t[150:] = t[:150]
    g = tie_groups(t)
    _, ref = torch.unique(t.to(torch.uint8), dim=0, return_inverse=True)
    assert torch.equal(g[:, None] == g[None, :], ref[:, None] == ref[None, :])
    assert np.unique(g.numpy()).size == 150


@pytest.mark.parametrize("ks", [(32, 128, 512), (4, 16), (32, 100), (32, 37), (32, 128, 333),
                                (3, 7, 10), (5, 11)])
def test_every_particle_is_anchored_in_its_own_strata(ks):
    """A particle's anchor is the first final particle (stratum) descending from it, so the
    copies it splits into inherit anchors of its own strata (method.md (12)). An outside audit:
    with a capped, non-dividing schedule (Ising's (32, 128, 512) capped at N = 100 is (32,
    100)) the anchor c · K_max // k was a stratum of the neighbouring particle for 28 of 32."""
    k_max = ks[-1]
    for level in range(len(ks)):
        owner = torch.arange(k_max)  # each stratum's ancestor at this level
        for s in range(len(ks) - 1, level, -1):
            owner = split_groups(ks[s - 1], ks[s])[owner]
        anchor = split_anchor(ks, level)
        for c in range(ks[level]):
            mine = torch.nonzero(owner == c).flatten()
            assert len(mine) and int(anchor[c]) == int(mine.min()), (ks, level, c)
        if all(b % a == 0 for a, b in zip(ks, ks[1:], strict=False)):  # as before the fix
            assert torch.equal(anchor, torch.arange(ks[level]) * k_max // ks[level])
