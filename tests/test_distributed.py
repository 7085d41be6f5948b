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
        sets += ["width=16", "depth=1", "n_timesteps=20", "stats_windows=32", "k_schedule=4,16",
                 "ddim_steps=4"]
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "mfdiff", "train", "--dataset", "mfdiff/squeeze-n40/medium-v0", "--algo",
           algo, "--out", str(out), "--no-progress", *[a for s in sets for a in ("--set", s)]]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["method"] == algo
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(x["step"]) for x in rows] == [1, 2, 3, 4]  # one writer: no rows from rank 1
