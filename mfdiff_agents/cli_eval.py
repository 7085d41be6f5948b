"""``mfdiff eval`` and ``mfdiff demo``: argument parsing only; the work is in
:mod:`mfdiff_agents.evaluate` and :mod:`mfdiff_agents.demo`. Wired by ``add_parser(subparsers)``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any


def _eval(args: argparse.Namespace) -> int:
    from mfdiff_agents import evaluate as ev

    command = "mfdiff " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    if args.command:
        command = args.command
    if args.records:
        # Report only: aggregate JSON-lines records written by earlier runs (e.g. parallel lanes).
        records = [r for path in args.records for r in ev.read_jsonl(path)]
        if not records:
            raise SystemExit(f"mfdiff eval: no records in {[str(p) for p in args.records]}")
    elif args.sweep is not None:
        spec = ev.load_sweep(args.sweep)
        records = ev.run_sweep(spec, out=args.out, progress=not args.no_progress)
    else:
        if args.policy is None or args.env is None or args.n_agents is None:
            raise SystemExit("mfdiff eval: give --policy, --env and --n-agents (or --sweep FILE)")
        env_kwargs: dict[str, Any] = {**json.loads(args.env_kwargs), "n_agents": args.n_agents}
        policy = ev.load_policy(args.policy, device=args.device)
        records = ev.evaluate(policy, args.env, env_kwargs, range(args.seeds), args.episodes,
                              method=ev.policy_label(args.policy), dataset_id=args.dataset,
                              tier=args.tier, config={"policy": str(args.policy)},
                              progress=not args.no_progress)
        if args.out is not None:
            ev.write_jsonl(records, args.out)
    print(ev.markdown_table(records, command=command or "mfdiff eval ...", title="mfdiff eval"))
    if args.report_dir is not None:
        paths = ev.write_report(records, args.report_dir, name=args.name, command=command)
        for k, p in paths.items():
            print(f"{k}: {p}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from mfdiff_agents.demo import DemoConfig, run_demo

    cfg = DemoConfig.quick() if args.quick else DemoConfig()
    overrides = {k: v for k, v in (("n_agents", args.n_agents), ("seeds", args.seeds),
                                   ("episodes", args.episodes), ("tier", args.tier))
                 if v is not None}
    cfg = cfg.replace(out_dir=args.out, progress=not args.no_progress, **overrides)
    run_demo(cfg)
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``eval`` and ``demo`` to the ``mfdiff`` sub-command parsers."""
    p = subparsers.add_parser(
        "eval", help="evaluate a policy (checkpoint dir | random | medium | expert) or a sweep",
        description="Roll a policy out on the vectorised env core over seeds; prints a markdown "
        "table (mean [95%% bootstrap CI] (IQM)); JSON-lines records with --out.")
    p.add_argument("--policy", help="checkpoint directory, or random | medium | expert")
    p.add_argument("--env", help="registered env id, e.g. mfdiff/GaussianSqueeze-v0")
    p.add_argument("--n-agents", type=int, help="population size N")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (0..n-1), default 5")
    p.add_argument("--episodes", type=int, default=1, help="episodes per seed")
    p.add_argument("--env-kwargs", default="{}",
                   help='JSON env kwargs, e.g. \'{"max_cycles": 25}\'')
    p.add_argument("--dataset", help="Minari dataset id whose ref scores normalise the score")
    p.add_argument("--tier", help="label: data tier the policy was trained on")
    p.add_argument("--out", type=Path, help="append JSON-lines records here")
    p.add_argument("--sweep", type=Path, help="sweep file (.json/.toml), see evaluate.load_sweep")
    p.add_argument("--records", type=Path, nargs="+",
                   help="aggregate these JSON-lines record files (no rollouts)")
    p.add_argument("--command", help="the regenerate command printed in the report "
                   "(default: this command line; set it when a script produced the records)")
    p.add_argument("--report-dir", type=Path, help="write <name>.md table + PNG plots here")
    p.add_argument("--name", default="eval", help="report file stem (with --report-dir)")
    p.add_argument("--device", default="cpu",
                   help="torch device for checkpoints (cpu | cuda | auto)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_eval)

    d = subparsers.add_parser(
        "demo", help="small end-to-end run: dataset -> MF-Diffuser + BC -> evaluation table",
        description="Builds a Gaussian Squeeze dataset (N=1000, mixed tier), trains MF-Diffuser "
        "and BC "
        "briefly, evaluates them beside random and the scripted expert; writes records, a table "
        "and a plot to --out. ~3 min on 2 CPU cores; --quick ~20 s.")
    d.add_argument("--quick", action="store_true", help="tiny budget (test suite, ~1 min)")
    d.add_argument("--out", type=Path, default=Path("runs/demo"), help="output dir (runs/demo)")
    d.add_argument("--n-agents", type=int, help="override N")
    d.add_argument("--seeds", type=int, help="override the number of evaluation seeds")
    d.add_argument("--episodes", type=int, help="override episodes per seed")
    d.add_argument("--tier", choices=["mixed", "medium", "expert", "random"],
                   help="dataset tier (default mixed)")
    d.add_argument("--no-progress", action="store_true", help="no progress bars")
    d.set_defaults(func=_demo)
