"""Hierarchical coarse-to-fine DDIM sampling of particle plans, conditioned on the present.

Particle schedule K_0 < K_1 < … < K_S = K_max (each dividing the next, except a schedule capped at
the live agents such as (32, 100): :func:`capped_schedule`) over the reverse steps:
the ``n_steps`` DDIM steps are split into S+1 near-equal stages; stage s denoises K_s particles.
At a stage boundary (after the step to noise level t') every particle j is split into
r = K_{s+1} / K_s copies (⌊r⌋ or ⌈r⌉ where K_s does not divide K_{s+1}: :func:`split_groups`),
re-noised at the current level from the model's clean estimate:

    x_{t'}^{(j, c)} = sqrt(ᾱ_{t'}) x̂_0^{(j)} + sqrt(1 - ᾱ_{t'}) ε^{(j, c)},   c = 1 … r.

The mean field that the few early particles settle on steers the many late particles, and the
total cost Σ_steps K(step) is a fraction of K_max × n_steps.

Inpainting: the first obs of particle j is the (normalised) current obs of a real agent, its
anchor. Anchors are K_max real agents drawn by stratified sampling along the first principal
axis of the current observations (:func:`stratified_anchors`); at stage s, coarse particle j
owns strata j·r_s … (j+1)·r_s - 1 and is anchored to the first of them, so each split copy
inherits an anchor from its parent's strata.
"""

from __future__ import annotations

import torch

from mfdiff_agents.diffuser.diffusion import GaussianDiffusion, randn


def validate_schedule(
    k_schedule: tuple[int, ...] | list[int], *, dividing: bool = True
) -> tuple[int, ...]:
    """Check K_0 < … < K_max (each dividing the next unless ``dividing=False``: the planner's
    schedule capped at the live agents, :func:`capped_schedule`); return it as a tuple."""
    ks = tuple(int(k) for k in k_schedule)
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"k_schedule must be a non-empty list of positive ints, got {k_schedule}")
    for a, b in zip(ks, ks[1:]):
        if not (a < b and (b % a == 0 or not dividing)):
            raise ValueError(
                f"k_schedule must increase with each entry dividing the next, got {ks}"
                if dividing else f"k_schedule must increase, got {ks}"
            )
    return ks


def capped_schedule(k_schedule: tuple[int, ...], n: int) -> tuple[int, ...]:
    """``k_schedule`` with no more particles than the ``n`` agents: the entries below ``n``,
    then ``n`` itself, where ``n < K_max``. Why: with K > N the balanced lifting gives each
    particle capacity 0 or 1, the units at random particles (lifting.lift_balanced), so an
    agent is matched to some other agent's plan; with K = N every agent anchors one particle
    and the matching is a permutation (Config.cap_particles; docs/method.md (19))."""
    if n < 1:
        raise ValueError(f"capped_schedule needs at least one agent, got n={n}")
    if n >= k_schedule[-1]:
        return tuple(k_schedule)
    return tuple(k for k in k_schedule if k < n) + (n,)


def capped_stage_steps(stage_steps: tuple[int, ...] | None, k_schedule: tuple[int, ...],
                       n: int) -> tuple[int, ...] | None:
    """``stage_steps`` for :func:`capped_schedule` ``(k_schedule, n)``: the levels kept as they
    are, then the merged level N with the sum of the merged levels' steps (None stays None)."""
    if stage_steps is None:
        return None
    kept = len(capped_schedule(k_schedule, n)) - 1
    return tuple(stage_steps[:kept]) + (sum(stage_steps[kept:]),)


