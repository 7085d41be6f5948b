"""Sweeps: evaluate many (policy, env, N) runs from one file, recording where a method stops.

Format (TOML shown; JSON has the same structure)::

    seeds = 5                 # an int (0..n-1) or a list of distinct seeds
    episodes = 1
    device = "cuda"           # optional: torch device of every trained policy (default cpu)
    [[runs]]
    policy = "random"         # random | medium | expert | a checkpoint directory (a relative
                              # path is read from the current directory, not the file's)
    env = "mfdiff/GaussianSqueeze-v0"
    n_agents = [100, 1000]    # an int or a list (one run group per N)
    env_kwargs = { max_cycles = 25 }
    dataset = "mfdiff/squeeze-n1000/medium-v0"   # optional: reference scores from it
    tier = "medium"           # optional: the data tier of the policy (a catalogue tier)
    label = "bc"              # optional method name (default: checkpoint method / policy)
    set = { replan_every = 4 }  # optional Config overrides at load (planning settings)
    exploitability = true     # optional: also the approximate Nash gap (extra episodes;
                              # Squeeze: exact, one extra episode per seed)
    seeds = [0, 1, 2]         # optional: this run's seeds / episodes instead of the top level's
    episodes = 2
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mfdiff_agents.checkpoint import checkpoint_identity, free_backup
from mfdiff_agents.evaluation.report import (
    _json_default,
    canonical_env_kwargs,
    canonical_overrides,
    check_appendable,
    read_jsonl,
    records_lock,
    refuse_conflicting_append,
    write_jsonl,
)
from mfdiff_agents.evaluation.run import evaluate, git_commit, reference_scores
from mfdiff_agents.methods import (
    check_policy,
    load_policy,
    policy_class_name,
    policy_label,
)
from mfdiff_agents.policy import DivergedError, PopulationTooLargeError
from mfdiff_envs.core import MfdiffWarning
from mfdiff_envs.offline.catalogue import TIERS

_SWEEP_KEYS = {"seeds", "episodes", "runs", "device"}
_RUN_KEYS = {"policy", "env", "n_agents", "env_kwargs", "dataset", "tier", "label", "seeds",
             "episodes", "set", "exploitability"}


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read a sweep file (``.json`` or ``.toml``, format in the module docstring); check keys."""
    p = Path(path)
    if p.suffix not in (".toml", ".json"):
        raise ValueError(f"{p}: a sweep file is .toml or .json, got {p.suffix or 'no suffix'!r}")
    if p.suffix == ".toml":
        try:
            spec = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{p}: not valid TOML: {e}") from None
    else:
        try:
            spec = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: not valid JSON: {e}") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{p}: a sweep is a table of keys {sorted(_SWEEP_KEYS)}")
    unknown = set(spec) - _SWEEP_KEYS
    if unknown:
        raise ValueError(f"{p}: unknown sweep keys {sorted(unknown)}; valid: {sorted(_SWEEP_KEYS)}")
    if not spec.get("runs"):
        raise ValueError(f"{p}: the sweep has no [[runs]]")
    if not isinstance(spec["runs"], list) or not all(isinstance(r, dict) for r in spec["runs"]):
        raise ValueError(f"{p}: runs is a list of tables ([[runs]] in TOML)")
    _check_counts(spec, str(p))
    for i, run in enumerate(spec["runs"]):
        where = f"{p}: runs[{i}]"
        bad = set(run) - _RUN_KEYS
        if bad:
            raise ValueError(
                f"{p}: runs[{i}] has unknown keys {sorted(bad)}; valid: {sorted(_RUN_KEYS)}")
        for k in ("policy", "env", "n_agents"):
            if k not in run:
                raise ValueError(f"{p}: runs[{i}] needs {k!r}")
        for k in ("set", "env_kwargs"):
            if not isinstance(run.get(k, {}), dict):
                raise ValueError(f"{where}.{k} must be a table of KEY = VALUE, "
                                 f"got {run[k]!r}")
        for key, option in (("device", "the sweep's device key"),
                            ("num_threads", "mfdiff eval --threads")):
            if key in run.get("set", {}):
                raise ValueError(f"{where}.set.{key}: give {option} instead")
        if "render_mode" in run.get("env_kwargs", {}):
            raise ValueError(f"{where}.env_kwargs.render_mode: evaluation does not render")
        if "seed" in run.get("set", {}):
            raise ValueError(f"{where}.set.seed: evaluation seeds the policy at every episode "
                             "from the sweep's seeds (episode_seed), so a policy seed here "
                             "would change nothing; give the evaluation seeds in seeds")
        if "n_agents" in run.get("env_kwargs", {}):
            raise ValueError(f"{p}: runs[{i}].env_kwargs sets n_agents: give the population "
                             "size(s) in the run's n_agents only")
        if not isinstance(run.get("exploitability", False), bool):
            raise ValueError(f"{p}: runs[{i}].exploitability must be true or false")
        _check_counts(run, where)
        ns = run["n_agents"] if isinstance(run["n_agents"], list) else [run["n_agents"]]
        if not ns or not all(_is_int(n) and n >= 1 for n in ns):
            raise ValueError(f"{where}.n_agents must be a positive integer or a non-empty list "
                             f"of them, got {run['n_agents']!r}")
        for k in ("policy", "env", "dataset", "tier", "label"):
            if k in run and not isinstance(run[k], str):
                raise ValueError(f"{where}.{k} must be a string, got {run[k]!r}")
        if "tier" in run and run["tier"] not in TIERS:  # as `mfdiff eval --tier`: a typo
            # would file the run's records under a tier no table pools with the others
            raise ValueError(f"{where}.tier must be one of the catalogue's tiers "
                             f"{', '.join(TIERS)}, got {run['tier']!r}")
    return spec


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_counts(table: dict[str, Any], where: str) -> None:
    """``seeds`` (a positive int, or a non-empty list of distinct non-negative ints: a seed
    listed twice would replay its episodes and count them as independent runs) and
    ``episodes`` (a positive int) of a sweep or one of its runs, as they are: "10", 2.9 or
    [0, 0] are refused rather than read as something else."""
    if "seeds" in table:
        seeds = table["seeds"]
        ok = (_is_int(seeds) and seeds >= 1) or (
            isinstance(seeds, list) and seeds and all(_is_int(x) and x >= 0 for x in seeds)
            and len(set(seeds)) == len(seeds))
        if not ok:
            raise ValueError(f"{where}: seeds must be a positive integer (seeds 0..n-1) or a "
                             f"non-empty list of distinct non-negative integers, got {seeds!r}")
    if "episodes" in table and not (_is_int(table["episodes"]) and table["episodes"] >= 1):
        raise ValueError(f"{where}: episodes must be a positive integer, "
                         f"got {table['episodes']!r}")


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    return list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]


