"""MF-Diffuser's per-agent action head: an inverse-dynamics MLP g(s_i, s*_i, m) -> logits over A.

At act time agent i, lifted to particle j(i), reads its own normalised observation s_i, the
target next state s*_i = s_i + (ŝ_{j,τ+1} − ŝ_{j,τ}) (its particle's planned displacement applied
to the agent's own state) and the normalised mean field m_t:

    logits_i = g([s_i, s*_i, m_t])            one MLP call over all N agents, O(N)

Trained on the windows' consecutive pairs of the K sampled agents: (s_t, s_{t+1}, m_t) -> a_t,
cross-entropy over the steps where the agent is alive at t and t+1 (docs/method.md, "action head").

    head = ActionHead(obs_dim=d, mf_dim=m, n_actions=A, hidden=128)
    loss, acc = head_loss(head, obs_n, actions, alive, mf_n)   # obs_n: [B, K, H, d] normalised
    a = sample_actions(head(inputs), temperature=1.0, generator=g)
    a = balanced_actions(head(inputs), groups, temperature=0.5, generator=g)  # low-variance
    a = balanced_actions(remove_uniform(head(inputs)), groups, temperature=1.0, generator=g)
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mfdiff_agents.policy import refuse_nonfinite


class ActionHead(nn.Module):
    """g([s, s*, m]) -> logits [..., A]: 2 hidden SiLU layers of width ``hidden``.

    Shapes: ``obs, target: [..., d]`` (normalised), ``mf: [..., m]`` (normalised) ->
    ``[..., A]``. The same weights serve any number of agents.
    """

    def __init__(
        self, *, obs_dim: int, mf_dim: int, n_actions: int, hidden: int = 128,
        plan_flag: bool = False, baseline: bool = False,
    ) -> None:
        super().__init__()
        self.plan_flag = plan_flag
        self.net = nn.Sequential(
            nn.Linear(2 * obs_dim + mf_dim + int(plan_flag), hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, n_actions),
        )
        # Config.head_value: V(s, m, steps left) -> the agent's reward-to-go in the window, the
        # state baseline of the head's advantage weights (only built when asked, so that the
        # state dicts of earlier checkpoints stay what they were)
        self.baseline = nn.Sequential(
            nn.Linear(obs_dim + mf_dim + 1, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 1),
        ) if baseline else None

    def value(self, obs: torch.Tensor, mf: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
        """V(s, m, steps left) -> [...]: ``obs [..., d]``, ``mf [..., m]`` (broadcast),
        ``left [..., 1]`` = the steps from t to the window's end over its length."""
        assert self.baseline is not None, "this action head has no value baseline"
        mf = mf.expand(*obs.shape[:-1], mf.shape[-1])
        return self.baseline(torch.cat([obs, mf, left.to(obs.dtype)], -1)).squeeze(-1)

    def forward(
        self, obs: torch.Tensor, target: torch.Tensor, mf: torch.Tensor,
        planned: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``planned: [..., 1]`` (only with ``plan_flag``): 1 where ``target`` is a planned next
        state, 0 where it is withheld (then ``target`` = ``obs``); None = all planned."""
        mf = mf.expand(*obs.shape[:-1], mf.shape[-1])
        parts = [obs, target, mf]
        if self.plan_flag:
            if planned is None:
                planned = obs.new_ones(*obs.shape[:-1], 1)
            parts.append(planned.to(obs.dtype))
        elif planned is not None:
            raise ValueError("this action head has no plan flag (trained without plan dropout)")
        return self.net(torch.cat(parts, dim=-1))

    def noplan_logits(self, obs: torch.Tensor, mf: torch.Tensor) -> torch.Tensor:
        """g(s, s, m, planned=0): the head's action logits without a plan (needs ``plan_flag``)."""
        return self.forward(obs, obs, mf, obs.new_zeros(*obs.shape[:-1], 1))


class HeadEnsemble(nn.Module):
    """E action heads side by side (Config.head_ensemble): each its own initial weights and its
    own input-noise / plan-dropout draws while training (its own loss, its own gradient clip),
    and at act time the mean of their distributions:

        log q(a) = log (1/E) Σ_e softmax(g_e([s, s*, m]))(a)          same shapes as ActionHead

    Why: one head's decoding is a draw of its training (the same diffusion weights with another
    head stream scored 98.5 or 99.7 on Squeeze, 86.6 or 105.6 on Battle); the mean over E draws
    keeps what they agree on.
    """

    def __init__(self, n: int, **kw: Any) -> None:
        super().__init__()
        self.members = nn.ModuleList(ActionHead(**kw) for _ in range(n))
        self.plan_flag = bool(kw.get("plan_flag", False))

    @staticmethod
    def _mean(logits: list[torch.Tensor]) -> torch.Tensor:
        logp = torch.stack([torch.log_softmax(x.float(), -1) for x in logits])  # [E, ..., A]
        return torch.logsumexp(logp, 0) - math.log(len(logits))

    def forward(
        self, obs: torch.Tensor, target: torch.Tensor, mf: torch.Tensor,
        planned: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self._mean([m(obs, target, mf, planned) for m in self.members])

    def noplan_logits(self, obs: torch.Tensor, mf: torch.Tensor) -> torch.Tensor:
        """The members' plan-free logits (:meth:`ActionHead.noplan_logits`), combined as
        :meth:`forward` combines theirs."""
        return self._mean([m.noplan_logits(obs, mf) for m in self.members])


def head_members(head: ActionHead | HeadEnsemble) -> list[ActionHead]:
    """The heads that train apart: the members of an ensemble, else the head itself."""
    return list(head.members) if isinstance(head, HeadEnsemble) else [head]


def head_loss(
    head: ActionHead,
    obs_n: torch.Tensor,
    actions: torch.Tensor,
    alive: torch.Tensor,
    mf_n: torch.Tensor,
    *,
    noise: float = 0.0,
    generator: torch.Generator | None = None,
    weights: torch.Tensor | None = None,
    plan_dropout: float = 0.0,
    neighbour: float = 0.0,
    noise_shared: bool = False,
    blind: tuple[int, ...] = (),
    targets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of a_t given (s_t, s_{t+1}, m_t) on a batch of windows.

    Args:
        obs_n: [B, K, H, d] normalised observations. actions: [B, K, H]. alive: [B, K, H].
        mf_n: [B, H, m] normalised mean field.
        noise: std of Gaussian noise added to the head's three inputs (normalised units; 0 =
            none, and no random draw). At act time the head reads a *generated* next state and
            states the data may never show; where a coordinate varies in the data only by
            sampling noise (Squeeze's histogram), a head fit without noise reads the plan's
            generation error as signal (Config.head_noise).
        generator: RNG of the noise.
        weights: [B, K, H-1] weight of each pair (:func:`pair_weights`, Config.head_beta);
            None = all 1.
        plan_dropout: probability that a pair's next state is withheld (target := s_t, the
            head's plan flag 0), drawn from ``generator`` per pair; needs a head with
            ``plan_flag`` (Config.head_plan_dropout).
        neighbour: probability that a pair's target is built as the planner builds it at act
            time, s_t + (the displacement of its nearest other agent of the window), instead of
            its own s_{t+1} (:func:`neighbour_targets`, Config.head_neighbour); drawn from
            ``generator`` per pair when < 1.
        blind: observation features whose displacement the head does not read: the target
            keeps s_t's value of them (Config.head_blind).
        noise_shared: one noise draw for s_t and s_{t+1} (the target), so the displacement
            s_{t+1} − s_t reaches the head exactly (Config.head_noise_shared); False = a draw
            each, the displacement blurred by √2 × ``noise``.
        targets: [B, K, H-1, d] the head's target states in place of s_{t+1} (Config.
            head_own_plans: s_t plus the model's planned displacement); None = s_{t+1}.
            ``neighbour``, ``blind`` and ``noise`` then apply to them as to s_{t+1}.

    Returns:
        (loss, accuracy): scalars over the pairs alive at t and t+1 (a dead agent's next
        observation is zeros, not a state it moved to).
    """
    s, s_next = obs_n[:, :, :-1], obs_n[:, :, 1:]  # [B, K, H-1, d]
    if targets is not None:
        if targets.shape != s.shape:
            raise ValueError(
                f"targets must have shape {tuple(s.shape)}, got {tuple(targets.shape)}"
            )
        s_next = targets
    mf = mf_n[:, None, :-1]  # [B, 1, H-1, m], broadcast over particles
    pair_alive = alive[:, :, :-1] & alive[:, :, 1:]  # [B, K, H-1]
    if neighbour > 0:
        s_next = neighbour_targets(s, s_next, pair_alive, neighbour, generator=generator)
    if blind:
        s_next = s_next.clone()
        s_next[..., list(blind)] = s[..., list(blind)]
    if noise > 0:
        dev = generator.device if generator is not None else torch.device("cpu")

        def jitter(x: torch.Tensor) -> torch.Tensor:
            eps = torch.randn(x.shape, generator=generator, device=dev)
            return x + noise * eps.to(x.device, x.dtype)

        if noise_shared:  # one draw moves the state and its target together
            eps_s = jitter(torch.zeros_like(s))
            s, s_next, mf = s + eps_s, s_next + eps_s, jitter(mf)
        else:
            s, s_next, mf = jitter(s), jitter(s_next), jitter(mf)
    planned = None
    if head.plan_flag:
        planned = s.new_ones(*s.shape[:-1], 1)  # [B, K, H-1, 1]
        if plan_dropout > 0:
            dev = generator.device if generator is not None else torch.device("cpu")
            u = torch.rand(planned.shape, generator=generator, device=dev).to(s.device)
            planned = (u >= plan_dropout).to(s.dtype)
            s_next = torch.where(planned.bool(), s_next, s)
    elif plan_dropout > 0:
        raise ValueError("plan_dropout needs an action head built with plan_flag=True")
    mask = pair_alive.reshape(-1).float()
    w = mask if weights is None else mask * weights.reshape(-1).float()
    logits = head(s, s_next, mf, planned).reshape(-1, head.net[-1].out_features).float()
    target = actions[:, :, :-1].reshape(-1).long()
    ce = F.cross_entropy(logits, target, reduction="none")
    denom = mask.sum().clamp(min=1.0)
    acc = ((logits.argmax(-1) == target).float() * mask).sum() / denom
    return (ce * w).sum() / denom, acc


def neighbour_targets(
    s: torch.Tensor,
    s_next: torch.Tensor,
    valid: torch.Tensor,
    p: float = 1.0,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The head's training targets as the planner forms them at act time: agent i's state plus
    the displacement of *another* agent j of the same window and step, the nearest to i in
    (normalised) observation among those alive at t and t+1 — as agent i at act time gets the
    planned displacement of the particle it is lifted to, not its own next state.

        target_i = s_i + (s'_j − s_j),   j = argmin_{j ≠ i, valid} |s_i − s_j|

    ``s, s_next: [B, K, H-1, d]``, ``valid: [B, K, H-1]`` -> ``[B, K, H-1, d]``. A pair keeps its
    own s_{t+1} with probability 1 − ``p`` (one uniform per pair from ``generator``; none drawn
    at p = 1) and where its step has no other valid agent. Cost O(B H K² d).

    Why: trained on its own next state, the head learns to read the action off the transition
    (Battle: the move is the position's change) and at act time executes its particle's move
    whatever its own surroundings; with a neighbour's displacement the target is only a hint
    of where the population around it goes, and the head has to decide from its own state.
    """
    k = s.shape[1]
    x = s.transpose(1, 2)  # [B, H-1, K, d]
    step = (s_next - s).transpose(1, 2)  # [B, H-1, K, d]
    ok = valid.transpose(1, 2)  # [B, H-1, K]
    dist = torch.cdist(x.float(), x.float())  # [B, H-1, K, K]
    self_pair = torch.eye(k, dtype=torch.bool, device=s.device)
    dist = dist.masked_fill(self_pair | ~ok[:, :, None, :], float("inf"))
    best, j = dist.min(-1)  # [B, H-1, K]
    use = torch.isfinite(best)
    if p < 1.0:
        dev = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand(use.shape, generator=generator, device=dev).to(s.device)
        use = use & (u < p)
    nb_step = torch.gather(step, 2, j[..., None].expand_as(step))  # [B, H-1, K, d]
    # where, not x + step: a pair that keeps its own target keeps it bit for bit
    return torch.where(use[..., None], x + nb_step, s_next.transpose(1, 2)).transpose(1, 2)


def reward_to_go(r: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t = sum_{u >= t} gamma^(u - t) r_u along the last axis of ``r [..., H]``.

    A reversed cumsum of the rewards discounted from the window's start, rebased to t (what the
    published Battle checkpoints were trained with); where gamma^(H-1) would underflow float32
    (gamma = 0 or tiny) the rebasing divides by zero, so there the recursion
    G_t = r_t + gamma G_{t+1} runs instead (H steps, each over all windows and particles).
    """
    h = r.shape[-1]
    if gamma > 0 and gamma ** (h - 1) > 1e-30:
        disc = gamma ** torch.arange(h, device=r.device, dtype=torch.float32)  # [H]
        return torch.flip(torch.cumsum(torch.flip(r * disc, [-1]), -1), [-1]) / disc
    out = torch.empty_like(r)
    acc = torch.zeros_like(r[..., 0])
    for t in range(h - 1, -1, -1):
        acc = r[..., t] + gamma * acc
        out[..., t] = acc
    return out


def pair_weights(
    rewards: torch.Tensor, alive: torch.Tensor, beta: float, *, gamma: float, w_max: float = 20.0,
    baseline: torch.Tensor | None = None,
) -> torch.Tensor:
    """Advantage weights of the head's pairs (Config.head_beta): w = clip(n · softmax(β Â),
    max=w_max) over the n pairs alive at t and t+1, Â = the agent's own discounted reward from
    t to the window's end (``rewards[..., t]`` is paid for the action at t) minus its mean over
    those pairs, over their std, clipped to ±3: advantage-weighted regression on the head.

    Why: the head is inverse dynamics, and some transitions leave the action open (Battle: an
    agent that did not move may have attacked or idled); weighted, it resolves them toward the
    action that paid in the data rather than toward the data's frequencies.
    ``rewards, alive: [B, K, H]`` -> ``[B, K, H-1]`` (0 on dead pairs); β = 0 gives the mask.
    ``baseline [B, K, H-1]`` (Config.head_value): subtracted from the reward-to-go before the
    standardisation, so that a pair is weighed against what its own state usually earns
    (:func:`head_value_loss`) instead of against every other pair of the batch.
    """
    valid = (alive[..., :-1] & alive[..., 1:]).float()  # [B, K, H-1]
    if beta == 0.0:
        return valid
    togo = pair_reward_to_go(rewards, alive, gamma)
    if baseline is not None:
        togo = togo - baseline.detach().to(togo.dtype)
    n = valid.sum().clamp(min=1.0)
    mean = (togo * valid).sum() / n
    std = (((togo - mean) ** 2 * valid).sum() / n).sqrt().clamp(min=1e-6)
    adv = ((togo - mean) / std).clamp(-3.0, 3.0)
    logits = (beta * adv).masked_fill(valid == 0, float("-inf"))
    w = torch.softmax(logits.reshape(-1), 0).reshape(togo.shape) * n
    # where, not multiply: a batch without a valid pair has a NaN softmax
    return torch.where(valid > 0, w.clamp(max=w_max), torch.zeros_like(w))


def pair_reward_to_go(rewards: torch.Tensor, alive: torch.Tensor, gamma: float) -> torch.Tensor:
    """The agent's own discounted reward from t to the window's end, ``[B, K, H-1]`` for the
    pairs (t, t+1) of ``rewards, alive: [B, K, H]`` (what the head's advantage weighs)."""
    return reward_to_go(rewards.float() * alive.float(), gamma)[..., :-1]


def steps_left(obs: torch.Tensor) -> torch.Tensor:
    """``[..., H-1, 1]`` for the pairs of windows ``obs [..., H, d]``: (H - t) / H, the share
    of the window a pair's reward-to-go covers (the baseline's input)."""
    h = obs.shape[-2]
    left = (h - torch.arange(h - 1, device=obs.device, dtype=obs.dtype)) / h  # [H-1]
    return left[:, None].expand(*obs.shape[:-2], h - 1, 1)


def head_value_loss(
    head: ActionHead,
    obs_n: torch.Tensor,
    mf_n: torch.Tensor,
    rewards: torch.Tensor,
    alive: torch.Tensor,
    *,
    gamma: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(MSE over the valid pairs, V [B, K, H-1]) of the head's value baseline against the
    agents' reward-to-go: ``obs_n [B, K, H, d]``, ``mf_n [B, H, m]`` normalised,
    ``rewards, alive [B, K, H]`` (Config.head_value)."""
    v = head.value(obs_n[:, :, :-1], mf_n[:, None, :-1], steps_left(obs_n))  # [B, K, H-1]
    valid = (alive[..., :-1] & alive[..., 1:]).float()
    err = (v.float() - pair_reward_to_go(rewards, alive, gamma)) ** 2
    return (err * valid).sum() / valid.sum().clamp(min=1.0), v


def scaled_logits(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits [n, A] / temperature`` in float32; where that overflows (a tiny temperature:
    +inf ties in an argmax, inf − inf = NaN in a softmax, an outside audit), each row's maximum
    is subtracted first, so decoding tends to the argmax. Rows may hold -inf (min-p cuts)."""
    z = logits.float() / temperature  # bit for bit what decoding always computed
    if bool(torch.isfinite(z.amax(-1)).all()):
        return z
    z = logits.float()
    return (z - z.amax(-1, keepdim=True)) / temperature


def sample_actions(
    logits: torch.Tensor, *, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """One action per row of ``logits [n, A]``: Gumbel-max sample at ``temperature`` (0 =
    argmax). The uniforms come from ``generator`` (the planner's), so a seed fixes the draws."""
    refuse_nonfinite(logits, "the action head")
    if temperature <= 0:
        return logits.argmax(-1)
    u = torch.rand(logits.shape, generator=generator, device=generator.device).to(logits.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-12, 1.0 - 1e-7)))
    return (scaled_logits(logits, temperature) + gumbel).argmax(-1)


def largest_remainder(expected: torch.Tensor, totals: torch.Tensor) -> torch.Tensor:
    """Integer counts [G, A] with row sums ``totals [G]`` closest to ``expected [G, A]`` (whose
    rows sum to ``totals``): floor, then +1 to the largest remainders (Hamilton's method), so
    every count is within 1 of its expectation."""
    base = expected.floor()
    short = (totals - base.sum(1)).round().long()  # [G] in [0, A)
    rank = torch.argsort(torch.argsort(base - expected, dim=1), dim=1)  # 0 = largest remainder
    return (base + (rank < short[:, None]).to(base.dtype)).long()


def truncate_min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """``logits [n, A]`` with every action less likely than ``min_p`` × the row's most likely
    one removed (-inf): min-p truncation (Nguyen et al. 2024), which drops a distribution's
    low tail — here the behaviour data's random actions — and keeps its genuine modes."""
    if min_p <= 0:
        return logits
    lp = torch.log_softmax(logits.float(), dim=-1)
    cut = lp.amax(-1, keepdim=True) + math.log(min_p)
    return lp.masked_fill(lp < cut, float("-inf"))


def remove_uniform(logits: torch.Tensor) -> torch.Tensor:
    """``logits [n, A]`` -> log of each row's distribution less its largest uniform component:
    log(p - min_a p), renormalised (the least likely actions get -inf).

    Why: the behaviour data's random actions make the head learn π_b = (1 - ε) π + ε / A, a
    floor ε / A on every action. Where π leaves some action out (Squeeze's expert plays two
    levels of ten), min_a π_b = ε / A and this recovers π exactly, every mode at its own share;
    min-p truncation instead keeps or drops a minority mode by a fixed ratio to the row's top
    one, a cliff that a population whose next observation is its own action histogram can fall
    off for good (docs/method.md, (16)). A row with no spread (uniform) is returned unchanged.
    """
    lp = torch.log_softmax(logits.float(), dim=-1)
    p = lp.exp()
    q = p - p.amin(-1, keepdim=True)  # [n, A] ≥ 0
    flat = q.sum(-1, keepdim=True) <= 1e-6  # uniform to float precision: nothing to remove
    return torch.where(flat, lp, torch.log(q / q.sum(-1, keepdim=True).clamp_min(1e-30)))


def balanced_actions(
    logits: torch.Tensor,
    groups: torch.Tensor,
    *,
    temperature: float,
    generator: torch.Generator,
    min_p: float = 0.0,
) -> torch.Tensor:
    """One action per row of ``logits [n, A]``, low-variance: within each group of agents
    (``groups [n]``: agents with identical observations) the action counts are the group's
    expected counts under softmax(logits / T), rounded by largest remainder — a sample whose
    histogram has no sampling noise. Agents of a group take the slots in order of their
    expected action index (ties in random order), so in a group whose agents disagree (different
    particles) the ones leaning to higher actions get the higher slots; exact for two actions.
    ``temperature`` 0 = argmax.

    Why: when many agents share one observation (Gaussian Squeeze: the whole population), the
    argmax puts them all on one action, and an i.i.d. sample of the head's distribution adds
    histogram noise of O(1/√n) per step; this reproduces the head's (sharpened) distribution
    exactly, per step. ``min_p`` > 0 first truncates each row (:func:`truncate_min_p`).
    Cost O(n log n + n A), no Python loop over groups.
    """
    refuse_nonfinite(logits, "the action head")
    if temperature <= 0:
        return logits.argmax(-1)
    n, n_act = logits.shape
    dev = logits.device
    p = torch.softmax(scaled_logits(truncate_min_p(logits, min_p), temperature), dim=-1)  # [n, A]
    _, gid, sizes = torch.unique(groups, return_inverse=True, return_counts=True)
    n_groups = sizes.shape[0]
    expected = torch.zeros(n_groups, n_act, device=dev).index_add_(0, gid, p)  # [G, A]
    expected = expected * (sizes / expected.sum(1).clamp_min(1e-30))[:, None]  # exact row sums
    counts = largest_remainder(expected, sizes.to(expected.dtype))  # [G, A]
    # order agents by (group, expected action, random tie-break): rank within group = slot
    tie = torch.rand(n, generator=generator, device=generator.device).to(dev)
    if n_groups == n:  # every agent its own group (Battle): each takes its group's one slot;
        # the tie-breaks are drawn all the same, so the generator's later draws stay as they were
        slot = torch.zeros(n, dtype=torch.long, device=dev)
    else:
        key = (p * torch.arange(n_act, device=dev, dtype=p.dtype)).sum(1)  # [n] in [0, A-1]
        order = torch.argsort(tie)
        order = order[torch.argsort(key[order], stable=True)]
        order = order[torch.argsort(gid[order], stable=True)]
        start = torch.cumsum(sizes, 0) - sizes  # [G] first position of each group
        slot = torch.empty(n, dtype=torch.long, device=dev)
        slot[order] = torch.arange(n, device=dev) - start[gid[order]]  # [n] rank within group
    bounds = torch.cumsum(counts, 1)  # [G, A] end of each action's slots
    return (slot[:, None] >= bounds[gid]).sum(1).clamp_max(n_act - 1)
