"""Time one act_batch of the diffuser baselines vs N (see baseline_latency.md).

Usage: OMP_NUM_THREADS=1 python benchmarks/baseline_latency.py 64,256,1024,2048,4096 4096
(first list: with the default max_agents guard; second list: guard off). Prints JSON lines.
"""

import dataclasses
import json
import resource
import sys
import time

import numpy as np
import torch

from mfdiff_agents.baselines.diffuser_base import TrajectoryDiffuser
from mfdiff_agents.baselines.independent_diffuser import Config as IConfig
from mfdiff_agents.baselines.independent_diffuser import IndependentDiffuserPolicy
from mfdiff_agents.baselines.joint_diffuser import Config, JointDiffuserPolicy
from mfdiff_agents.checkpoint import EnvFacts

torch.set_num_threads(1)


def run(name, pol, n):
    obs = np.random.default_rng(0).random((n, 11)).astype(np.float32)
    pol.reset(0)
    try:
        t = time.perf_counter()
        pol.act_batch(obs)
        r = {"method": name, "n_agents": n, "ms": (time.perf_counter() - t) * 1000}
    except (ValueError, MemoryError, RuntimeError) as e:
        r = {"method": name, "n_agents": n, "error": f"{type(e).__name__}: {str(e)[:160]}"}
    r["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(r), flush=True)


def model(interaction, cfg):
    return TrajectoryDiffuser(obs_dim=11, n_actions=10, interaction=interaction, cfg=cfg)


cfg = Config(device="cpu")
ENV = EnvFacts(obs_dim=11, n_actions=10)
joint = JointDiffuserPolicy(model("attention", cfg), cfg, env=ENV, device="cpu")
if len(sys.argv) != 3 or not sys.argv[1][:1].isdigit():  # a traceback was the usage
    print(__doc__, file=sys.stdout if sys.argv[1:2] in (["-h"], ["--help"]) else sys.stderr)
    raise SystemExit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
for n in [int(a) for a in sys.argv[1].split(",")]:
    run("joint_diffuser", joint, n)
joint.cfg = dataclasses.replace(cfg, max_agents=10**9)
for n in [int(a) for a in sys.argv[2].split(",") if a]:
    run("joint_diffuser (guard off)", joint, n)
icfg = IConfig(device="cpu")
ind = IndependentDiffuserPolicy(model("none", icfg), icfg, env=ENV, device="cpu")
for n in (100, 1000, 10000):
    run("indep_diffuser", ind, n)