def _group_key(label: str, policy: Any, overrides: dict, env: str, env_kwargs: dict,
               tier: str | None, exploitability: bool = False) -> str:
    """Identity of one (run, N) group of records: what was evaluated, where, with what (and
    whether the Nash gap was measured: only then is it part of the key, so the keys of runs
    without it are those of sweeps written before the option existed). Overrides as values,
    not spellings (a None a sweep file writes "none", TOML having no null, is a record's null)."""
    key = [label, str(policy), canonical_overrides(overrides or {}), env,
           canonical_env_kwargs(env, env_kwargs), tier]
    return json.dumps(key + ["exploitability"] if exploitability else key, sort_keys=True)


def _record_key(r: dict[str, Any], *, measure: bool = True) -> str:
    """A record's (run, N) group (``measure=False``: whether the Nash gap was measured left
    out, as the episodes played are the same either way)."""
    cfg = r.get("config") or {}
    return _group_key(r["method"], cfg.get("policy"), cfg.get("set", {}), r["env_id"],
                      r["env_kwargs"], r.get("tier"),
                      measure and bool(cfg.get("exploitability", False)))


def run_sweep(spec: dict[str, Any], *, out: str | Path | None = None,
              progress: bool = True, resume: bool = False) -> list[dict[str, Any]]:
    """Evaluate every (run, N) of a sweep spec (see :func:`load_sweep`); appends each group's
    records to ``out`` (JSON lines) as it finishes. Returns all records.

    ``resume``: keep the groups already complete in ``out`` (same label, policy, overrides,
    env, env kwargs and tier, one record per seed of the sweep's seeds, with its episodes and
    dataset, and the checkpoint unchanged since: ``config.checkpoint`` of the records) and
    evaluate only the others; records in
    ``out`` that belong to no (run, N) of this sweep are dropped, and the file is rewritten in
    the sweep's order, so it ends up as a fresh run would leave it (evaluation is seeded). For
    long sweeps that were interrupted or whose sweep file changed in a few runs.

    A (run, N) whose policy refuses the population (:class:`PopulationTooLargeError`, e.g. the
    joint diffuser's ``max_agents`` guard, or a MemoryError) gives one record with an
    ``"error"`` field and no metrics, so a scaling sweep records where a method stops instead
    of aborting. Reference scores are measured once per (env, kwargs, dataset)."""
    from tqdm.auto import tqdm

    jobs = []
    for run in spec["runs"]:
        ns = run["n_agents"] if isinstance(run["n_agents"], list) else [run["n_agents"]]
        jobs += [(run, int(n)) for n in ns]
    records: list[dict[str, Any]] = []
    in_file: list[dict[str, Any]] = []  # what this sweep wrote to (or kept in) out
    seen: dict[str, Any] = {}  # _append_unless_there's reading of out, while no one else writes
    device = spec.get("device", "cpu")
    refs: dict[str, tuple[float, float]] = {}

    def identity(run: dict[str, Any], n: int) -> tuple[str, dict[str, Any], str]:
        label = run.get("label") or policy_label(run["policy"])
        env_kwargs = {**run.get("env_kwargs", {}), "n_agents": n}
        return label, env_kwargs, _group_key(label, run["policy"], run.get("set", {}),
                                             run["env"], env_kwargs, run.get("tier"),
                                             run.get("exploitability", False))

    def played(run: dict[str, Any], n: int) -> str:  # the episodes: with or without the
        label, env_kwargs, _ = identity(run, n)      # Nash gap measured, the same ones
        return _group_key(label, run["policy"], run.get("set", {}), run["env"], env_kwargs,
                          run.get("tier"))

    # a (run, N) listed twice would be evaluated twice and its seeds counted twice in the
    # sweep's table (a report of its records refuses them as duplicates)
    counts = Counter(played(run, n) for run, n in jobs)
    twice = sorted({f"{identity(run, n)[0]} at N = {n}" for run, n in jobs
                    if counts[played(run, n)] > 1})
    if twice:
        raise ValueError(f"the sweep lists the same run more than once: {twice}; give each "
                         "setting its own label, or list it once")
    # every run's policy and overrides now, from its config.json: a typo in the last run must
    # not surface after hours of evaluating the others
    for i, run in enumerate(spec["runs"]):
        try:
            check_policy(run["policy"], **run.get("set", {}))
        except (ValueError, TypeError) as e:  # ConfigError and CheckpointError are ValueErrors
            raise ValueError(f"runs[{i}] ({run['policy']}): {e}") from None
    # and every (run, N)'s env and population, and a checkpoint's family there: a wrong env or
    # an N the env refuses in the last run must not surface after the others either
    cores: dict[tuple[int, int], tuple[str, int]] = {}  # (id(run), N) -> family, n_agents
    for i, run in enumerate(spec["runs"]):
        for n in run["n_agents"] if isinstance(run["n_agents"], list) else [run["n_agents"]]:
            cores[id(run), int(n)] = _check_env(run, int(n), i)
    # and runs that one report row would pool although measured differently (the same label
    # with other overrides, env kwargs, episodes, checkpoint settings), among themselves or
    # with what out holds: refused by every report of the records, after hours of evaluating
    # (a resumed sweep drops the file's records of changed runs: only its own are checked)
    check_appendable(None if resume else out,
                     [_probe(run, identity(run, n), *cores[id(run), n], spec)
                      for run, n in jobs])
    if not resume and out is not None and Path(out).exists():
        # appended again, a run already in the file would count twice and every report of the
        # file refuse it: said before anything is played, as `mfdiff eval --out` does
        old = {(_record_key(r, measure=False), r.get("seed")) for r in read_jsonl(out)
               if not r.get("error")}
        again = sorted({f"{identity(run, n)[0]} at N = {n}" for run, n in jobs
                        if any((played(run, n), seed) in old for seed in
                               _seed_list(run.get("seeds", spec.get("seeds", 5))))})
        if again:
            raise ValueError(f"{out} already holds records of {again[:3]}"
                             f"{' …' if len(again) > 3 else ''}: --resume keeps them and "
                             "evaluates the rest; or give another --out")
    done: set[str] = set()
    if resume and out is not None:
        with records_lock(out):  # read and rewritten as one step: no other process's appends lost
            if Path(out).exists():
                in_file += _resume_kept(out, jobs, spec, identity, done)
    if resume and out is not None:
        # a sweep resumed with nothing left to do looked like a finished one that ran
        print(f"mfdiff sweep: {out} holds {len(done)} of the sweep's {len(jobs)} (run, N) "
              f"groups complete; evaluating {len(jobs) - len(done)}", file=sys.stderr)
    records += in_file
    for run, n in tqdm(jobs, desc="sweep", disable=not progress):
        label, env_kwargs, key = identity(run, n)
        if key in done:
            continue
        policy = load_policy(run["policy"], device=device, **run.get("set", {}))
        ref_key = json.dumps([run["env"], env_kwargs, run.get("dataset")], sort_keys=True)
        if ref_key not in refs:
            refs[ref_key] = reference_scores(run["env"], env_kwargs,
                                             dataset_id=run.get("dataset"))
        # the same config on error records: resume recognises a group that failed as done
        config = _run_config(run)
        try:
            recs = evaluate(
                policy, run["env"], env_kwargs,
                _seed_list(run.get("seeds", spec.get("seeds", 5))),
                int(run.get("episodes", spec.get("episodes", 1))),
                method=label, dataset_id=run.get("dataset"),
                # references with no scale (expert not above random): evaluate measures them
                # itself and records NaN scores with its warning (given, they are refused)
                ref_scores=refs[ref_key] if refs[ref_key][1] > refs[ref_key][0] else None,
                tier=run.get("tier"), exploitability=run.get("exploitability", False),
                config=config,
            )
        except (PopulationTooLargeError, MemoryError, DivergedError) as e:
            # a diverged checkpoint is one run's failure: recorded, the sweep goes on
            recs = [{"method": label, "env_id": run["env"], "n_agents": n,
                     "env_kwargs": env_kwargs, "tier": run.get("tier"),
                     "error": f"{type(e).__name__}: {e}", "config": config,
                     "git_commit": git_commit()}]
        if out is not None:
            in_file += _append_unless_there(recs, out, seen)
        records += recs
    if resume and out is not None:
        # the file in the sweep's order, as a fresh run writes it: resumed groups were appended
        # after the kept ones, and reports list runs in file order
        order = {identity(run, n)[2]: i for i, (run, n) in enumerate(jobs)}
        records.sort(key=lambda r: order.get(_record_key(r), len(order)))  # stable: seed order
        in_file.sort(key=lambda r: order.get(_record_key(r), len(order)))
        with records_lock(out):
            # what other processes appended to the file meanwhile stays, after this sweep's
            # (an outside audit: two sweeps into one --out each rewrote it with theirs alone)
            mine = Counter(_canonical_json(r) for r in in_file)
            others = []
            for r in read_jsonl(out) if Path(out).exists() else []:
                key = _canonical_json(r)
                if mine[key] > 0:
                    mine[key] -= 1
                else:
                    others.append(r)
            tmp = _tmp_beside(out)
            tmp.unlink(missing_ok=True)
            write_jsonl(in_file + others, tmp, append=False, lock=False)
            tmp.replace(Path(out).resolve())
    return records


