"""``mfdiff train``, ``mfdiff eval`` and ``mfdiff demo``: argument parsing and glue only; the
work is in :mod:`mfdiff_agents` (methods, training loop, evaluation) and :mod:`mfdiff.demo`."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from mfdiff_envs.core import MfdiffWarning
from mfdiff_envs.offline.catalogue import TIERS

THREADS_HELP = ("torch threads (default: torch's choice; use 1 per process when several jobs "
                "share the cores). Same seed and threads: bit-identical results; another "
                "thread count may differ in the last digits (~1e-7 in the weights)")


def _threads(n: int | None) -> int | None:
    """Apply ``--threads`` to torch, to numpy's BLAS (the lifting's CPU loops) and to OpenMP
    (for anything started after)."""
    if n is None:
        return None
    if n < 1:
        raise ValueError(f"--threads must be ≥ 1, got {n}")
    import torch

    from mfdiff_agents.device import limit_blas_threads

    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)
    limit_blas_threads(n)  # for the rest of the process
    return n


# --------------------------------------------------------------------------- train
def _need_directory(path: Path | None, option: str) -> None:
    """A ValueError naming ``option`` when ``path`` exists and is no directory (checked before
    any work, not as a bare "File exists" after it)."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{option} {path} is a file: give a directory (new or existing)")


def _train(args: argparse.Namespace) -> int:
    from mfdiff_agents.config import config_help
    from mfdiff_agents.family_configs import family_config
    from mfdiff_agents.methods import METHODS, get_method, make_sampler, train_config

    if args.help:
        if args.algo:
            get_method(args.algo)  # an unknown method: its one-line error, not the help first
        print(args.parser.format_help())
        if args.algo:
            print("The Config defaults below are replaced where the dataset family's settings "
                  "(listed at the end) set a field: with a dataset, those are what trains.\n")
            print(config_help(get_method(args.algo).config))
            print("\nPer-family settings applied over these defaults (before --config and --set; "
                  "--no-family-config skips them):")
            from mfdiff_agents.family_configs import FAMILY_CONFIG_DIR
            from mfdiff_envs.offline.catalogue import FAMILY_ENV

            # the catalogue's families, then any other family with a file (a user's own)
            files = sorted(p.stem for p in (FAMILY_CONFIG_DIR / args.algo).glob("*.json"))
            for fam in [*FAMILY_ENV, *(f for f in files if f not in FAMILY_ENV)]:
                print(f"  {fam}: {json.dumps(family_config(args.algo, fam))}")
        else:
            print("methods: " + ", ".join(f"{n} ({m.summary})" for n, m in METHODS.items()))
            print("`mfdiff train --algo NAME --help` lists that method's Config fields.")
        return 0
    if not args.dataset or not args.algo:
        raise ValueError("give --dataset and --algo (see mfdiff train --help)")
    method = get_method(args.algo)
    out = args.out or Path("runs") / args.algo / str(args.dataset).replace("/", "_")
    _need_directory(out, "--out")
    args.out = out  # named by the message of an interrupt (cli.py)
    saved = _resumed_config(out, method) if args.resume else None
    if saved is not None:
        # the run goes on with its own settings, not with today's family file: only what
        # --config / --set change differs (the step budget, acting fields; the rest refused)
        from mfdiff_agents.config import build_config

        cfg = build_config(method.config, saved, config_path=args.config,
                           overrides=args.set or [], method=method.name)
        family_file = None
        if os.environ.get("RANK", "0") == "0":
            print(f"resuming with the settings of {Path(out) / 'config.json'} "
                  "(under --config and --set)")
    else:
        cfg, family_file = train_config(args.algo, args.dataset, config_path=args.config,
                                        overrides=args.set or [],
                                        family_defaults=not args.no_family_config)
    if family_file is not None and os.environ.get("RANK", "0") == "0":
        print(f"family settings: {family_file} (under --config and --set; "
              "--no-family-config trains from the Config defaults alone)")
    threads = _threads(args.threads)
    sampler = make_sampler(args.dataset, cfg)
    start = time.perf_counter()
    method.fit(sampler, cfg, out_dir=out, resume=args.resume, progress=not args.no_progress,
               num_threads=threads)
    if os.environ.get("RANK", "0") == "0":  # under torchrun rank 0 alone writes
        print(f"checkpoint written to {out} ({cfg.steps} steps; this run trained for "
              f"{time.perf_counter() - start:.0f} s, metrics.csv has every step's time)")
    return 0


