"""Lifting benchmark: cost gap vs exact EMD and time per call of each lifting route.

    OMP_NUM_THREADS=1 python benchmarks/lifting.py --repeats 21 --out /tmp/lifting.txt

Part 1 (gap): N ∈ {100, 500, 1000, 2000}, K = 256, Gaussian d = 8 inputs (Battle-like continuous
obs), the same capacities for every route; ratio = total squared-distance cost / exact EMD's.
Part 2 (time): N = 10⁴, K = 256, min over ``--repeats`` calls (and, on a line below the table,
the median call of the continuous Sinkhorn lifts), for Ising-like (real
``IsingCore`` obs), Squeeze-like (real ``GaussianSqueezeCore`` obs) and continuous inputs.
Centers are anchors (random agents' obs) plus a little noise, like planned particle states.
"""

# ruff: noqa: B023  (every lambda below is called by timeit() in the same loop iteration)
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mfdiff_agents.allocator import tune_cpu_allocator
from mfdiff_agents.diffuser.lifting import (
    assign_nearest_balanced,
    balanced_capacities,
    emd_integral,
    lift_balanced,
    sq_distances,
)


def standardise(x: np.ndarray) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float32)
    return (t - t.mean(0)) / (t.std(0) + 1e-6)


def env_obs(kind: str, n: int) -> torch.Tensor:
    if kind == "ising":
        from mfdiff_envs.ising import IsingCore

        return standardise(IsingCore(n).reset(seed=0)[0])
    if kind == "squeeze":
        from mfdiff_envs.squeeze import GaussianSqueezeCore

        return torch.as_tensor(GaussianSqueezeCore(n).reset(seed=0)[0], dtype=torch.float32)
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(n))


def centers_for(points: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, points.shape[0], (k,), generator=g)
    return points[idx] + 0.1 * torch.randn(k, points.shape[1], generator=g)


def cost(p: torch.Tensor, c: torch.Tensor, a: torch.Tensor) -> float:
    return float(sq_distances(p, c).double().gather(1, a[:, None]).sum())


MEDIANS: dict[str, float] = {}  # ms, the median call of the timings named (``timeit(name=)``)


def timeit(fn, repeats: int, name: str | None = None) -> tuple[float, object]:
    """Min ms over ``repeats`` calls (and the last call's output); ``name``: keep the median."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    if name:
        MEDIANS[name] = float(np.median(times)) * 1e3
    return min(times) * 1e3, out


def main() -> None:
    tune_cpu_allocator()  # as `mfdiff train/eval/demo` (MFDIFF_MALLOC=default: glibc's own)
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    k = args.k
    lines: list[str] = []

    def emit(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    emit(f"## gap vs exact EMD (continuous d=8, K={k}; ratio = cost / EMD cost)")
    emit(
        "| N | EMD ms | Sinkhorn cold ratio | cold ms | Sinkhorn warm ratio | warm ms | "
        "old nearest ratio | old nearest balanced? |"
    )
    emit("|---|---|---|---|---|---|---|---|")
    for n in (100, 500, 1000, 2000):
        pts = env_obs("cont", n)
        ctr = centers_for(pts, k, 1)
        g = torch.Generator().manual_seed(0)
        cap = balanced_capacities(n, k, generator=g)
        t_emd, (plan, _) = timeit(
            lambda pts=pts, ctr=ctr, cap=cap: emd_integral(
                sq_distances(pts, ctr), torch.ones(pts.shape[0]), cap, g
            ),
            1,
        )
        ref = float((plan.double() * sq_distances(pts, ctr).double()).sum())
        t_cold, (a_c, st) = timeit(
            lambda: lift_balanced(pts, ctr, generator=g, method="sinkhorn", capacities=cap),
            args.repeats,
        )
        # next step: agents and particles moved a little; warm start from the previous state
        pts2 = pts + 0.05 * torch.randn(pts.shape, generator=g)
        ctr2 = ctr + 0.05 * torch.randn(ctr.shape, generator=g)
        plan2, _ = emd_integral(sq_distances(pts2, ctr2), torch.ones(n), cap, g)
        ref2 = float((plan2.double() * sq_distances(pts2, ctr2).double()).sum())
        t_warm, (a_w, _) = timeit(
            lambda: lift_balanced(
                pts2, ctr2, generator=g, method="sinkhorn", state=st, capacities=cap
            ),
            args.repeats,
        )
        a_n = assign_nearest_balanced(pts, ctr, generator=g)
        cnt = torch.bincount(a_n, minlength=k)
        bal = int(cnt.max()) <= -(-n // k) and int(cnt.min()) >= n // k
        emit(
            f"| {n} | {t_emd:.1f} | {cost(pts, ctr, a_c) / ref:.4f} | {t_cold:.1f} | "
            f"{cost(pts2, ctr2, a_w) / ref2:.4f} | {t_warm:.1f} | "
            f"{cost(pts, ctr, a_n) / ref:.4f} | {bal} |"
        )

    n = 10_000
    emit(f"\n## time per call, N = {n}, K = {k} (min over {args.repeats}; ms)")
    emit(
        "| input | U distinct | exact EMD (N rows) | auto route | auto ms | distinct-rows OT | "
        "Sinkhorn cold | Sinkhorn warm (10 it) | Sinkhorn warm (3 it) | old nearest |"
    )
    emit("|---|---|---|---|---|---|---|---|---|---|")
    for kind in ("ising", "squeeze", "cont"):
        pts = env_obs(kind, n)
        ctr = centers_for(pts, k, 2)
        g = torch.Generator().manual_seed(0)
        t_emd, _ = timeit(
            lambda pts=pts, ctr=ctr: emd_integral(
                sq_distances(pts, ctr),
                torch.ones(n),
                balanced_capacities(n, k, generator=g),
                g,
            ),
            1,
        )
        t_auto, (_, st_a) = timeit(lambda: lift_balanced(pts, ctr, generator=g), args.repeats)
        if st_a.n_distinct * k <= 2000 * k:
            t_dist, _ = timeit(
                lambda: lift_balanced(pts, ctr, generator=g, method="distinct"), args.repeats
            )
            dist = f"{t_dist:.1f}"
        else:
            dist = "n/a (U·K too large)"
        t_cold, (_, st) = timeit(
            lambda: lift_balanced(pts, ctr, generator=g, method="sinkhorn"), args.repeats,
            name=f"{kind}: Sinkhorn cold",
        )
        pts2 = pts + (0.05 * torch.randn(pts.shape, generator=g) if kind == "cont" else 0.0)
        ctr2 = ctr + 0.05 * torch.randn(ctr.shape, generator=g)
        t_w10, _ = timeit(
            lambda: lift_balanced(pts2, ctr2, generator=g, method="sinkhorn", state=st),
            args.repeats, name=f"{kind}: Sinkhorn warm (10 it)",
        )
        t_w3, _ = timeit(
            lambda: lift_balanced(pts2, ctr2, generator=g, method="sinkhorn", state=st, n_iter=3),
            args.repeats,
        )
        t_near, _ = timeit(lambda: assign_nearest_balanced(pts, ctr, generator=g), args.repeats)
        emit(
            f"| {kind} | {st_a.n_distinct} | {t_emd:.0f} | {st_a.method} | {t_auto:.1f} | {dist} | "
            f"{t_cold:.1f} | {t_w10:.1f} | {t_w3:.1f} | {t_near:.1f} |"
        )
    emit("\nmedian call (ms), the same calls: " + ", ".join(
        f"{k} {v:.1f}" for k, v in MEDIANS.items() if k.startswith("cont")))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