def _canonical_json(r: dict[str, Any]) -> str:
    """A record as the file holds it (numpy values, tuples as JSON has them), keys sorted."""
    return json.dumps(json.loads(json.dumps(r, default=_json_default)), sort_keys=True)


def _append_unless_there(recs: list[dict[str, Any]], out: str | Path,
                         seen: dict[str, Any]) -> list[dict[str, Any]]:
    """Append a group's records to ``out`` but those of a (run, seed) it holds by now, checked
    under its lock: another process evaluating the same run meanwhile (both passed the check
    before the episodes) would otherwise put it in the file twice (an error record: once per
    run). Returns what was appended; the sweep still returns all its own records. ``seen``
    keeps what the file held after this sweep's last append: the file is read again only when
    its size says another process wrote to it (a sweep of many groups read it once a group)."""
    with records_lock(out):
        size = Path(out).stat().st_size if Path(out).exists() else 0
        if seen.get("size") != size:
            there = read_jsonl(out) if size else []
            seen["records"] = there
            seen["have"] = {(_record_key(r), r.get("seed")) for r in there if not r.get("error")}
            seen["refused"] = {_record_key(r) for r in there if r.get("error")}
        have, refused = seen["have"], seen["refused"]
        new = [r for r in recs if (_record_key(r) not in refused if r.get("error")
                                   else (_record_key(r), r.get("seed")) not in have)]
        if len(new) < len(recs):
            warnings.warn(f"{out}: another process wrote {len(recs) - len(new)} of these runs "
                          "meanwhile (same policy, settings and seeds); not appended twice",
                          MfdiffWarning, stacklevel=3)
        # measured otherwise under one label by another process since run_sweep's first check
        refuse_conflicting_append(out, seen["records"], new)
        write_jsonl(new, out)
        seen["records"] = [*seen["records"], *new]
        have |= {(_record_key(r), r.get("seed")) for r in new if not r.get("error")}
        refused |= {_record_key(r) for r in new if r.get("error")}
        seen["size"] = Path(out).stat().st_size
    return new


