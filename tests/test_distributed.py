"""``torchrun --nproc_per_node 2 -m mfdiff train``: gloo on CPU, two processes, rank 0 writes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("algo", ["bc", pytest.param("mfdiffuser", marks=pytest.mark.slow)])
def test_torchrun_two_processes(tmp_path, algo):
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari"), "OMP_NUM_THREADS": "1"}
    build = ("from mfdiff_envs.offline.build import build_dataset; "
             "build_dataset('squeeze', n_agents=40, tier='medium', episodes=2, "
             "env_kwargs={'max_cycles': 6}, ref_scores=(0.0, 1.0), progress=False)")
    subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True,
                   timeout=120)
    sets = ["steps=4", "horizon=4", "n_particles=8", "batch_size=4", "log_every=1",
            "device=cpu"]
    if algo == "mfdiffuser":
        sets += ["replan_every=3", "width=16", "depth=1", "n_timesteps=20", "stats_windows=32",
                 "k_schedule=4,16", "ddim_steps=4"]
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "mfdiff", "train", "--dataset", "mfdiff/squeeze-n40/medium-v0", "--algo",
           algo, "--out", str(out), "--no-progress", *[a for s in sets for a in ("--set", s)]]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["method"] == algo
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(x["step"]) for x in rows] == [1, 2, 3, 4]  # one writer: no rows from rank 1


def _rank_main(rank: int, fn, port: int, out: str) -> None:
    """``fn(rank, port, out)``, then leave without the interpreter's shutdown: after the group
    is destroyed and the results written, a rank's exit can still abort in c10d/gloo's C++
    teardown (SIGABRT, "terminate called without an active exception"), which fails the test."""
    fn(rank, port, out)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn_two_ranks(fn, out) -> None:
    """Run ``fn(rank, port, str(out))`` in 2 processes, on a free local port."""
    import socket

    import torch.multiprocessing as mp

    for attempt in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            mp.spawn(_rank_main, args=(fn, port, str(out)), nprocs=2, join=True)
            return
        except mp.ProcessRaisedException as e:  # the port was taken between close and listen
            if "EADDRINUSE" not in str(e) or attempt == 2:
                raise


def _two_rank_step(rank: int, port: int, out: str) -> None:
    """One optimiser step on rank ``rank`` of 2 (gloo), through both distributed wrappers."""
    import torch
    import torch.distributed as dist

    from mfdiff_agents import distributed

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    net = torch.nn.Linear(1, 1, bias=False)
    net.register_buffer("scale", torch.tensor([10.0 + rank]))  # a buffer each rank updates
    torch.nn.init.zeros_(net.weight)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    distributed.average_gradients_before_step(opt, 2)
    distributed.broadcast_buffers_after_step(opt, net)
    net(torch.tensor([[1.0 + rank]])).sum().backward()  # grad 1 on rank 0, 2 on rank 1
    opt.step()
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"w": net.weight.item(), "scale": net.scale.item()}, f)
    dist.destroy_process_group()


def test_ranks_average_gradients_and_share_rank0_buffers(tmp_path):
    """The gradient is the mean over ranks and every rank ends with rank 0's buffers, as DDP's
    broadcast_buffers (an outside audit found the running advantage scale drifting per rank)."""
    spawn_two_ranks(_two_rank_step, tmp_path)
    got = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert got[0] == got[1] == {"w": -1.5, "scale": 10.0}


def test_learner_reseed_gives_each_rank_its_own_noise():
    """A rank other than 0 reseeds the learner's torch generators from (seed, rank): other
    draws than rank 0's, the same for the same rank (an outside audit found every rank drawing
    identical diffusion noise)."""
    import torch

    from mfdiff_agents.training import Learner

    class TwoGenerators(Learner):
        def __init__(self) -> None:  # no sampler: only the generators matter here
            self.generator = torch.Generator().manual_seed(0)
            self.head_generator = torch.Generator().manual_seed(1)

        model = None  # type: ignore[assignment]

        def update(self, windows):  # pragma: no cover - not called
            raise NotImplementedError

    def draws(entropy):
        learner = TwoGenerators()
        if entropy is not None:
            learner.reseed(entropy)
        return [torch.rand(3, generator=g).tolist()
                for g in (learner.generator, learner.head_generator)]

    rank0, rank1, rank1_again, rank2 = draws(None), draws([0, 1, 0]), draws([0, 1, 0]), draws(
        [0, 2, 0])
    assert rank1 == rank1_again
    assert rank1 != rank0 and rank2 != rank1 and rank1[0] != rank1[1]


def _rank_whose_training_fails(rank: int, port: int, out: str) -> None:
    """Rank ``rank`` of 2 (gloo) joins the group inside ``train`` and then fails (a resume with
    nothing to resume); records whether a process group is left open behind the error."""
    import torch.distributed as dist

    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from test_action_head import ising_episodes

    from mfdiff_agents.config import ConfigError
    from mfdiff_agents.methods import get_method, make_sampler

    method = get_method("bc")
    cfg = method.config(steps=2, horizon=4, n_particles=8, batch_size=2, device="cpu")
    try:
        method.fit(make_sampler(ising_episodes(episodes=2), cfg), cfg,
                   out_dir=f"{out}/run", resume=True, progress=False)
        error = None
    except ConfigError as e:
        error = str(e)
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"error": error, "group_open": dist.is_initialized()}, f)


def test_a_failed_run_leaves_no_process_group_open(tmp_path):
    """An error after the ranks joined closes the group (without the barrier, which a rank that
    failed alone would never reach): a caller in the same process can start again."""
    spawn_two_ranks(_rank_whose_training_fails, tmp_path)
    for r in (0, 1):
        got = json.loads((tmp_path / f"rank{r}.json").read_text())
        assert "no training run to resume" in got["error"] and got["group_open"] is False


def test_ranks_on_one_gpu_are_found():
    """NCCL's error for two ranks on one GPU is "invalid usage" (seen on an H200): setup
    compares the ranks' (host, GPU uuid) first and names the ranks that share one."""
    from mfdiff_agents.distributed import shared_gpus

    assert shared_gpus([("a", "g0"), ("a", "g1"), ("b", "g0")]) == []  # same uuid, other host
    assert shared_gpus([("a", "g0"), ("a", "g1"), ("a", "g0"), ("a", "g1"), ("a", "g2")]) == [
        [0, 2], [1, 3]]


