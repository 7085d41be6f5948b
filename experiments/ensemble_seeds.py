"""Ensembles of MF-Diffuser training seeds at equal acting cost (docs/results/README.md).

    python experiments/ensemble_seeds.py ising runs/fresh_ising --tier medium --n 2025 \\
        --seeds 0 1 2 17 18 19 20 21 --lane 0 --lanes 2 --out runs/ens/records-lane0.jsonl

The checkpoints ``DIR/mfdiffuser-<tier>-s<seed>`` (experiments/fresh_seeds.sh's layout) are
grouped in the order given, ``--size`` to an ensemble (seeds 0 1 | 2 17 | …: fixed by the order,
not by their scores), and each group acts as one
:class:`~mfdiff_agents.diffuser.ensemble.MFDiffuserEnsemble` with ``plan_samples`` =
``--plans`` a member (2 × 2 = the 4 plans one checkpoint of the Ising config samples), on the
family's env with the grid's env kwargs (experiments/make_sweep.FAMILIES, as fresh_seeds.sh
evaluates) at N ``--n``, evaluation seeds 0..``--eval-seeds``−1 as ``mfdiff eval`` plays them.
A checkpoint that acts on its best plan is made to act on the mixture of its plans. Lane
``--lane`` of ``--lanes`` evaluates every lanes-th group. One record per (group, evaluation
seed), appended to ``--out``; its config names the members (paths and checkpoint ids), and its
checkpoint id (a digest of the members' ids) keeps groups apart in reports.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_sweep import FAMILIES  # noqa: E402

from mfdiff_agents.checkpoint import checkpoint_identity, read_meta, unfinished
from mfdiff_agents.diffuser.ensemble import MFDiffuserEnsemble
from mfdiff_agents.evaluation import append_new_runs, evaluate
from mfdiff_agents.evaluation.report import seeds_already_in


def groups(seeds: list[int], size: int) -> list[list[int]]:
    """``seeds`` cut in order into groups of ``size``; a ValueError unless it divides them."""
    if size < 1 or len(seeds) % size:
        raise ValueError(f"--size {size} does not divide the {len(seeds)} seeds {seeds}")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"a seed repeats in {seeds}")
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("family", choices=sorted(FAMILIES))
    ap.add_argument("runs", type=Path, help="directory of mfdiffuser-<tier>-s<seed> checkpoints")
    ap.add_argument("--tier", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--size", type=int, default=2, help="members an ensemble")
    ap.add_argument("--plans", type=int, default=2, help="plan_samples a member")
    ap.add_argument("--n", type=int, required=True, help="population size")
    ap.add_argument("--eval-seeds", type=int, default=5)
    ap.add_argument("--lane", type=int, default=0)
    ap.add_argument("--lanes", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if not 0 <= args.lane < args.lanes:
        ap.error(f"--lane {args.lane} is not one of 0..{args.lanes - 1}")
    try:
        todo = groups(args.seeds, args.size)
    except ValueError as e:
        ap.error(str(e))
    dirs = {s: args.runs / f"mfdiffuser-{args.tier}-s{s}" for s in args.seeds}
    missing = [str(d) for d in dirs.values()
               if not (d / "config.json").is_file() or unfinished(read_meta(d)) is not None]
    if missing:
        ap.error(f"no finished checkpoint at {missing} (bash experiments/fresh_seeds.sh trains "
                 "them)")
    _, env_id, _, kwargs = FAMILIES[args.family]
    env_kwargs = {**tomllib.loads(f"k = {kwargs}")["k"], "n_agents": args.n}
    overrides: dict[str, object] = {"plan_samples": args.plans}
    if any(read_meta(d)["config"].get("plan_combine") != "mean" for d in dirs.values()):
        overrides["plan_combine"] = "mean"  # each member acts on the mixture of its plans
    for gi, group in enumerate(todo):
        if gi % args.lanes != args.lane:
            continue
        paths = [str(dirs[s]) for s in group]
        idents = [checkpoint_identity(p) or {} for p in paths]
        ids = [i["id"] for i in idents]
        # the group is named by its members' identities, not by how their paths are spelt
        # (report._run_identity reads checkpoint.id and ignores `policy`)
        ident = {"id": hashlib.sha256("+".join(ids).encode()).hexdigest(),
                 "settings": "ensemble-" + "-".join(sorted({i["settings"] for i in idents}))}
        for key in ("dataset_content", "steps_done"):
            if any(key in i for i in idents):
                ident[key] = "+".join(str(i.get(key)) for i in idents)
        config = {"policy": "+".join(paths), "set": overrides, "member_ids": ids,
                  "checkpoint": ident}
        label = f"MF-Diffuser ensemble of {args.size}"
        seeds = range(args.eval_seeds)
        template = {"method": label, "config": config, "env_id": env_id,
                    "env_kwargs": env_kwargs, "tier": args.tier, "episodes": 1}
        done = seeds_already_in(args.out, template, seeds)
        if len(done) == len(seeds):
            print(f"{paths}: already in {args.out}, skipped", file=sys.stderr)
            continue
        if done:  # evaluate() plays seeds 0..n-1: the others would be appended twice
            ap.error(f"{args.out} holds {paths} at evaluation seeds {done} only: give "
                     "another --out for more seeds")
        policy = MFDiffuserEnsemble.from_pretrained(paths, device="cpu", num_threads=1,
                                                    **overrides)
        records = evaluate(policy, env_id, env_kwargs, seeds, 1, method=label, tier=args.tier,
                           config=config, progress=True)
        skipped = append_new_runs(records, args.out, template)
        if skipped:
            print(f"{group}: another process wrote evaluation seeds {skipped} meanwhile; "
                  "those not appended twice", file=sys.stderr)
        print(f"{group}: " + " ".join(f"{r['normalized_score']:.1f}" for r in records),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