def _resume_kept(out: str | Path, jobs: list[tuple[dict[str, Any], int]], spec: dict[str, Any],
                 identity: Callable[[dict[str, Any], int], tuple[str, dict[str, Any], str]],
                 done: set[str]) -> list[dict[str, Any]]:
    """``--resume``: the records of ``out`` that stand (finished groups of this sweep, their
    keys added to ``done``), written back as the file; the others leave it, with a warning
    and a backup. Called under the file's :func:`records_lock`."""
    wanted = {identity(run, n)[2]: run for run, n in jobs}
    groups: dict[str, list[dict[str, Any]]] = {}
    old = read_jsonl(out)
    for r in old:
        key = _record_key(r)
        if key in wanted:
            groups.setdefault(key, []).append(r)
    for key, group in groups.items():
        run = wanted[key]
        # complete as the sweep now asks for it: its seeds, episodes per seed and dataset
        # (a sweep edited in any of them re-evaluates the group instead of keeping records
        # of other seeds or another normalisation)
        seeds = sorted(_seed_list(run.get("seeds", spec.get("seeds", 5))))
        episodes = int(run.get("episodes", spec.get("episodes", 1)))
        same = (sorted(r.get("seed", -1) for r in group) == seeds
                and all(r.get("episodes") == episodes for r in group))
        # the checkpoint retrained or edited in place since (records written before the
        # identity was recorded cannot tell, and are kept)
        now = checkpoint_identity(run["policy"])
        unchanged = not any(
            now is not None and (r.get("config") or {}).get("checkpoint") is not None
            and r["config"]["checkpoint"].get("id") != now["id"] for r in group)
        # an error record (the policy refused the population) stands while its checkpoint
        # is the same: retrained, e.g. with a larger max_agents, it is evaluated again
        if unchanged and (any(r.get("error") for r in group) or (
                same and all(r.get("dataset_id") == run.get("dataset") for r in group))):
            done.add(key)
    # in the file's order (a set's order changes with the process's hash seed)
    kept = [r for key, group in groups.items() if key in done for r in group]
    dropped = len(old) - len(kept)
    if dropped:
        # records of runs no longer in the sweep (or to be re-evaluated) leave the file:
        # said, and kept beside it, since a wrong --out would otherwise lose another
        # sweep's results
        bak = free_backup(Path(out))
        shutil.copyfile(out, bak)
        other = sum(1 for r in old if _record_key(r) not in wanted)
        warnings.warn(
            f"{out}: --resume drops {dropped} of its {len(old)} records ({other} of runs "
            f"not in this sweep, {dropped - other} to be re-evaluated); the file as it was "
            f"is kept in {bak}", MfdiffWarning, stacklevel=2)
    tmp = _tmp_beside(out)
    tmp.unlink(missing_ok=True)
    write_jsonl(kept, tmp, lock=False)
    tmp.replace(Path(out).resolve())  # atomic: an interruption here loses nothing
    return kept


