"""Lifting a K-particle plan to N real agents (O(N·K), or exact OT at small N).

Each real agent i is matched to a particle j(i) and acts on that particle's plan: through the
action head by default (``act_with``), or by playing its planned action (``act_with="particle"``).

* ``assign_nearest_balanced``: nearest particle in normalised observation space, where a *tie*
  (distance within ``tol`` of the agent's minimum) is resolved by spreading the agents that
  share the same tie set uniformly (round robin in random order, random offset) over that set.
  When all N agents observe the same thing (Gaussian Squeeze), every particle is a tie, and the
  agents are split as evenly as possible over the K particles: the population's action
  histogram then equals the particles' action histogram. Fully vectorised: one [N, K] distance
  matrix, a group-by on tie sets, a cumulative count — no Python loop over agents.
* ``assign_ot``: exact optimal transport (POT ``ot.emd``) with integer marginals (each agent
  mass 1, each particle capacity ⌊N/K⌋ or ⌈N/K⌉, the extra units at random particles), whose
  optimal vertex is an exact balanced assignment; agents are shuffled first so ties are random.
  O(N K) memory and super-linear time: used only while N ≤ ``exact_ot_max_n``.
* ``lift_balanced`` (+ ``LiftState``): balanced, state-aware lifting meant to run at *every* env
  step at any N (project issue #12). Agents with identical observations are merged into U
  distinct rows (exact, via a hash then a check); if U·K is small, exact OT over the distinct
  rows weighted by their counts (``emd_integral``, POT on a [U, K] cost); otherwise a
  log-stabilised Sinkhorn in torch (CPU or CUDA) warm-started from the previous step's particle
  potential, rounded to an exact balanced assignment (``round_balanced``). Every route returns
  each particle ⌊N/K⌋ or ⌈N/K⌉ agents. Measured gaps and timings: docs/results/lifting.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def sq_distances(
    points: torch.Tensor, centers: torch.Tensor, *, chunk: int = 16384
) -> torch.Tensor:
    """Mean squared distance per dim ``[N, K]`` between ``points [N, d]`` and ``centers [K, d]``,
    computed in row chunks of ``chunk`` agents to bound memory."""
    d = points.shape[1]
    cn = (centers * centers).sum(1)[None, :]  # [1, K]
    out = []
    for s in range(0, points.shape[0], chunk):
        p = points[s : s + chunk]
        d2 = p @ centers.T  # [n, K]
        d2.mul_(-2).add_((p * p).sum(1, keepdim=True)).add_(cn)
        out.append(d2.clamp_(min=0).div_(d))
    return torch.cat(out, 0) if out else points.new_zeros(0, centers.shape[0])


def tie_groups(ties: torch.Tensor) -> torch.Tensor:
    """Group id [N] of each row of ``ties: [N, K] bool`` (equal rows <-> equal ids), exact.

    Rows are packed into 62-bit words; words are folded in one at a time with 1-D uniques
    (ids stay < N, so ``id · N + word_rank`` never overflows int64).
    """
    n, k = ties.shape
    bits = 62
    pad = (-k) % bits
    t = torch.nn.functional.pad(ties.long(), (0, pad)).reshape(n, -1, bits)  # [N, W, 62]
    words = (t << torch.arange(bits, device=ties.device)).sum(-1)  # [N, W] int64
    group = torch.zeros(n, dtype=torch.long, device=ties.device)
    for w in range(words.shape[1]):
        _, rank = torch.unique(words[:, w], return_inverse=True)
        _, group = torch.unique(group * n + rank, return_inverse=True)
    return group


def assign_nearest_balanced(
    points: torch.Tensor,
    centers: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    tol: float = 1e-6,
) -> torch.Tensor:
    """Particle index [N] for each agent; nearest center with balanced random tie-breaking.

    Args:
        points: [N, d] agents' normalised observations. centers: [K, d] particles' states.
        tol: distances within ``tol`` of an agent's minimum count as ties.
    """
    n, k = points.shape[0], centers.shape[0]
    dev = points.device
    gen_dev = generator.device if generator is not None else torch.device("cpu")
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=dev)
    dist = sq_distances(points.float(), centers.float())  # [N, K]
    dmin = dist.min(1, keepdim=True).values
    ties = dist <= dmin + tol  # [N, K] bool, ≥ 1 True per row
    n_ties = ties.sum(1)  # [N]
    if bool((n_ties == 1).all()):
        return dist.argmin(1)
    if int(n_ties.min()) == k:  # every particle ties for every agent (identical obs): one group
        group = torch.zeros(n, dtype=torch.long, device=dev)
    else:
        group = tie_groups(ties)  # [N] id of the agent's tie set
    n_groups = int(group.max()) + 1
    # random order inside each group -> rank r_i in [0, size_g)
    perm = torch.randperm(n, generator=generator, device=gen_dev).to(dev)
    order = perm[torch.argsort(group[perm], stable=True)]  # agents sorted by group, random within
    counts = torch.bincount(group, minlength=n_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty(n, dtype=torch.long, device=dev)
    rank[order] = torch.arange(n, device=dev) - starts[group[order]]
    offset = (torch.rand(n_groups, generator=generator, device=gen_dev).to(dev) * k).long()
    m = (rank + offset[group]) % n_ties  # which of the agent's tied particles, [N]
    if int(n_ties.min()) == k:
        return m  # the m-th tied particle is particle m
    cum = torch.cumsum(ties.long(), 1)  # [N, K]
    pick = ties & (cum == (m + 1)[:, None])
    return pick.float().argmax(1)


def assign_ot(
    points: torch.Tensor, centers: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Exact OT assignment (uniform marginals, squared-distance cost) via POT ``ot.emd``."""
    import ot

    n, k = points.shape[0], centers.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=points.device)
    gen_dev = generator.device if generator is not None else torch.device("cpu")
    perm = torch.randperm(n, generator=generator, device=gen_dev).to(points.device)
    cost = sq_distances(points[perm].float(), centers.float()).double().cpu().numpy()
    # integer marginals (1 per agent, floor(N/K) or +1 per particle): the network simplex then
    # returns an integral vertex, i.e. an exact balanced assignment, no rounding needed
    a = np.ones(n)
    b = np.full(k, float(n // k))
    extra = torch.randperm(k, generator=generator, device=gen_dev)[: n % k].cpu().numpy()
    b[extra] += 1.0
    plan = ot.emd(a, b, cost)  # [N, K]
    out = torch.empty(n, dtype=torch.long, device=points.device)
    out[perm] = torch.from_numpy(plan.argmax(1)).to(points.device)
    return out


def lift(
    points: torch.Tensor,
    centers: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    exact_ot_max_n: int = 2000,
    tol: float = 1e-6,
) -> torch.Tensor:
    """Assign N agents to K particles: exact OT when N ≤ ``exact_ot_max_n``, else
    :func:`assign_nearest_balanced` (``lifting="frozen"``'s lift at a replan).

    Exact OT is balanced (uniform marginals: each particle ⌊N/K⌋ or ⌈N/K⌉ agents). The large-N
    branch only spreads *identical* agents evenly; agents of distinct observations go to their
    nearest particle, so particle sizes are not balanced there (an outside audit: 3–39 agents a
    particle on Battle at N = 4099, K = 256; docs/results/lifting.md's table marks it
    "balanced? False").
    """
    if points.shape[0] <= exact_ot_max_n:
        return assign_ot(points, centers, generator=generator)
    return assign_nearest_balanced(points, centers, generator=generator, tol=tol)


def lift_nearest(
    points: torch.Tensor,
    centers: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Each of the N agents ``points [N, d]`` to its nearest particle of ``centers [K, d]``
    (squared Euclidean), ties broken uniformly at random from ``generator``: [N] particle ids.
    Not balanced: a particle takes every agent it is nearest to, however many (Config.lifting
    "nearest"). O(N K), in row chunks (:func:`sq_distances`).

    Why: balance spreads *identical* agents over the particles (Squeeze, where the argmin would
    put the whole population on one), but forces an agent onto a farther particle wherever the
    plan's state distribution and the population's differ; in a population of distinct
    observations each agent can read the plan of the particle most like it.
    """
    d2 = sq_distances(points, centers)  # [N, K]
    ties = d2 <= d2.amin(1, keepdim=True)  # [N, K] the exact minima of each row
    if not bool((ties.sum(1) > 1).any()):
        return ties.float().argmax(1)  # distinct observations: no draw
    dev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(d2.shape, generator=generator, device=dev).to(d2.device)
    # among the exact minima, the one with the largest uniform: a uniform tie-break
    return torch.where(ties, u, torch.full_like(u, -1.0)).argmax(1)


# ------------------------------------------------------------ balanced lifting at every env step


@dataclass
class LiftState:
    """What ``lift_balanced`` carries from one call to the next for the *same* particles.

    Attributes:
        g: [K] dual potential of the particles, in cost units (Sinkhorn's, or the exact OT dual
            on the distinct-rows route), centred to mean 0; the next call's warm start. Valid
            while the particles keep their identity (same plan, next plan step); after a replan
            (new anchors) pass ``state=None``. A ``g`` whose length is not K is ignored.
        method: route the last call took: ``"distinct"`` (exact OT over distinct rows, which is
            exact EMD when every row is distinct) or ``"sinkhorn"``.
        n_distinct: U, distinct observation rows in the last call.
        iters: Sinkhorn scaling iterations of the last call (0 on the exact route).
        marginal_err: L1 error of the Sinkhorn plan's particle marginal before rounding (mass
            units, total mass 1; 0 on the exact route).
        rounds: rounds of ``round_balanced`` in the last call (0 on the exact route).
    """

    g: torch.Tensor | None = None
    method: str = ""
    n_distinct: int = 0
    iters: int = 0
    marginal_err: float = 0.0
    rounds: int = 0


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def balanced_capacities(
    n: int, k: int, *, generator: torch.Generator | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """Capacity [K] (long) of each particle: ⌊N/K⌋, plus 1 at N mod K random particles."""
    cap = torch.full((k,), n // k, dtype=torch.long, device=device)
    extra = torch.randperm(k, generator=generator, device=_gen_device(generator))[: n % k]
    cap[extra.to(cap.device)] += 1
    return cap


_HASH_MASK = (1 << 55) - 1  # partial sums of ≤ 128 masked terms stay < 2^62: no int64 overflow


def distinct_rows(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exact distinct rows of ``points: [N, d]``: ``rows [U, d]``, ``inverse [N]``, ``counts [U]``.

    ``torch.unique(dim=0)`` sorts rows lexicographically (≈40 ms at N = 10⁴ on one core); here
    each row's float32 bit pattern is hashed to one int64 (1-D unique, ~1 ms) and the grouping is
    then *checked* row by row, so the result is exact; on a hash collision (never seen) it falls
    back to ``torch.unique(dim=0)``. ``rows`` are float32.
    """
    x = points.float().contiguous() + 0.0  # -0.0 -> +0.0 so equal values have equal bits
    n, d = x.shape
    if n == 0:
        z = torch.zeros(0, dtype=torch.long, device=x.device)
        return x, z, z
    bits = x.view(torch.int32).long() & 0xFFFFFFFF  # [N, d] in [0, 2^32)
    hgen = torch.Generator().manual_seed(0x5EED)  # fixed: the hash must not consume user RNG
    mult = (torch.randint(1, 1 << 22, (d,), generator=hgen) * 2 + 1).to(x.device)  # < 2^23
    h = torch.zeros(n, dtype=torch.long, device=x.device)
    for s in range(0, d, 128):
        part = ((bits[:, s : s + 128] * mult[s : s + 128]) & _HASH_MASK).sum(1)
        h = (h + part) & _HASH_MASK
    _, inv, counts = torch.unique(h, return_inverse=True, return_counts=True)
    u = counts.shape[0]
    first = torch.full((u,), n, dtype=torch.long, device=x.device)
    first.scatter_reduce_(0, inv, torch.arange(n, device=x.device), reduce="amin")
    rows = x.index_select(0, first)  # index_select: ~4x faster than x[first] on CPU
    if not bool((x == rows.index_select(0, inv)).all()):  # collision (or NaN): exact but slower
        rows, inv, counts = torch.unique(x, dim=0, return_inverse=True, return_counts=True)
    return rows, inv, counts


def expand_plan(
    plan: torch.Tensor, inverse: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Per-agent particle [N] from an integral plan ``plan: [U, K]`` (row u sums to the number
    of agents with ``inverse == u``): row u's agents, in random order, take row u's particles
    (each j repeated plan[u, j] times). Vectorised: no loop over agents or rows."""
    n = inverse.shape[0]
    dev = inverse.device
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=dev)
    plan = plan.to(dev)
    ui, ji = plan.nonzero(as_tuple=True)  # row-major, so sorted by u
    seq = torch.repeat_interleave(ji, plan[ui, ji])  # [N] particles grouped by row
    perm = torch.randperm(n, generator=generator, device=_gen_device(generator)).to(dev)
    order = perm[torch.argsort(inverse[perm], stable=True)]  # agents by row, random within
    out = torch.empty(n, dtype=torch.long, device=dev)
    out[order] = seq
    return out


def emd_integral(
    cost: torch.Tensor, counts: torch.Tensor, cap: torch.Tensor, generator: torch.Generator | None
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Exact OT ``[U, K]`` integer plan between integer marginals (POT network simplex) and the
    particles' dual [K]; the plan is None if the solver did not return an integral vertex."""
    import ot

    k = cost.shape[1]
    # random column order: among particles at equal cost the solver's pick is index-biased
    kperm = torch.randperm(k, generator=generator, device=_gen_device(generator)).cpu().numpy()
    m = np.ascontiguousarray(cost.double().cpu().numpy()[:, kperm])
    a = counts.double().cpu().numpy()
    b = cap.double().cpu().numpy()[kperm]
    plan_p, log = ot.emd(a, b, m, numItermax=10_000_000, log=True)
    plan = np.empty_like(plan_p)
    plan[:, kperm] = plan_p
    g = np.empty(k)
    g[kperm] = log["v"]
    g_t = torch.from_numpy(g).float()
    r = np.rint(plan)
    ok = (
        np.abs(plan - r).max() < 1e-6
        and np.array_equal(r.sum(1), a)
        and np.array_equal(r.sum(0), b[np.argsort(kperm)])
    )
    return (torch.from_numpy(r).long() if ok else None), g_t


def _neg_cost(rows: torch.Tensor, centers: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Score ``g_j - C_ij`` [n, K] up to a per-row constant (|x_i|²/d dropped: it changes no
    row's argmax or differences), C = mean squared distance per dim as in ``sq_distances``."""
    d = rows.shape[1]
    return torch.addmm(_particle_bias(centers, g)[None], rows, centers.T, alpha=2.0 / d)


def _particle_bias(centers: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``g_j - |c_j|²/d`` [K]: the part of the score that depends on the particle alone."""
    return g - (centers * centers).sum(1) / centers.shape[1]


def _first_max(
    s: torch.Tensor, lanes: int = 32, *, use_numpy: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row maxima of ``s: [n, K]``, the column of each (the first, as ``max(1)`` gives it) and
    whether it is tied (another column holds the same value; a row of -inf counts as tied):
    ``best [n], j [n], tied [n]``. ``j`` is only meaningful where ``tied`` is False. ``s``
    holds no NaN or +inf (``round_balanced`` sends such scores to the candidates' search).

    Why not ``max(1)`` and a second pass for ties: on CPU it was the rounding's largest cost.
    CPU (float32, contiguous, no gradient): numpy's ``argmax`` gives the first maximum, then one
    ``amax`` with that column set to -inf finds ties; ``s`` is written there and restored.
    Elsewhere (a GPU; ``use_numpy=False``): ``amax`` over a [n, K/lanes, lanes] view finds the
    lane holding each row's maximum, and ``1 + sign(x - best)`` (1 at a hit, 0 elsewhere) times
    a small index matrix counts the hits and locates them, exactly. Shapes the lanes cannot
    take (K not a multiple of ``lanes``, K < 2 lanes, other dtypes) use ``max`` and a second
    pass, as do non-contiguous blocks on CPU. Every path compares the same numbers as ``max``:
    the same maximum, and the same
    column wherever it is unique. Timings: docs/results/rounding.md.
    """
    n, k = s.shape
    host = (s.device.type == "cpu" and s.dtype == torch.float32 and s.is_contiguous()
            and not s.requires_grad)  # numpy cannot take a tensor that tracks gradients
    if use_numpy and host and k > 0:
        j = torch.from_numpy(s.numpy().argmax(1))  # [n] the first maximum, as max(1) gives it
        best = s.gather(1, j[:, None])  # [n, 1]
        s.scatter_(1, j[:, None], float("-inf"))
        second = s.amax(1)
        s.scatter_(1, j[:, None], best)
        best = best.squeeze(1)
        # a row of -inf: its second is -inf too, so it counts as tied, as in the lanes' search
        return best, j, second == best
    if k % lanes or k < 2 * lanes or not s.is_contiguous() or s.dtype != torch.float32:
        best, j = s.max(1)
        second = s.clone().scatter_(1, j[:, None], float("-inf")).amax(1)
        return best, j, (second == best) | ~torch.isfinite(best)
    nb = k // lanes
    view = s.view(n, nb, lanes)
    lane_max = view.amax(1)  # [n, lanes]
    best = lane_max.amax(1)  # [n]

    def where_hit(x: torch.Tensor) -> torch.Tensor:  # x [n, m] <= best: (index sum, hits) [n, 2]
        # 0/1 times integers < m, summed: exact in a float32 matmul, and also where a user lets
        # matmuls run in TF32 or bfloat16 (integers to 256 exact) while m <= 256; float64 above
        m = x.shape[1]
        dt = s.dtype if m <= 256 else torch.float64
        idx = torch.stack((torch.arange(m, device=s.device, dtype=dt),
                           torch.ones(m, device=s.device, dtype=dt)), 1)
        return (x - best[:, None]).sign_().add_(1.0).to(dt) @ idx

    lane_hits = where_hit(lane_max)
    p = lane_hits[:, 0].long().clamp_(0, lanes - 1)  # the lane holding the maximum
    lane = view.gather(2, p[:, None, None].expand(n, nb, 1)).squeeze(2)  # [n, K/lanes]
    col_hits = where_hit(lane)
    # a row of -inf: -inf - -inf is NaN, whose sign is 0, so every lane is a hit: tied
    tied = (lane_hits[:, 1] != 1) | (col_hits[:, 1] != 1)
    return best, col_hits[:, 0].long() * lanes + p, tied


def round_balanced(
    rows: torch.Tensor,
    centers: torch.Tensor,
    inverse: torch.Tensor,
    cap: torch.Tensor,
    g: torch.Tensor,
    *,
    proposal: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    n_candidates: int = 4,
    chunk: int = 1 << 16,
    dense_cells: int = 1 << 22,
    full_cells: int = 1 << 22,
    host_rounds: bool = True,
) -> tuple[torch.Tensor, int]:
    """Exact balanced assignment [N] from particle potentials ``g: [K]``; returns it and rounds.

    Agent i's score for particle j is g_j - C(x_i, c_j). Each round, every unassigned agent
    proposes to its best particle with room (``proposal [N]`` may give round 1's proposals,
    e.g. the argmax of a Sinkhorn plan); a particle with more proposers than room keeps those
    with the largest regret (score lost by falling back to the best particle that still has
    room after this round; ties random) and the others try again. Every overfull particle fills
    up, so there are at most K + 1 rounds; with good potentials few agents are contested.

    How it stays cheap (each choice measured on Battle's own calls, docs/results/rounding.md),
    all giving the same assignments as scanning all K particles every round:

    * Every distinct row's scores [U, K] are computed once where they fit in ``full_cells``
      and are finite (else each row's top ``n_candidates`` particles are kept, ``chunk`` rows
      at a time, and the full row recomputed only for agents none of whose candidates has
      room). The best particle with room is then one pass (``_first_max``), which also flags
      ties; a tied best goes to the candidates' search, whose order broke ties before.
    * From round 2, once the unassigned agents' rows fit in ``dense_cells``, their scores are
      kept and filled particles' columns dropped (on CPU the rounds then run in numpy,
      ``_dense_rounds_cpu``).

    One caveat, measured: the candidates' fallback scores few rows in a matmul of their own,
    which can round the last bit differently from the full block, so a near-tie there may go
    the other way (about 6 % of random cases with copied particles, none without; no recorded
    Battle call or episode). Scores that may not be finite take the candidates' search.

    Args:
        rows: [U, d] distinct observations; ``inverse: [N]`` row of each agent.
        centers: [K, d]; ``cap: [K]`` capacities summing to N; ``g: [K]`` finite.
        n_candidates, chunk: the candidates' search (each row's top ``n_candidates``
            particles, ``chunk`` rows at a time), used above ``full_cells`` and for ties.
        dense_cells: from round 2, the unassigned agents' score rows are kept once they fit.
        full_cells: every distinct row's scores are kept from round 1 while U·K fits
            (0: the candidates' search throughout, the code before).
        host_rounds: on CPU, the rounds on the kept dense scores run in numpy
            (``_dense_rounds_cpu``: the same assignments); False: in torch, as on a GPU.

    Raises:
        ValueError: ``cap`` is not [K], has a negative entry or does not sum to N.
        RuntimeError: more than K + 1 rounds (a safety net: no input is known to reach it).
    """
    n, k = inverse.shape[0], centers.shape[0]
    dev = inverse.device
    total, least = torch.stack((cap.sum(), cap.min())).tolist() if cap.numel() else (0, 0)
    if cap.shape != (k,) or total != n or least < 0:
        raise ValueError(f"round_balanced: capacities must be [K] = [{k}], non-negative, and "
                         f"sum to N = {n}; got shape {tuple(cap.shape)} summing to {total}, "
                         f"least {least}")
    m = min(k, n_candidates)
    # every distinct row's scores [U, K], once, where they fit and are finite: adding the
    # 0 / -inf room mask to +inf or NaN gives NaN, which max would pick (a NaN or infinite
    # input, or scores that could overflow, take the candidates' search, as before). A bound
    # from the inputs, O((U + K) d), not a pass over [U, K]:
    # |g_j - |c_j|²/d + 2 x·c_j/d| <= max|g| + max|c|² + 2 max|x| max|c|
    full = None
    if rows.numel() and k and rows.shape[0] * k <= full_cells:
        x_m, c_m, g_m = torch.stack((rows.abs().amax(), centers.abs().amax(), g.abs().amax())
                                    ).double().tolist()
        if g_m + c_m * c_m + 2.0 * x_m * c_m < 1e30:  # False for NaN and inf too
            full = _neg_cost(rows, centers, g)
    bias_k = _particle_bias(centers, g)  # [K]
    top: list[torch.Tensor] = []  # top-m scores, particles [N, m]: built on first use

    def candidates() -> tuple[torch.Tensor, torch.Tensor]:
        if not top:  # of every distinct row (rows, not agents: duplicates share them)
            parts = [_neg_cost(rows[i:i + chunk], centers, g).topk(m, dim=1) for i in
                     range(0, rows.shape[0], chunk)]
            top.append(torch.cat([p.values for p in parts])[inverse])  # descending
            top.append(torch.cat([p.indices for p in parts])[inverse])
        return top[0], top[1]

    assign = torch.full((n,), -1, dtype=torch.long, device=dev)
    rem = cap.to(dev).clone()
    sub = torch.arange(n, device=dev)
    prop = proposal
    rounds = 0
    neg_inf = float("-inf")

    def search(top_s: torch.Tensor, top_j: torch.Tensor, scores, room: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Best of the candidates ``top_s, top_j [n, m]`` with room (the first in their
        order), or of the whole row (``scores(miss)`` [n_miss, K]) where none has room."""
        s = top_s.masked_fill(~room[top_j], neg_inf)
        best, at = s.max(1)
        j = top_j.gather(1, at[:, None]).squeeze(1)
        miss = (best == neg_inf).nonzero().squeeze(1)
        if miss.numel() and bool(room.any()):
            fb, fj = scores(miss).masked_fill_(~room[None], neg_inf).max(1)
            best[miss], j[miss] = fb, fj
        return best, j

    def best_with_room(idx: torch.Tensor, room: torch.Tensor, index: bool = True,
                       spend: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Best score and particle with ``room`` for agents ``idx`` (``index=False``: the
        score only, the particle undefined): candidates first, then the full row for agents
        whose every candidate is full. ``spend``: the kept scores may be overwritten (their
        last use)."""
        if full is None:
            top_s, top_j = candidates()
            return search(top_s[idx], top_j[idx],
                          lambda miss: _neg_cost(rows[inverse[idx[miss]]], centers, g), room)
        # from the kept scores: one pass instead of the [U, K] top-m search. Where the best
        # score with room is unique it is the particle every search finds; a tie (e.g.
        # between copies of one particle) goes to the candidates' search, whose order
        # decided it before the scores were kept — the same assignments either way.
        # The mask is added, 0 where there is room (a masked_fill was 4x slower on CPU).
        at = inverse[idx]  # [n_idx] each agent's distinct row
        # many agents: search every distinct row once, then read each agent's row's result
        per_row = 2 * idx.numel() >= rows.shape[0]
        if bool(room.all()):  # round 1: no mask to add (a [U, K] pass and a copy saved)
            s = full if per_row else full.index_select(0, at)
        else:
            bias = torch.zeros(k, device=dev).masked_fill_(~room, neg_inf)
            if per_row:  # in place where they are not read again: no fresh [U, K] block
                # (float32 scores only: `+` promotes half-precision ones to float32, as before)
                s = full.add_(bias) if spend and full.dtype == bias.dtype else full + bias
            else:
                s = full.index_select(0, at).add_(bias)
        if not index:
            best = s.amax(1)
            return (best[at] if per_row else best), best.new_empty(0, dtype=torch.long)
        best, j, tied_mask = _first_max(s)
        tied = tied_mask.nonzero().squeeze(1)
        if tied.numel():
            sel = full.index_select(0, tied if per_row else at[tied])
            t_s, t_j = sel.topk(m, dim=1)
            best[tied], j[tied] = search(t_s, t_j, lambda miss: sel[miss], room)
        return (best[at], j[at]) if per_row else (best, j)

    dense: torch.Tensor | None = None  # [n_sub, k_room] scores of `sub` on particles with room
    col = torch.arange(k, device=dev)  # [k_room] the particle of each of dense's columns
    while sub.numel() > 0:
        rounds += 1
        if rounds > k + 1:  # each round fills every overfull particle: K + 1 rounds at most
            # (a safety net: no input found reaches it, but an endless loop would be silent)
            raise RuntimeError(
                f"round_balanced: {sub.numel()} agents still unassigned after {k + 1} rounds "
                "(non-finite scores or capacities that do not sum to N?)")
        if dense is None and rounds > 1 and sub.numel() * k <= dense_cells:
            col = (rem > 0).nonzero().squeeze(1)
            # all K columns, then a selection: the same numbers as the full rows elsewhere
            # (a matmul on fewer columns may round differently, and change an assignment)
            dense = _neg_cost(rows.index_select(0, inverse[sub]), centers, g).index_select(1, col)
            if (host_rounds and dense.device.type == "cpu" and dense.dtype == torch.float32
                    and not dense.requires_grad):
                rounds = _dense_rounds_cpu(dense, col, sub, rem, assign, rounds, generator)
                break
        s_prop = None  # [n_sub] each proposal's score, where the search gave it
        if prop is None:
            if dense is not None:
                # first max (max's index: argmax was 2x slower on CPU): col ascends, as over K
                s_prop, at_col = dense.max(1)
                prop = col[at_col]
            else:
                s_prop, prop = best_with_room(sub, rem > 0)
        cnt = torch.bincount(prop, minlength=k)
        over = cnt > rem
        if not bool(over.any()):
            assign[sub] = prop
            break
        contested = over[prop]  # [n_sub]
        c_idx = contested.nonzero().squeeze(1)
        pj = prop[c_idx]
        agents = sub[c_idx]
        # its proposal's score: the score the search found it by (the same numbers as
        # `alt`'s, so the regret is never negative); for given proposals (round 1's, from the
        # Sinkhorn plan) computed, the particles' part indexed
        s1 = (s_prop[c_idx] if s_prop is not None else
              bias_k[pj] + (rows.index_select(0, inverse[agents]) * centers.index_select(0, pj)
                            ).sum(1) * (2.0 / rows.shape[1]))
        still_free = (rem - cnt) > 0  # room left even if every proposal here were accepted
        if dense is not None:
            # some column stays finite: capacities left sum to the agents left, so a particle
            # overproposed to leaves another one short (masked, not selected: no host sync)
            shut = torch.zeros(col.numel(), device=dev).masked_fill_(~still_free[col], neg_inf)
            alt = dense.index_select(0, c_idx).add_(shut).amax(1)
        else:
            # where every later round works on `dense` (n·K fits), this is the kept scores'
            # last use: they are masked in place, and dropped
            last = n * k <= dense_cells
            alt, _ = best_with_room(agents, still_free, index=False, spend=last)
            if last:
                full = None
        regret = s1 - alt
        # rank contested agents within their particle: by regret (desc), ties in random order
        perm = torch.randperm(c_idx.numel(), generator=generator, device=_gen_device(generator))
        o = perm.to(dev)[torch.argsort(-regret[perm.to(dev)], stable=True)]
        o = o[torch.argsort(pj[o], stable=True)]
        per = torch.bincount(pj, minlength=k)
        starts = torch.cumsum(per, 0) - per
        rank = torch.empty_like(pj)
        rank[o] = torch.arange(o.numel(), device=dev) - starts[pj[o]]
        accepted = ~contested
        accepted[c_idx[rank < rem[pj]]] = True
        assign[sub[accepted]] = prop[accepted]
        rem -= torch.bincount(prop[accepted], minlength=k)
        if dense is not None:  # drop the agents placed and the particles this round filled
            dense = dense.index_select(0, (~accepted).nonzero().squeeze(1))
            room = (rem[col] > 0).nonzero().squeeze(1)
            if room.numel() < col.numel():
                dense, col = dense.index_select(1, room), col[room]
        sub, prop = sub[~accepted], None
    return assign, rounds


def _dense_rounds_cpu(
    dense: torch.Tensor,
    col: torch.Tensor,
    sub: torch.Tensor,
    rem: torch.Tensor,
    assign: torch.Tensor,
    rounds: int,
    generator: torch.Generator | None,
) -> int:
    """``round_balanced``'s rounds from its dense scores on, in numpy; returns the round count
    (``rounds``: the caller's count, the current round included).

    Why: from round 2 a few hundred agents are left for ~10 rounds of ~30 small operations,
    where torch's per-operation dispatch on CPU cost more than the work. The operations are the
    torch loop's on the same float32 numbers (maxima, elementwise adds and stable sorts agree
    between the libraries; no sum is computed here); the tie order stays torch's
    (``randperm``, same generator, same order of calls). Writes ``assign`` and ``rem`` in place.

    Shapes: ``dense [n_sub, k_room]`` scores of the unassigned agents ``sub [n_sub]`` on the
    particles with room ``col [k_room]``; ``rem [K]`` room left; ``assign [N]``.
    """
    k = rem.shape[0]
    gen_dev = _gen_device(generator)
    dense_np = dense.numpy()  # [n_sub, k_room]
    col_np, sub_np, rem_np, assign_np = col.numpy(), sub.numpy(), rem.numpy(), assign.numpy()
    while True:  # round number `rounds` (counted by the caller for the first one)
        at_col = dense_np.argmax(1)  # [n_sub] first maximum: col ascends, as over K
        prop = col_np[at_col]
        cnt = np.bincount(prop, minlength=k)
        over = cnt > rem_np
        if not over.any():
            assign_np[sub_np] = prop
            break
        contested = over[prop]
        c_idx = np.flatnonzero(contested)
        pj = prop[c_idx]
        s1 = dense_np[c_idx, at_col[c_idx]]  # the proposal's score, as round_balanced's
        still_free = (rem_np - cnt) > 0
        shut = np.where(still_free[col_np], np.float32(0.0), np.float32(-np.inf))
        with np.errstate(invalid="ignore", over="ignore"):  # silent on inf, as torch is
            alt = (dense_np[c_idx] + shut).max(1)
            regret = s1 - alt
        perm = torch.randperm(c_idx.size, generator=generator, device=gen_dev).cpu().numpy()
        o = perm[np.argsort(-regret[perm], kind="stable")]
        o = o[np.argsort(pj[o], kind="stable")]
        per = np.bincount(pj, minlength=k)
        starts = np.cumsum(per) - per
        rank = np.empty_like(pj)
        rank[o] = np.arange(o.size) - starts[pj[o]]
        accepted = ~contested
        accepted[c_idx[rank < rem_np[pj]]] = True
        assign_np[sub_np[accepted]] = prop[accepted]
        rem_np -= np.bincount(prop[accepted], minlength=k)
        left = ~accepted
        dense_np, sub_np = dense_np[left], sub_np[left]
        room = np.flatnonzero(rem_np[col_np] > 0)
        if room.size < col_np.size:
            dense_np, col_np = dense_np[:, room], col_np[room]
        if not sub_np.size:
            return rounds
        rounds += 1
        if rounds > k + 1:  # as in round_balanced: a safety net, never reached by any input
            raise RuntimeError(
                f"round_balanced: {sub_np.size} agents still unassigned after {k + 1} rounds "
                "(non-finite scores or capacities that do not sum to N?)")
    return rounds


def sinkhorn_potential(
    rows: torch.Tensor,
    weights: torch.Tensor,
    centers: torch.Tensor,
    b: torch.Tensor,
    *,
    eps: float,
    g0: torch.Tensor | None = None,
    n_iter: int = 10,
    tol: float = 1e-3,
    anneal: tuple[float, ...] = (),
    anneal_iter: int = 3,
    host_loop: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    """Entropic OT potential on the particles, log-stabilised Sinkhorn (torch, any device).

    Plan P_ij ∝ exp((f_i + g_j - C_ij)/ε) with row sums ``weights [U]`` (sum 1) and column sums
    ``b [K]`` (sum 1; 0 allowed). The kernel is rebuilt in the log domain from (g, ε) — the
    row potential f is implicit in a row normalisation — and then iterated in the scaling
    domain (two [U, K] mat-vecs per iteration, the cheap part), absorbing the scalings into g
    whenever they grow large. ``anneal`` gives ε values run (``anneal_iter`` iterations each)
    before the final ε, the usual ε-scaling for a cold start. Stops early once the column
    marginal's L1 error ≤ ``tol``.

    ``host_loop``: on CPU (float32, no gradient) the scaling iterations run in numpy
    (``_scale_cpu``: the same operations; its BLAS mat-vecs took a third of torch's time on
    [1024, 256]) and the kernel's exp is numpy's (~0.6 of torch's time there); False: in torch
    throughout, as on a GPU. The two agree to float32's last bits (docs/results/sinkhorn_host.md).

    Returns:
        g [K] (cost units, -inf where b = 0), W [U, K] (the plan up to row scaling: a row's
        argmax is the row's most likely particle), iterations used, final L1 marginal error.

    Why not POT's Sinkhorn (POT is a dependency, for exact OT): it takes no warm start g0 and
    rebuilds the [U, K] kernel each call; at U = 2048, K = 256, 30 iterations this runs in
    17 ms where ``ot.bregman.sinkhorn_log`` took 952 ms and ``sinkhorn_stabilized`` did not
    converge (an outside audit, 2026-12-04), and the lifting runs it at every env step.
    """
    k = centers.shape[0]
    d = rows.shape[1]
    dev = rows.device
    g = torch.zeros(k, device=dev) if g0 is None else g0.to(dev).float().clone()
    g = g.masked_fill(b <= 0, float("-inf"))
    cn = (centers * centers).sum(1) / d
    host = (host_loop and dev.type == "cpu"
            and all(t.dtype == torch.float32 and not t.requires_grad
                    for t in (rows, centers, weights, b, g)))

    def kernel(g: torch.Tensor, e: float) -> torch.Tensor:
        m = torch.addmm(((g - cn) / e)[None], rows, centers.T, alpha=2.0 / (d * e))
        # clamp before exp: results below float32's normal range are denormals, which made
        # exp_ ~10x slower on CPU (measured); e^-60 is already nothing next to a row's max, 1
        m.sub_(m.amax(1, keepdim=True)).clamp_(min=-60.0)
        if host:  # numpy's float32 exp, in place: ~0.6 of torch's time on [1024, 256]
            m_np = m.numpy()
            np.exp(m_np, out=m_np)
        else:
            m.exp_()
        return m.mul_((weights / m.sum(1))[:, None])  # rows sum to weights

    iters, err = 0, float("nan")
    stages = [(e, anneal_iter) for e in anneal] + [(eps, n_iter)]
    run = _scale_cpu if host else _scale_torch
    for si, (e, budget) in enumerate(stages):
        last = si == len(stages) - 1
        p = kernel(g, e)
        p, g, v, it, err_s = run(p, weights, b, g, e, budget, tol if last else None, kernel)
        iters += it
        g = g + e * v.log()
        if last:
            err = err_s
            p.mul_(v[None])
    return g, p, iters, err


_TINY = 1e-30  # floor of the scaling updates' denominators (a particle or row with no mass)


def _scale_torch(
    p: torch.Tensor, weights: torch.Tensor, b: torch.Tensor, g: torch.Tensor, e: float,
    budget: int, tol: float | None, kernel,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, float]:
    """One ε stage of ``sinkhorn_potential``'s scaling iterations, in torch (any device):
    ``budget`` iterations at most, stopping once the column marginal's L1 error ≤ ``tol`` (None:
    no check, an annealing stage); the scalings absorbed into g (``kernel(g, e)`` rebuilt)
    whenever they leave [1e-8, 1e8]. Returns (kernel, g, column scaling v [K], iterations,
    last error)."""
    dev = p.device
    k = p.shape[1]
    u = torch.ones(p.shape[0], device=dev)
    v = torch.ones(k, device=dev)
    err = float("nan")
    it = 0
    for step in range(budget + 1):
        col = p.T @ u
        if tol is not None:
            err = float((col * v - b).abs().sum())
            if err <= tol:
                break
        if step == budget:
            break
        v = b / col.clamp_min(_TINY)
        u = weights / (p @ v).clamp_min(_TINY)
        it += 1
        # one device-to-host sync for the three bounds (on a GPU each float() is one)
        u_max, u_min, v_max = torch.stack((u.max(), u.min(), v.max())).tolist()
        if u_max > 1e8 or u_min < 1e-8 or v_max > 1e8:
            g = g + e * v.log()  # absorb: keep the scaling-domain numbers in float range
            p = kernel(g, e)
            u.fill_(1.0)
            v = torch.ones(k, device=dev)
    return p, g, v, it, err


def _scale_cpu(
    p: torch.Tensor, weights: torch.Tensor, b: torch.Tensor, g: torch.Tensor, e: float,
    budget: int, tol: float | None, kernel,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, float]:
    """``_scale_torch`` in numpy on a CPU float32 kernel: the same operations, iteration by
    iteration, on numpy views of the same tensors (no copy of the [U, K] kernel).

    Why: each iteration is two [U, K] mat-vecs and a few [K] / [U] operations; on CPU torch's
    mat-vecs took ~3x numpy's (its BLAS's) and its per-operation dispatch more than the small
    operations' work. The mat-vecs' sums may be ordered differently by the two BLAS libraries,
    so g can differ from the torch loop's in the last bits (docs/results/sinkhorn_host.md: the
    rounded assignments and their cost on recorded Battle calls)."""
    tiny = np.float32(_TINY)
    pn = p.numpy()
    w_np, b_np = weights.numpy(), b.numpy()
    u = np.ones(pn.shape[0], dtype=np.float32)
    v = np.ones(pn.shape[1], dtype=np.float32)
    err = float("nan")
    it = 0
    for step in range(budget + 1):
        col = u @ pn  # [K] = p.T @ u
        if tol is not None:
            err = float(np.abs(col * v - b_np).sum())
            if err <= tol:
                break
        if step == budget:
            break
        v = b_np / np.maximum(col, tiny)
        u = w_np / np.maximum(pn @ v, tiny)
        it += 1
        if u.max() > 1e8 or u.min() < 1e-8 or v.max() > 1e8:
            g = g + e * torch.from_numpy(v).log()  # absorb, as in _scale_torch
            p = kernel(g, e)
            pn = p.numpy()
            u = np.ones(pn.shape[0], dtype=np.float32)
            v = np.ones(pn.shape[1], dtype=np.float32)
    return p, g, torch.from_numpy(v), it, err


def _centre(g: torch.Tensor) -> torch.Tensor:
    """g with non-finite entries set to the finite minimum, then shifted to mean 0 (potentials
    are defined up to a constant; this keeps the warm start finite when capacities change)."""
    fin = torch.isfinite(g)
    if not bool(fin.any()):
        return torch.zeros_like(g)
    g = torch.where(fin, g, g[fin].min())
    return g - g.mean()


def lift_balanced(
    points: torch.Tensor,
    centers: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    state: LiftState | None = None,
    method: str = "auto",
    exact_max_cells: int = 2000 * 256,
    eps_rel: float = 1e-2,
    n_iter: int = 10,
    n_iter_cold: int = 30,
    tol: float = 1e-3,
    anneal: bool = True,
    anneal_iter: int = 3,
    capacities: torch.Tensor | None = None,
    sinkhorn_rows: int = 2048,
    distinct: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, LiftState]:
    """Balanced, state-aware lifting: particle index [N] per agent, and the state for next call.

    Every particle receives ⌊N/K⌋ or ⌈N/K⌉ agents (the extra ones at random particles), on every
    route, so identical agents spread evenly. Agents with identical observations are merged
    into U distinct rows first (exact). Routes:

    * ``"distinct"`` (``"auto"`` when U·K ≤ ``exact_max_cells``): exact OT (POT ``ot.emd``) on
      the [U, K] cost with integer marginals (row u: its count; particle j: its capacity), whose
      integral optimal plan is split over row u's agents at random. Same optimal cost as exact
      EMD over N agents, in O(N + U·K) + the [U, K] network simplex. (``"emd"`` is an alias.)
    * ``"sinkhorn"`` (``"auto"`` otherwise): ``sinkhorn_potential`` on the [U, K] cost, uniform
      agent mass, particle mass cap/N, ε = ``eps_rel`` × mean cost; warm-started from
      ``state.g`` for ``n_iter`` iterations, or cold with ε-scaling for ``n_iter_cold``; then
      ``round_balanced`` from its potential. O(U·K) per iteration, CPU or CUDA. Above
      ``sinkhorn_rows`` distinct rows the potential is fitted on that many rows drawn with
      probability ∝ their counts (the particles' potential g is K numbers: a sample of the agents
      pins it down), and only the rounding sees every agent — O(M·K) per iteration + O(N·K).

    Args:
        points: [N, d] agents' normalised observations. centers: [K, d] particles' states.
        generator: the only randomness (splits, extra capacity, tie order): fixed generator,
            same inputs -> same assignment.
        state: the previous call's ``LiftState`` for the same particles (warm start), or None.
        capacities: [K] integer capacities summing to N, instead of ⌊N/K⌋/⌈N/K⌉ at random
            (e.g. to compare routes on the same marginals).
        sinkhorn_rows: most distinct rows the Sinkhorn potential is fitted on (0 = all).
        distinct: ``distinct_rows(points)`` where the caller has it already (the planner's
            balanced decoding groups the same rows), else computed here.
        anneal_iter: iterations per ε of a cold start's ε-scaling (before the final ε).

    Returns:
        assignment [N] (long, on ``points.device``) and the new ``LiftState``.

    Each env step between replans: ``assign, st = lift_balanced(obs_n, plan_obs[:, tau],
    generator=gen, state=st)``; at a replan pass ``state=None`` (the particles are new).
    """
    dev = points.device
    n, k = points.shape[0], centers.shape[0]
    if method not in ("auto", "distinct", "emd", "sinkhorn"):
        raise ValueError(f"unknown lifting method {method!r}")
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=dev), LiftState(g=None, method=method)
    centers = centers.to(dev).float()
    rows, inv, counts = distinct_rows(points) if distinct is None else distinct
    u = rows.shape[0]
    if capacities is None:
        cap = balanced_capacities(n, k, generator=generator, device=dev)
    else:
        cap = capacities.to(dev).long()
        if cap.shape != (k,) or int(cap.sum()) != n or bool((cap < 0).any()):
            raise ValueError("capacities must be [K], non-negative, summing to N")
    if method in ("distinct", "emd") or (method == "auto" and u * k <= exact_max_cells):
        cost = sq_distances(rows, centers)  # [U, K]
        plan, g = emd_integral(cost, counts, cap, generator)
        g = g.to(dev)
        if plan is not None:
            assign = expand_plan(plan, inv, generator=generator)
            return assign, LiftState(g=_centre(g), method="distinct", n_distinct=u)
        # non-integral answer (solver stopped early): round from its dual instead
        assign, rounds = round_balanced(rows, centers, inv, cap, _centre(g), generator=generator)
        return assign, LiftState(g=_centre(g), method="distinct", n_distinct=u, rounds=rounds)
    # Sinkhorn route
    g0 = state.g if state is not None and state.g is not None else None
    if g0 is not None and g0.shape[0] != k:
        g0 = None
    fit_rows, fit_counts = rows, counts
    if 0 < sinkhorn_rows < u:
        # Rows drawn in proportion to their counts each stand for one draw: weighted by their
        # counts as well, a heavy row counted twice (a cluster of 62.5 % of the agents fitted as
        # 86 %, transport cost 3.0 vs 1.1). Where every row has the same count (Battle: all
        # distinct) the draw is uniform and without replacement.
        equal = bool((counts == counts[0]).all())
        gen_dev = _gen_device(generator)
        if equal:  # a uniform sample without replacement: a permutation's head (multinomial
            # without replacement took ~7x longer at U = 5000)
            pick = torch.randperm(u, generator=generator, device=gen_dev)[:sinkhorn_rows]
        else:
            pick = torch.multinomial(counts.float().to(gen_dev), sinkhorn_rows,
                                     replacement=True, generator=generator)
        pick = pick.to(dev)
        fit_rows = rows[pick]
        fit_counts = counts[pick] if equal else torch.ones_like(pick)
    weights = fit_counts.float() / fit_counts.sum()
    b = cap.float() / n
    # ε relative to the mean cost, in closed form: E|x - c|² = E|x|² + E|c|² - 2 E[x]·E[c]
    d = rows.shape[1]
    mx = weights @ fit_rows
    sq_x = weights @ (fit_rows * fit_rows).sum(1)
    sq_c = (centers * centers).sum(1).mean()
    mean_cost = float((sq_x + sq_c - 2 * mx @ centers.mean(0)) / d)
    scale = max(mean_cost, 1e-12)
    eps = eps_rel * scale
    if g0 is None:
        sched: tuple[float, ...] = ()
        if anneal:  # ε-scaling: scale, scale/4, ... down to eps (exclusive)
            m = max(int(math.ceil(math.log(1.0 / eps_rel, 4.0))), 0)
            sched = tuple(scale * 4.0 ** (-i) for i in range(m) if scale * 4.0 ** (-i) > eps)
        g, w, iters, err = sinkhorn_potential(
            fit_rows, weights, centers, b, eps=eps, n_iter=n_iter_cold, tol=tol, anneal=sched,
            anneal_iter=anneal_iter,
        )
    else:
        g, w, iters, err = sinkhorn_potential(
            fit_rows, weights, centers, b, eps=eps, g0=g0, n_iter=n_iter, tol=tol
        )
    # the plan's argmax proposes round 1 when it covers every row; else round 1 scores all
    proposal = w.argmax(1)[inv] if fit_rows is rows else None
    g_fin = _centre(g)
    assign, rounds = round_balanced(
        rows, centers, inv, cap, g_fin, proposal=proposal, generator=generator
    )
    return assign, LiftState(
        g=g_fin, method="sinkhorn", n_distinct=u, iters=iters, marginal_err=err, rounds=rounds
    )