def _resumed_config(out: str | os.PathLike, method: Any) -> dict[str, Any] | None:
    """The Config fields a run in ``out`` was trained with (None: no run there; then
    training's own check says so). Fields the Config no longer has are left out."""
    import dataclasses

    from mfdiff_agents.checkpoint import CheckpointError, read_meta

    try:
        meta = read_meta(Path(out))
    except CheckpointError:
        return None
    if meta.get("method") != method.policy.METHOD:
        return None  # training refuses it with the method named
    names = {f.name for f in dataclasses.fields(method.config)}
    return {k: v for k, v in meta["config"].items() if k in names}


# --------------------------------------------------------------------------- eval
def _overrides(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        if key.strip() in out and out[key.strip()] != value:  # the last wins; said
            warnings.warn(f"--set {key.strip()} given twice ({out[key.strip()]!r}, then "
                          f"{value!r}): the last one, {value!r}, is used", MfdiffWarning,
                          stacklevel=2)
        out[key.strip()] = value
    return out


def interrupted_train_note(out: Path) -> str:
    """What an interrupted ``mfdiff train --out OUT`` leaves: its last save and how to go on."""
    from mfdiff_agents.checkpoint import CheckpointError, read_meta

    try:
        meta = read_meta(out)
    except (CheckpointError, OSError, ValueError):
        return f" before its first save ({out} holds no checkpoint)"
    done, steps = meta.get("steps_done"), (meta.get("config") or {}).get("steps")
    if done is None:  # a checkpoint saved before steps_done was recorded
        return f"; {out} holds its last save: the same command with --resume continues from it"
    # (a run resumed for more steps may be interrupted before its first new save: its last
    # save is then the finished shorter run's, of as many steps as that run asked)
    of = f" of {steps}" if steps is not None and done < steps else ""
    return (f"; its last save, {out}, is at step {done}{of}: the same command with --resume "
            "continues from there")


def _eval(args: argparse.Namespace) -> int:
    from mfdiff_agents import evaluation as ev
    from mfdiff_agents.checkpoint import trained_env
    from mfdiff_agents.methods import check_policy, load_policy, policy_label

    command = args.command_line or "mfdiff " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    threads = _threads(args.threads)
    if args.resume and args.sweep is None:
        raise ValueError("--resume continues a sweep: give --sweep FILE and --out RECORDS")
    if args.records or args.sweep is not None:
        # the records or the sweep say what to evaluate: a single-run option would be ignored
        given = [f"--{k.replace('_', '-')}" for k in ("policy", "env", "n_agents", "seeds",
                                                       "episodes", "set", "dataset", "tier",
                                                       "label", "deviation", "deviation_set",
                                                       "video", "env_kwargs",
                                                       "exante_resamples")
                 if getattr(args, k) is not None]
        given += ["--exploitability"] if args.exploitability else []
        if args.sweep is not None and args.device != "cpu":
            given.append("--device")  # the sweep file's `device` key (default cpu) decides
        if given:
            raise ValueError(f"{' '.join(given)} describe one run: with "
                             f"{'--records' if args.records else '--sweep'} they would be "
                             "ignored (a sweep file sets them per run)")
    if args.records and args.sweep is not None:
        raise ValueError("give --records (a report of earlier records) or --sweep, not both")
    _need_directory(args.report_dir, "--report-dir")
    _need_directory(args.video, "--video")
    if args.records and args.out is not None:  # nothing is evaluated: nothing would be written
        raise ValueError("--out appends the records an evaluation writes: --records only "
                         "reports earlier ones (give --report-dir DIR to write the report)")
    if args.report_dir is None:
        unused = [o for o, v in (("--name", args.name), ("--command", args.command_line))
                  if v is not None]
        if unused:
            raise ValueError(f"{' '.join(unused)} name the report written to --report-dir: "
                             "give --report-dir DIR")
    if args.records:
        # Report only: aggregate JSON-lines records written by earlier runs (e.g. parallel lanes).
        records = ev.read_records(*args.records)
        if not records:
            raise ValueError(f"no records in {[str(p) for p in args.records]}")
    elif args.sweep is not None:
        if args.resume and args.out is None:
            raise ValueError("--resume needs --out (the records file to continue)")
        records = ev.run_sweep(ev.load_sweep(args.sweep), out=args.out,
                               progress=not args.no_progress, resume=args.resume)
    else:
        if args.policy is None:
            raise ValueError("give --policy (and --env, --n-agents) or --sweep FILE")
        check_policy(args.policy)  # a mistyped path: say so, not that --env is missing
        trained = trained_env(args.policy) if Path(args.policy).is_dir() else None
        ckpt_kwargs: dict[str, Any] = {}
        own_env = args.env is None and trained is not None
        if own_env:
            # the env it was trained on, with its kwargs (episode length, Battle's opponent…)
            args.env, ckpt_kwargs = trained[0], trained[2]
            if args.n_agents is None:
                args.n_agents = trained[1]
        elif args.n_agents is None and trained is not None and args.env == trained[0]:
            args.n_agents = trained[1]
        if args.env is not None and args.n_agents is None:
            import gymnasium as gym

            import mfdiff_envs  # noqa: F401  (registers the mfdiff/* ids)

            if args.env not in gym.registry:  # say so now, not that --n-agents is missing
                known = sorted(k for k in gym.registry if k.startswith("mfdiff/"))
                raise ValueError(f"--env {args.env!r} is no registered env; mfdiff's: {known}")
            raise ValueError(
                f"give --n-agents for --env {args.env}"
                + (f" (the checkpoint was trained on {trained[0]}, N={trained[1]}: its N is "
                   "taken only on its own env)" if trained is not None else ""))
        if args.env is None or args.n_agents is None:
            raise ValueError("give --env and --n-agents (a checkpoint directory gives its own "
                             "by default; a scripted policy plays any env)")
        args.seeds = 5 if args.seeds is None else args.seeds
        args.episodes = 1 if args.episodes is None else args.episodes
        if args.seeds < 1 or args.episodes < 1:
            raise ValueError(f"--seeds and --episodes must be ≥ 1, got {args.seeds}, "
                             f"{args.episodes}")
        try:
            env_kwargs = json.loads(args.env_kwargs or "{}")
        except json.JSONDecodeError as e:
            raise ValueError(f"--env-kwargs is not JSON ({e}): {args.env_kwargs!r}") from e
        if not isinstance(env_kwargs, dict):
            raise ValueError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")
        env_kwargs = {**ckpt_kwargs, **env_kwargs}
        if env_kwargs.get("n_agents", args.n_agents) != args.n_agents:
            raise ValueError(f"--env-kwargs sets n_agents={env_kwargs['n_agents']!r} and "
                             f"--n-agents {args.n_agents}: give the population size once")
        env_kwargs["n_agents"] = args.n_agents
        if own_env:  # what is evaluated, and where it departs from what was trained
            given = {k: v for k, v in env_kwargs.items() if k != "n_agents"}
            note = (f"mfdiff eval: the checkpoint's env {args.env}, N={args.n_agents}"
                    + (f", {json.dumps(given)}" if given else ""))
            if args.n_agents != trained[1] or given != ckpt_kwargs:
                was = ([f"N={trained[1]}"] if trained[1] is not None else []) + (
                    [json.dumps(ckpt_kwargs)] if ckpt_kwargs else [])
                note += (f" (trained with {', '.join(was)})" if was
                         else " (its training N is not recorded)")
            else:
                note += " (give --env, --n-agents, --env-kwargs for others)"
            print(note, file=sys.stderr)
        if "render_mode" in env_kwargs:  # the evaluation core never renders: it would be ignored
            raise ValueError("--env-kwargs render_mode: evaluation does not render; "
                             "--video DIR records the episode of seed 0 as a GIF")
        label = args.label or policy_label(args.policy)
        sets = _overrides(args.set)  # parsed once: a key given twice is said once
        kw: dict[str, Any] = dict(sets)
        for key, option in (("device", "--device"), ("num_threads", "--threads")):
            if key in kw:
                raise ValueError(f"--set {key}=...: give {option} instead")
        if "seed" in kw:  # rollout re-seeds the policy at every episode: it would be ignored
            raise ValueError("--set seed=...: evaluation seeds the policy at every episode "
                             "from --seeds (episode_seed(s, e), the env's seed), so a policy "
                             "seed would change nothing; give the evaluation seeds with --seeds")
        if Path(args.policy).is_dir():
            kw["num_threads"] = threads
        policy = load_policy(args.policy, device=args.device, **kw)
        from mfdiff_agents.checkpoint import checkpoint_identity

        ident = checkpoint_identity(args.policy)
        if ident is not None:  # a --tier the checkpoint's data contradict would mislabel its row
            from mfdiff_agents.checkpoint import EnvFacts, read_meta

            EnvFacts(**read_meta(args.policy)["env"]).check_tier(
                args.tier, who=policy_label(args.policy))
        config: dict[str, Any] = {"policy": str(args.policy), "set": sets,
                                  **({"checkpoint": ident} if ident else {})}
        deviations = None
        if args.deviation:
            if not args.exploitability:
                raise ValueError("--deviation adds a deviation policy: give --exploitability")
            for path in args.deviation:
                if not Path(path).is_dir():  # the scripted tiers are in the set already
                    raise ValueError(f"--deviation takes a checkpoint directory, got {path!r}")
            # named by the checkpoint's method in deviation_gains ("bc"), so that records of
            # several training seeds, each deviating with its own BC, pool under one name
            names = [policy_label(path) for path in args.deviation]
            if len(set(names)) < len(names):
                raise ValueError(f"--deviation: one checkpoint per method, got {names}")
            # each acts with the settings stored in its checkpoint (a grid checkpoint: the
            # grid's acting, e.g. BC's temperature)
            deviations = {name: load_policy(path, device=args.device, num_threads=threads)
                          for name, path in zip(names, args.deviation, strict=True)}
            config["deviations"] = list(args.deviation)
            # what makes two records one run, whatever the spelling of the paths (runs/bc,
            # runs/bc/, /abs/runs/bc): report._run_identity compares these
            config["deviation_ids"] = [checkpoint_identity(path)["id"]  # type: ignore[index]
                                       for path in args.deviation]
        if args.deviation_fraction is not None:  # given, even as 0.01: it must apply
            if not args.exploitability:
                raise ValueError("--deviation-fraction sets the exploitability measure's "
                                 "deviators: give --exploitability")
            if not 0.0 < args.deviation_fraction <= 1.0:
                raise ValueError(f"--deviation-fraction must lie in (0, 1], got "
                                 f"{args.deviation_fraction}")
            if args.deviation_fraction != 0.01:  # 0.01 is the default's run: same identity
                config["deviation_fraction"] = args.deviation_fraction
        if args.exante_resamples is not None:  # refused where it would be ignored
            if not args.exploitability:
                raise ValueError("--exante-resamples adds Squeeze's ex ante gain to the "
                                 "exploitability measure: give --exploitability")
            config["exante_resamples"] = args.exante_resamples
        only = None
        if args.deviation_set is not None:
            if not args.exploitability:
                raise ValueError("--deviation-set restricts the exploitability measure's "
                                 "deviations: give --exploitability")
            only = [name.strip() for name in args.deviation_set.split(",")]
            config["deviation_set"] = only
        template = {"method": label, "config": config, "env_id": args.env,
                    "env_kwargs": env_kwargs, "tier": args.tier, "episodes": args.episodes}
        if args.out is not None:  # checked before the episodes are played
            # the same label measured otherwise (another --set, env kwargs, episodes, dataset,
            # checkpoint setting) in the file: every report of it would refuse the pair
            from mfdiff_agents.methods import policy_class_name

            core = ev.make_core(args.env, env_kwargs)  # its n_agents: Battle's counts a team
            probe = {**template, "n_agents": int(core.n_agents), "dataset_id": args.dataset,
                     "policy_class": policy_class_name(args.policy)}
            if args.exploitability and core.family != "squeeze":
                probe["deviation_fraction"] = float(args.deviation_fraction or 0.01)
            ev.check_appendable(args.out, [probe])
            again = ev.seeds_already_in(args.out, template, range(args.seeds))
            if again:
                raise ValueError(
                    f"{args.out} already holds this run of {label!r} (same policy and "
                    f"settings) on {args.env} {env_kwargs}"
                    f"{f', tier {args.tier!r}' if args.tier else ''} at evaluation seeds "
                    f"{again}: appended again they would count twice (reports refuse such a "
                    "file; --exploitability and --dataset do not make it another run). "
                    "--seeds N plays seeds 0..N-1: to add others, list them in a sweep file "
                    "(seeds = [5, 6, …]); else give another --out or --label")
        records = ev.evaluate(policy, args.env, env_kwargs, range(args.seeds), args.episodes,
                              method=label,
                              dataset_id=args.dataset,
                              tier=args.tier, progress=not args.no_progress, config=config,
                              exploitability=args.exploitability,
                              extra_deviations=deviations, deviation_set=only,
                              deviation_fraction=args.deviation_fraction,
                              exante_resamples=args.exante_resamples)
        if args.out is not None:  # and again as they are appended, under the file's lock
            skipped = ev.append_new_runs(records, args.out, template)
            if skipped:
                print(f"mfdiff eval: another process wrote this run at seeds {skipped} to "
                      f"{args.out} meanwhile; not appended twice", file=sys.stderr)
        if args.video is not None:
            from mfdiff_agents.evaluation.video import record_episode

            core = ev.make_core(args.env, env_kwargs)
            pol = policy if hasattr(policy, "act_batch") else policy(core, 0)
            name = f"{policy_label(args.policy)}-{args.env.split('/')[-1]}-n{core.n_agents}.gif"
            target = args.video / name.replace("/", "_")
            if target.exists():  # named by method, env and N only: another run's may be there
                warnings.warn(f"--video: replacing {target} (an earlier eval's GIF of the same "
                              "method, env and N); give another DIR to keep both", MfdiffWarning,
                              stacklevel=1)
            path, _ = record_episode(pol, core, target, seed=0)
            print(f"video: {path}")
    print(ev.markdown_table(records, command=command, title="mfdiff eval"))
    if args.report_dir is not None:
        paths = ev.write_report(records, args.report_dir, name=args.name or "eval",
                                 command=command)
        for k, p in paths.items():
            print(f"{k}: {p}")
    return 0


# --------------------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    from mfdiff.demo import DemoConfig, run_demo

    cfg = DemoConfig.quick() if args.quick else DemoConfig()
    overrides = {k: v for k, v in (("n_agents", args.n_agents), ("seeds", args.seeds),
                                   ("episodes", args.episodes), ("tier", args.tier))
                 if v is not None}
    _threads(args.threads)
    out = args.out if args.out is not None else cfg.out_dir
    run_demo(cfg.replace(out_dir=out, progress=not args.no_progress, **overrides))
    return 0


def add_parsers(subparsers: Any) -> None:
    """Add ``train``, ``eval`` and ``demo`` to the ``mfdiff`` sub-command parsers."""
    t = subparsers.add_parser(
        "train", add_help=False, help="train a method on an offline dataset",
        description="Train a method on a Minari dataset: progress bar, metrics.csv, periodic "
        "checkpoints (config.json + model.safetensors + train_state.pt) in --out, --resume. "
        "Starts from the dataset family's settings (the results grid's; `--no-family-config`: "
        "the Config defaults alone), then --config, then --set. "
        "`mfdiff train --algo NAME --help` lists the method's Config fields.")
    t.add_argument("-h", "--help", action="store_true", help="show this help (with --algo: "
                   "every Config field of that method, its default and its meaning)")
    t.add_argument("--dataset", help="Minari dataset id, e.g. mfdiff/squeeze-n1000/mixed-v0")
    t.add_argument("--algo", help="method: mfdiffuser | bc | mfq | iql | indep_diffuser | "
                   "joint_diffuser")
    t.add_argument("--config", default=None, help="JSON file of Config fields (over the "
                   "family settings)")
    t.add_argument("--no-family-config", action="store_true",
                   help="start from the Config defaults alone, not from the dataset family's "
                   "settings (mfdiff_agents/family_configs/<algo>/<family>.json, what the "
                   "results grid trains with)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one Config field (repeatable); lists as 16,64,256")
    t.add_argument("--out", type=Path, default=None,
                   help="output directory (default runs/<algo>/<dataset id, / as _>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_train, parser=t)

    p = subparsers.add_parser(
        "eval", help="evaluate a policy (checkpoint dir | random | medium | expert) or a sweep",
        description="Roll a policy out on the vectorised env core over seeds; print a markdown "
        "table (mean [95 percent bootstrap CI] (IQM) per metric); JSON-lines records with --out.")
    p.add_argument("--policy", help="checkpoint directory, or random | medium | expert")
    p.add_argument("--env", help="registered env id, e.g. mfdiff/GaussianSqueeze-v0 (default "
                   "for a checkpoint: the env it was trained on, with its env kwargs)")
    p.add_argument("--n-agents", type=int, help="population size N, both teams on Battle "
                   "(N/2 a team, the records' n_agents); default for a checkpoint on its own "
                   "env: its training N")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds (0..n-1), default 5")
    p.add_argument("--episodes", type=int, default=None, help="episodes per seed, default 1")
    p.add_argument("--env-kwargs", default=None,
                   help='JSON env kwargs, e.g. \'{"max_cycles": 25}\' (over the '
                   "checkpoint's when --env is left to it)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a Config field of the checkpoint at load, e.g. "
                   "replan_every=4: fields that change acting (planning and decoding, a "
                   "baseline's temperature); architecture and training-only fields are refused")
    p.add_argument("--video", type=Path, metavar="DIR",
                   help="also record the episode of seed 0 as an animated GIF in DIR")
    p.add_argument("--exploitability", action="store_true",
                   help="also measure the approximate Nash gap (Ising/Battle: best gain of a set "
                   "of deviations played by 1 percent of the agents; Squeeze: exact, reported "
                   "as N x gain); costs several extra episodes per seed")
    p.add_argument("--deviation", action="append", metavar="CHECKPOINT",
                   help="with --exploitability: one more deviation policy, a checkpoint "
                   "directory acting with its stored settings (e.g. a trained BC), named by its "
                   "method; repeatable, one checkpoint per method")
    p.add_argument("--deviation-fraction", type=float, default=None, metavar="F",
                   help="with --exploitability: share of the agents that deviate (Ising, "
                   "Battle; at least one agent; default 0.01, what every published table uses)")
    p.add_argument("--exante-resamples", type=int, default=None, metavar="R",
                   help="with --exploitability on Squeeze: also the ex ante gain, each step "
                   "drawn R times (the exact N x gain is ex post: each agent knows the others' "
                   "levels of the step, an upper bound); R times the acting cost")
    p.add_argument("--deviation-set", metavar="NAMES",
                   help="with --exploitability: try only these deviations, comma-separated "
                   "names out of random, medium, expert, 'constant A' and each --deviation's "
                   "method (e.g. expert,bc: the best ones of a full-set table, so the episodes "
                   "go to more seeds); default all")
    p.add_argument("--dataset", help="Minari dataset id whose reference scores normalize the "
                   "score, on the dataset's own env only (same N and env kwargs; default: "
                   "random and scripted expert measured on the env)")
    p.add_argument("--tier", choices=TIERS,
                   help="label: data tier the policy was trained on (one of the catalogue's)")
    p.add_argument("--label", help="method name in the records and table (default: the "
                   "checkpoint's method or the scripted policy's name): one per setting when "
                   "one checkpoint is evaluated with several --set values into one --out")
    p.add_argument("--out", type=Path, help="append JSON-lines records here")
    p.add_argument("--sweep", type=Path, help="sweep file (.json/.toml), see "
                   "mfdiff_agents/evaluation/sweep.py")
    p.add_argument("--resume", action="store_true",
                   help="with --sweep and --out: keep the (run, N) groups already complete in "
                   "--out, evaluate the rest, drop records of runs no longer in the sweep")
    p.add_argument("--records", type=Path, nargs="+",
                   help="aggregate these JSON-lines record files (no rollouts)")
    p.add_argument("--command", dest="command_line", help="the regenerate command printed in "
                   "the report (default: this command line)")
    p.add_argument("--report-dir", type=Path, help="write <name>.md table + PNG plots here")
    p.add_argument("--name", help="report file stem (with --report-dir; default eval)")
    p.add_argument("--device", default="cpu",
                   help="torch device for checkpoints (cpu | cuda | auto), default cpu")
    p.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_eval)

    d = subparsers.add_parser(
        "demo", help="small end-to-end run: dataset -> MF-Diffuser + BC -> evaluation table",
        description="Build a Gaussian Squeeze dataset (N=1000, mixed tier), train MF-Diffuser "
        "and BC briefly, evaluate them beside random and the scripted expert; write records, a "
        "table and a plot to --out. 2.5-4 minutes on a 2-core machine (2.4 on a quiet one, "
        "188-236 s beside other jobs; up to 10 min on a slower, busy one); --quick: 7-20 s.")
    d.add_argument("--quick", action="store_true", help="tiny budget (the test suite runs it)")
    d.add_argument("--out", type=Path, default=None,
                   help="output dir (default runs/demo, or runs/demo-quick with --quick)")
    d.add_argument("--n-agents", type=int, help="override N")
    d.add_argument("--seeds", type=int, help="override the number of evaluation seeds")
    d.add_argument("--episodes", type=int, help="override episodes per seed")
    d.add_argument("--tier", choices=["mixed", "medium", "expert", "random"],
                   help="dataset tier (default mixed)")
    d.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    d.add_argument("--no-progress", action="store_true", help="no progress bars")
    d.set_defaults(func=_demo)