def _run_config(run: dict[str, Any]) -> dict[str, Any]:
    """The ``config`` a run's records carry: policy, overrides, exploitability, checkpoint."""
    ident = checkpoint_identity(run["policy"])
    return {"policy": str(run["policy"]), "set": run.get("set", {}),
            **({"exploitability": True} if run.get("exploitability") else {}),
            **({"checkpoint": ident} if ident else {})}


def _probe(run: dict[str, Any], identity: tuple[str, dict[str, Any], str],
           family: str, n_core: int, spec: dict[str, Any]) -> dict[str, Any]:
    """A (run, N)'s record without results, for :func:`check_appendable` (``n_core``: the
    env core's n_agents, which records keep: Battle's counts one team)."""
    label, env_kwargs, _ = identity
    probe = {"method": label, "env_id": run["env"], "n_agents": n_core, "env_kwargs": env_kwargs,
             "tier": run.get("tier"), "episodes": int(run.get("episodes", spec.get("episodes", 1))),
             "dataset_id": run.get("dataset"), "config": _run_config(run),
             "policy_class": policy_class_name(run["policy"])}
    if run.get("exploitability") and family != "squeeze":  # evaluate's default share
        probe["deviation_fraction"] = 0.01
    return probe


def _check_env(run: dict[str, Any], n: int, i: int) -> tuple[str, int]:
    """Raise now what evaluating ``run`` at N = ``n`` would raise for its env: an unknown id,
    kwargs or N the env refuses, a checkpoint trained on another family or spaces. Builds the
    env core (no episode) and reads only the checkpoint's ``config.json``. Returns the env's
    family and the core's n_agents."""
    import gymnasium as gym

    from mfdiff_agents.checkpoint import EnvFacts, read_meta
    from mfdiff_agents.evaluation.run import make_core
    from mfdiff_envs.offline.integrity import DatasetError

    where = f"runs[{i}] ({run['policy']}) at N = {n}"
    env_kwargs = {**run.get("env_kwargs", {}), "n_agents": n}
    try:
        core = make_core(run["env"], env_kwargs)
        if run.get("dataset"):  # its reference returns must normalise this env (metadata only)
            reference_scores(run["env"], env_kwargs, dataset_id=run["dataset"])
        if Path(run["policy"]).is_dir():
            with warnings.catch_warnings():  # other kwargs than trained: the evaluation warns
                warnings.simplefilter("ignore")
                facts, who = EnvFacts(**read_meta(run["policy"])["env"]), \
                    f"{policy_label(run['policy'])} policy"
                facts.check_core(core, who=who)
                facts.check_population(core.agent_names, who=who)
                facts.check_tier(run.get("tier"), who=who)
    except (ValueError, TypeError, gym.error.Error, DatasetError) as e:
        raise ValueError(f"{where}: {e}") from None
    return str(core.family), int(core.n_agents)


def _tmp_beside(out: str | Path) -> Path:
    """A scratch file beside ``out`` (the file a symlink points to), compressed as ``out`` is (a
    .gz name is written gzip)."""
    p = Path(out).resolve()
    return p.with_name(p.name + ".resume-tmp" + (".gz" if p.suffix == ".gz" else ""))