def stratified_anchors(
    obs: torch.Tensor, k: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Indices [k] of k real agents, one per stratum of the agents sorted along the first
    principal axis of ``obs: [n, d]`` (ties broken at random). n < k repeats agents.

    Stratum j holds sorted positions [j n / k, (j+1) n / k); one uniform position is drawn
    in each (systematic-stratified sampling), so anchors cover the population evenly.
    """
    n = obs.shape[0]
    if n == 0:
        raise ValueError("stratified_anchors needs at least one agent")
    gen_dev = generator.device if generator is not None else torch.device("cpu")
    x = obs.float()
    xc = x - x.mean(0, keepdim=True)
    cov = xc.T @ xc / max(n, 1)  # [d, d]
    _, vecs = torch.linalg.eigh(cov.double())
    proj = (xc.double() @ vecs[:, -1]).float()  # [n]
    perm = torch.randperm(n, generator=generator, device=gen_dev).to(obs.device)
    order = perm[torch.argsort(proj[perm], stable=True)]  # random among equal projections
    u = torch.rand(k, generator=generator, device=gen_dev).to(obs.device)
    pos = ((torch.arange(k, device=obs.device) + u) * n / k).floor().long().clamp(max=n - 1)
    return order[pos]


def stage_sizes(n_steps: int, n_stages: int) -> list[int]:
    """Split ``n_steps`` reverse steps into ``n_stages`` near-equal stages (later ones longer)."""
    if n_steps < n_stages:
        raise ValueError(
            f"need at least one DDIM step per particle stage: {n_steps} steps < {n_stages} stages"
        )
    base, extra = divmod(n_steps, n_stages)
    return [base + (1 if s >= n_stages - extra else 0) for s in range(n_stages)]


@torch.no_grad()
def split_groups(k_from: int, k_to: int, device: torch.device | None = None) -> torch.Tensor:
    """[k_to] the particle of a k_from stage that each of k_to particles is a copy of (k_to /
    k_from adjacent copies each, uneven where k_from does not divide k_to)."""
    return torch.arange(k_to, device=device) * k_from // k_to


def split_anchor(ks: tuple[int, ...], level: int,
                 device: torch.device | None = None) -> torch.Tensor:
    """[ks[level]] the anchor of each particle of stage ``level`` of the schedule ``ks``: the
    first of the K_max final particles (= strata) descending from it through the splits, so
    that the copies it splits into inherit anchors of its own strata (docs/method.md (12)).
    ``c · K_max // k`` where each count divides the next; a capped schedule such as (32, 100)
    differs, and that floor named a stratum of the neighbouring particle (an outside audit)."""
    k_max = ks[-1]
    owner = torch.arange(k_max, device=device)  # [K_max] each final particle's own index
    for s in range(len(ks) - 1, level, -1):
        owner = split_groups(ks[s - 1], ks[s], device)[owner]  # its ancestor at stage s - 1
    first = torch.full((ks[level],), k_max, dtype=torch.long, device=device)
    return first.scatter_reduce(0, owner, torch.arange(k_max, device=device), reduce="amin")


def coarse_to_fine_sample(
    diffusion: GaussianDiffusion,
    *,
    anchor_obs: torch.Tensor,
    cond: torch.Tensor,
    horizon: int,
    x_dim: int,
    k_schedule: tuple[int, ...],
    n_steps: int = 10,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    stage_steps: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Sample K_max particle plans for b populations.

    Args:
        diffusion: the trained process (its model takes ``[b, k, h, c]``).
        anchor_obs: [b, K_max, d] normalised current obs of the anchor agents (inpainted into
            channels ``:d`` of plan step 0).
        cond: [b, c_cond] condition (mean field at t0, return target).
        horizon: H plan steps. x_dim: c channels per step.
        k_schedule: (K_0, …, K_max); a single entry = no coarse-to-fine.
        n_steps: DDIM steps in total.
        stage_steps: DDIM steps at each level of ``k_schedule`` (summing to ``n_steps``);
            None: :func:`stage_sizes`' near-equal split.

    Returns:
        x0: [b, K_max, H, c] clean plans; ``x0[:, :, 0, :d] == anchor_obs`` exactly.
    """
    ks = validate_schedule(k_schedule, dividing=False)
    b, k_max, d = anchor_obs.shape
    if k_max != ks[-1]:
        raise ValueError(f"anchor_obs has {k_max} anchors but k_schedule ends at {ks[-1]}")
    device = cond.device
    ts = diffusion.ddim_timesteps(n_steps)
    if stage_steps is None:
        sizes = stage_sizes(len(ts), len(ks))
    elif len(stage_steps) != len(ks) or sum(stage_steps) != len(ts) or min(stage_steps) < 1:
        raise ValueError(f"stage_steps {list(stage_steps)} must give each of the {len(ks)} levels "
                         f"{list(ks)} at least one of the {len(ts)} DDIM steps, all of them")
    else:
        sizes = [int(x) for x in stage_steps]
    stage_of_step = [s for s, n in enumerate(sizes) for _ in range(n)]

    def inpaint_for(k: int) -> tuple[torch.Tensor, torch.Tensor]:
        first = split_anchor(ks, ks.index(k), device)  # [k] the anchor of each particle
        value = torch.zeros(b, k, horizon, x_dim, device=device)
        value[:, :, 0, :d] = anchor_obs[:, first]  # [b, k, d]
        mask = torch.zeros(1, 1, horizon, x_dim, dtype=torch.bool, device=device)
        mask[..., 0, :d] = True
        return mask, value

    k = ks[0]
    inpaint = inpaint_for(k)
    x = randn((b, k, horizon, x_dim), device=device, generator=generator)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        x = diffusion.apply_inpaint(x, inpaint)
        x, x0_hat = diffusion.ddim_step(x, t, t_prev, cond, eta=eta, generator=generator)
        s = stage_of_step[i]
        if t_prev >= 0 and stage_of_step[i + 1] != s:  # boundary: split and re-noise at t_prev
            x0_rep = x0_hat[:, split_groups(ks[s], ks[s + 1], device)]  # [b, K_next, h, c]
            ab = diffusion.alpha_bar[t_prev]
            noise = randn(tuple(x0_rep.shape), device=device, generator=generator)
            x = ab.sqrt() * x0_rep + (1 - ab).sqrt() * noise
            k = ks[s + 1]
            inpaint = inpaint_for(k)
    return diffusion.apply_inpaint(x, inpaint)