def _rank_on_a_shared_gpu(rank: int, port: int, out: str) -> None:
    """Rank ``rank`` of 2 (gloo) runs the shared-GPU check with a faked GPU: the same uuid on
    both ranks unless ``out`` ends in "distinct"."""
    import types

    import torch
    import torch.distributed as dist

    from mfdiff_agents import distributed
    from mfdiff_agents.config import ConfigError

    same = not out.endswith("distinct")
    torch.cuda.get_device_properties = lambda d: types.SimpleNamespace(  # no GPU in CI
        uuid="GPU-0" if same else f"GPU-{rank}")
    torch.cuda.device_count = lambda: 1
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        distributed._refuse_shared_gpus(distributed.Rank(rank, 2, rank), torch.device("cuda", 0))
        error = None
    except ConfigError as e:
        error = str(e)
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"error": error, "group_open": dist.is_initialized()}, f)
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.mark.parametrize("gpus", ["shared", "distinct"])
def test_two_ranks_on_one_gpu_are_refused_by_every_rank(tmp_path, gpus):
    out = tmp_path / gpus
    out.mkdir()
    spawn_two_ranks(_rank_on_a_shared_gpu, out)
    for r in (0, 1):
        got = json.loads((out / f"rank{r}.json").read_text())
        if gpus == "shared":
            assert "ranks [0, 1] share one GPU (GPU-0" in got["error"] and not got["group_open"]
        else:
            assert got == {"error": None, "group_open": True}
