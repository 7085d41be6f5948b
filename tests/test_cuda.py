"""The CUDA code paths: lifting, planning, training, checkpoints across devices, `mfdiff eval`.

Skipped where torch sees no GPU (CI). On a GPU machine, also run the training and planning
tests of the rest of the suite there: ``MFDIFF_TEST_DEVICE=cuda pytest`` (tests/conftest.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.lifting import (
    _first_max,
    balanced_capacities,
    distinct_rows,
    lift_balanced,
    round_balanced,
    sq_distances,
)
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.diffuser.train import fit
from mfdiff_agents.evaluation import evaluate
from mfdiff_agents.methods import make_sampler

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

N, T = 64, 20
ENV = ("mfdiff/Ising-v0", {"n_agents": N, "max_cycles": T})
TINY = dict(horizon=4, n_particles=16, seed=0, width=32, depth=2, n_timesteps=50, batch_size=16,
            stats_windows=256, k_schedule=(8, 32), ddim_steps=5, replan_every=2, steps=60)


def _cost(points: torch.Tensor, centers: torch.Tensor, assign: torch.Tensor) -> float:
    return float(sq_distances(points, centers).double().gather(1, assign[:, None]).sum())


@pytest.mark.parametrize("method", ["distinct", "sinkhorn"])
def test_lifting_on_cuda_is_balanced_and_as_good_as_on_cpu(method: str) -> None:
    """Same points on both devices: balanced on CUDA, its cost within 2 % of the CPU's (float
    sums reorder on the GPU; the exact route is solved on the CPU either way)."""
    n, k = 2000, 256
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(n, 8, generator=g)
    if method == "distinct":  # few distinct rows, as Ising's observations
        pts = pts[torch.randint(0, 10, (n,), generator=g)]
    ctr = torch.randn(k, 8, generator=g)
    cap = balanced_capacities(n, k, generator=torch.Generator().manual_seed(1))
    costs = {}
    for dev in ("cpu", "cuda"):
        gen = torch.Generator(device=dev).manual_seed(2)
        assign, state = lift_balanced(pts.to(dev), ctr.to(dev), generator=gen, method=method,
                                      capacities=cap.to(dev))
        assert assign.device.type == dev and state.method == method
        cnt = torch.bincount(assign.cpu(), minlength=k)
        assert torch.equal(cnt, cap.cpu().to(cnt.dtype))
        costs[dev] = _cost(pts, ctr, assign.cpu())
    assert abs(costs["cuda"] / costs["cpu"] - 1) < 0.02, costs


def test_rounding_kept_scores_equal_candidates_on_cuda() -> None:
    """The rounding's kept-score search breaks exact ties through the candidates' top-4
    search of the tied rows only, where the candidates' path ran ``topk`` over every row: on
    the GPU too the two give one assignment (scores exact in float32, copied particles)."""
    dev = "cuda"
    g = torch.Generator().manual_seed(3)
    base = torch.randint(-3, 4, (48, 4), generator=g).float()
    pot0 = torch.randint(-8, 9, (48,), generator=g).float() / 4
    ctr, pot = torch.cat([base, base[:16]]).to(dev), torch.cat([pot0, pot0[:16]]).to(dev)
    rows, inv, _ = distinct_rows(torch.randint(-3, 4, (1500, 4), generator=g).float().to(dev))
    cap = balanced_capacities(1500, 64, generator=torch.Generator().manual_seed(4)).to(dev)
    out = [round_balanced(rows, ctr, inv, cap, pot, generator=torch.Generator(device=dev)
                          .manual_seed(7), dense_cells=dc, full_cells=f)
           for dc in (1 << 22, 1000) for f in (1 << 22, 0)]
    for (kept, r_kept), (cand, r_cand) in (out[:2], out[2:]):
        assert torch.equal(torch.bincount(kept, minlength=64), cap)
        assert r_kept == r_cand and torch.equal(kept, cand)


@pytest.mark.parametrize("blocks", [2, 8, 300])
def test_first_max_on_cuda_as_max_on_cpu(blocks: int) -> None:
    """The lane-wise maxima on the GPU, with TF32 matmuls allowed (a user's setting): the
    same maxima, columns and ties as ``max`` on the CPU (hit counts are small integers)."""
    g = torch.Generator().manual_seed(blocks)
    s = torch.randn(500, 32 * blocks, generator=g)
    s[100:200, 7] = s[100:200].amax(1)  # ties (unless column 7 held the maximum)
    s[:, torch.randperm(32 * blocks, generator=g)[:5]] = float("-inf")
    s[:3] = float("-inf")
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        best, j, tied = (t.cpu() for t in _first_max(s.cuda()))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
    ref_best, ref_j = s.max(1)
    ref_tied = ((s == ref_best[:, None]).sum(1) > 1) | torch.isinf(ref_best)
    assert torch.equal(best, ref_best) and torch.equal(tied, ref_tied)
    assert torch.equal(j[~tied], ref_j[~ref_tied])


@pytest.fixture(scope="module")
def ising_data():
    from test_action_head import ising_episodes

    return ising_episodes()


@pytest.fixture(scope="module")
def cuda_ckpt(ising_data, tmp_path_factory):
    """A tiny planner trained on the GPU (bf16 autocast), saved."""
    cfg = Config(**TINY, device="cuda", action_head=True)
    pol = fit(make_sampler(ising_data, cfg), cfg, progress=False)
    assert next(pol.model.parameters()).device.type == "cuda"
    out = tmp_path_factory.mktemp("cuda_ckpt")
    pol.save(out)
    return out


def test_training_on_cuda_gives_finite_weights(cuda_ckpt) -> None:
    from safetensors.torch import load_file

    weights = load_file(str(cuda_ckpt / "model.safetensors"))
    assert weights and all(torch.isfinite(w.float()).all() for w in weights.values())
    assert all(w.device.type == "cpu" for w in weights.values())


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_cuda_checkpoint_plans_on_either_device(cuda_ckpt, device: str) -> None:
    """A checkpoint trained on the GPU loads and acts on the GPU and on the CPU, with valid
    actions through several replans, both liftings."""
    from mfdiff_envs.ising import IsingCore

    core = IsingCore(N, max_cycles=T)
    for lifting in ("balanced", "frozen"):
        pol = MFDiffuserPlanner.from_pretrained(cuda_ckpt, device=device, lifting=lifting)
        obs, _ = core.reset(seed=0)
        pol.reset(seed=0)
        for _ in range(5):
            acts = pol.act_batch(obs, core.alive.copy())
            assert acts.shape == (N,) and acts.dtype.kind in "iu"
            assert ((acts >= 0) & (acts < core.n_actions)).all()
            obs, *_ = core.step(acts)


def test_cuda_and_cpu_planning_score_alike(cuda_ckpt) -> None:
    """The same weights evaluated on both devices: normalized scores within 15 points over 3
    seeds (bf16 autocast and GPU sampling streams change the draws, not the policy)."""
    scores = {}
    for device in ("cpu", "cuda"):
        pol = MFDiffuserPlanner.from_pretrained(cuda_ckpt, device=device)
        scores[device] = np.mean([r["normalized_score"]
                                  for r in evaluate(pol, *ENV, seeds=[0, 1, 2])])
    assert abs(scores["cuda"] - scores["cpu"]) < 15, scores


def test_mfdiff_eval_on_cuda(cuda_ckpt, tmp_path, capsys) -> None:
    from mfdiff.cli import main

    out = tmp_path / "rec.jsonl"
    rc = main(["eval", "--policy", str(cuda_ckpt), "--env", ENV[0], "--n-agents", "100",
               "--seeds", "2", "--env-kwargs", json.dumps({"max_cycles": 10}), "--device",
               "cuda", "--out", str(out),
               "--no-progress"])
    assert rc in (0, None)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 2 and all(np.isfinite(r["normalized_score"]) for r in recs)


@pytest.mark.parametrize("method", ["mfdiffuser", "indep_diffuser"])
@pytest.mark.parametrize("devices", [("cpu", "cuda"), ("cuda", "cpu")])
def test_training_resumes_on_the_other_device(ising_data, tmp_path, method, devices) -> None:
    """A run started on one device resumes on the other: the EMA's averages come back on the
    model's device and the diffuser baselines' noise generator state loads (it is a CPU
    generator on every device; a CUDA one's state is another size)."""
    from mfdiff_agents.methods import get_method

    m = get_method(method)
    tiny = {"mfdiffuser": {**TINY, "steps": 6, "ema_decay": 0.9},
            "indep_diffuser": dict(horizon=4, n_particles=16, seed=0, steps=6,
                                   batch_size=8)}[method]
    first, then = devices
    cfg = m.config(**{**tiny, "steps": 3, "ckpt_every": 3, "device": first})
    m.fit(make_sampler(ising_data, cfg), cfg, out_dir=tmp_path / "run", progress=False)
    cfg = m.config(**{**tiny, "ckpt_every": 3, "device": then})
    pol = m.fit(make_sampler(ising_data, cfg), cfg, out_dir=tmp_path / "run", resume=True,
                progress=False)
    assert all(torch.isfinite(p).all() for p in pol.model.parameters())


@pytest.mark.parametrize("acting", [
    # the shipped configs' acting (configs/mfdiffuser/): 4 plans mixed, min-p, floor removed;
    # at N = 25 the capped schedule (8, 25) does not divide: coarse-to-fine's split anchors
    dict(plan_samples=4, plan_combine="mean", head_min_p=0.1, head_remove_uniform=True,
         cap_particles=True),
    dict(head_decode="sample", head_temperature=1e-40),  # the argmax fallback of tiny T
    dict(plan_samples=2, plan_combine="best", exact_ot_max_n=4),  # Sinkhorn above 4 agents
    dict(lifting="frozen", exact_ot_max_n=4),  # the large-N frozen route
])
def test_shipped_acting_settings_on_cuda(cuda_ckpt, acting: dict) -> None:
    """The acting settings the family configs use, and the fallbacks changed since the last GPU
    run (an outside CUDA audit found them unexercised here): valid actions through replans."""
    from mfdiff_envs.ising import IsingCore

    n = 25
    core = IsingCore(n, max_cycles=T)
    pol = MFDiffuserPlanner.from_pretrained(cuda_ckpt, device="cuda", **acting)
    obs, _ = core.reset(seed=0)
    pol.reset(seed=0)
    for _ in range(5):
        acts = pol.act_batch(obs, core.alive.copy())
        assert acts.shape == (n,) and ((acts >= 0) & (acts < core.n_actions)).all()
        obs, *_ = core.step(acts)


def test_ensemble_and_exploitability_on_cuda(cuda_ckpt) -> None:
    """Members loaded as "cuda" and "cuda:0" are one device (they were refused as two), the
    ensemble acts there, and the exploitability measure runs a GPU policy with its deviators."""
    from mfdiff_agents.diffuser.ensemble import MFDiffuserEnsemble

    members = [MFDiffuserPlanner.from_pretrained(cuda_ckpt, device=d) for d in ("cuda", "cuda:0")]
    assert members[0].device == members[1].device
    ens = MFDiffuserEnsemble(members, seed=0)
    (rec,) = evaluate(ens, ENV[0], {**ENV[1], "n_agents": 100}, seeds=[0], exploitability=True)
    assert np.isfinite(rec["normalized_score"]) and np.isfinite(rec["exploitability"])
