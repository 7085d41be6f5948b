"""Lifting a K-particle plan to N real agents (O(N·K), or exact OT at small N).

Each real agent i is matched to a particle j(i) and plays that particle's planned action.

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
"""

from __future__ import annotations

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
    """Assign N agents to K particles: exact OT when N ≤ ``exact_ot_max_n``, else balanced nearest.

    Exact OT is also balanced (uniform marginals), so both branches spread identical agents
    evenly over the particles.
    """
    if points.shape[0] <= exact_ot_max_n:
        return assign_ot(points, centers, generator=generator)
    return assign_nearest_balanced(points, centers, generator=generator, tol=tol)
