"""Reports of evaluation records: JSON-lines files, markdown tables headed by the command that
regenerates them, and PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import stat
import threading
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mfdiff_agents.evaluation.stats import aggregate, get_metric, held_out_exploitability


@contextlib.contextmanager
def records_lock(path: str | Path, *, shared: bool = False) -> Iterator[None]:
    """Hold a lock on the records file ``path`` (POSIX ``flock`` on a hidden ``.NAME.lock``
    beside the file a symlink points to; elsewhere no lock): every read-then-write of a records
    file (appends, the duplicate check and its append, ``--sweep --resume``'s rewrite) runs
    under it exclusively, so that processes sharing one ``--out`` neither lose nor double each
    other's records (an outside audit lost a whole sweep's records, and corrupted a .gz,
    without it). ``shared``: a reader's lock, taken only where the lock file exists already
    (reading never writes). The lock file is opened read-write, else read-only (another
    user's, or one in a directory this process may not write, still locks); where none can be
    opened, or the filesystem has no ``flock``, the write goes on unlocked, as before locks."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    real = Path(path).resolve()  # two spellings of one file (a symlink): one lock
    lock = real.with_name(f".{real.name}.lock")
    held = _HELD.__dict__.setdefault("locks", set())
    if lock in held:  # held by this thread already (flock would wait for itself)
        yield
        return
    fd = _open_lock(lock, create=not shared)
    if fd is None:  # no lock file and none can be made (read-only dir): unlocked
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)  # waits: writes are short
        except OSError:  # a filesystem without flock (ENOLCK): unlocked, as before locks
            yield
            return
        held.add(lock)
        try:
            yield
        finally:
            held.discard(lock)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_lock(lock: Path, *, create: bool) -> int | None:
    """A descriptor of the regular file ``lock``: read-write where possible (NFS emulates flock
    with fcntl locks, and an exclusive one needs a file open for writing), else read-only
    (another user's lock file, a read-only directory); None where there is none to open, or
    ``lock`` is no regular file (a FIFO of that name would block the open)."""
    if create:
        with contextlib.suppress(OSError):
            lock.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    for mode in ((os.O_RDWR | os.O_CREAT) if create else os.O_RDWR, os.O_RDONLY):
        try:
            fd = os.open(lock, mode | flags, 0o666)
        except OSError:
            continue
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
        return None
    return None


_HELD = threading.local()  # the records locks this thread holds (records_lock is reentrant)


def _jsonl_text(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, default=_json_default) + "\n" for r in records)


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path, *,
                append: bool = True, lock: bool = True) -> Path:
    """Append (or write) records as JSON lines, under :func:`records_lock`; gzip-compressed
    when ``path`` ends in .gz. An append to a .gz replaces it atomically (its old bytes and a
    new gzip member, which gzip readers read on as one stream; the file a symlink points to,
    with its permissions): a gzip stream cut short by a killed append is refused whole. A
    plain file, or a .gz in a directory this process may not write, is appended to in place (a
    line cut short is refused with its line number). ``lock=False``: a private scratch file,
    or the caller holds the lock."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = _jsonl_text(records)  # serialised first: a record that fails leaves the file as is
    with records_lock(p) if lock else contextlib.nullcontext():
        real = p.resolve()
        if real.suffix == ".gz" and append and real.exists() and os.access(real.parent, os.W_OK):
            tmp = real.with_name(f".{real.name}.tmp-{os.getpid()}")
            try:
                with tmp.open("wb") as f:
                    f.write(real.read_bytes())
                    f.write(gzip.compress(text.encode(), mtime=0))
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, stat.S_IMODE(real.stat().st_mode))
                tmp.replace(real)
            finally:
                tmp.unlink(missing_ok=True)
        elif real.suffix == ".gz":
            with real.open("ab" if append else "wb") as f:
                f.write(gzip.compress(text.encode(), mtime=0))
        else:
            with real.open("a" if append else "w") as f:
                f.write(text)
    return p


def append_new_runs(records: Sequence[dict[str, Any]], path: str | Path,
                    template: dict[str, Any]) -> list[int]:
    """Append ``records`` (runs of ``template``, one per seed: see :func:`seeds_already_in`) to
    ``path`` except those whose run the file holds by now, checked under the file's lock;
    returns the seeds left out. A caller checks before it evaluates; this second check catches
    a process that appended the same run meanwhile (two identical evaluations started together
    both passed the first check and both appended: a file every report then refused)."""
    with records_lock(path):
        there = set(seeds_already_in(path, template, [int(r["seed"]) for r in records]))
        new = [r for r in records if int(r["seed"]) not in there]
        if new and Path(path).exists():
            refuse_conflicting_append(path, read_jsonl(path), new)
        write_jsonl(new, path)
    return sorted(there)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of one JSON-lines file (gzip-compressed when it ends in .gz), in order;
    read under :func:`records_lock`'s shared lock where a writer made one (a line being
    appended is not read half-written)."""
    p = Path(path)
    try:
        with records_lock(p, shared=True):
            text = (gzip.decompress(p.read_bytes()).decode() if p.suffix == ".gz"
                    else p.read_text())
    except (IsADirectoryError, EOFError, gzip.BadGzipFile, zlib.error,
            UnicodeDecodeError) as e:
        # a truncated .gz, a directory, a binary file: one line naming it, not a traceback
        raise ValueError(f"{p}: not a readable records file ({type(e).__name__}: {e})") from None
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}, line {i}: not a JSON record ({e})") from None
        if not isinstance(r, dict):
            raise ValueError(f"{p}, line {i}: a record is a JSON object, got {type(r).__name__}")
        out.append(r)
    return out


def _canonical_value(v: Any) -> Any:
    """An override as its value, not its spelling: ``--set temperature=2`` and ``=2.0`` (and a
    sweep's TOML 2) are one setting to the duplicate and pooling checks (an outside audit found
    the second appended as another run, then the file refused as two settings)."""
    if isinstance(v, str):
        if v.strip().lower() in ("none", "null"):  # what build_config reads as None
            return None
        try:
            parsed = json.loads(v)
        except ValueError:
            try:  # the comma form build_config takes for tuple fields: "8,8,4" is [8,8,4]
                parsed = json.loads(f"[{v}]") if "," in v else None
            except ValueError:
                parsed = None
            return _canonical_value(parsed) if isinstance(parsed, list) else v.strip()
        return _canonical_value(parsed) if isinstance(parsed, (int, float, list)) else v.strip()
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_canonical_value(x) for x in v]
    return v


def canonical_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """Planning overrides (a record's ``config.set``, a sweep run's ``set``) as values, not
    spellings: ``"null"``, ``"none"`` and None are one setting, as are ``2``, ``2.0`` and ``"2"``
    and ``"8,8,4"`` and ``[8, 8, 4]``: what the duplicate and pooling checks compare."""
    return {k: _canonical_value(v) for k, v in overrides.items()}


def _canonical_config(cfg: Any) -> Any:
    if isinstance(cfg, dict) and isinstance(cfg.get("set"), dict):
        return {**cfg, "set": canonical_overrides(cfg["set"])}
    return cfg


#: above this many agents kwargs are compared as written: building the env to read its
#: defaults took seconds and GBs at N = 10^7-10^8 (an outside review)
CANONICAL_MAX_AGENTS = 1_000_000


@functools.lru_cache(maxsize=4096)
def _canonical_kwargs_json(env_id: str, kwargs_json: str) -> str:
    import gymnasium as gym

    import mfdiff_envs  # noqa: F401  (registers the ids)

    kwargs = json.loads(kwargs_json)
    n = kwargs.get("n_agents")
    if isinstance(n, int) and n > CANONICAL_MAX_AGENTS:
        return kwargs_json
    try:
        core = gym.make(env_id, **kwargs).unwrapped.core
    except Exception:  # any env this process cannot build (not installed, not ours, failing):
        return kwargs_json  # a comparison aid only, so compared as written, never a crash
    full = core.kwargs() if hasattr(core, "kwargs") else {}
    return json.dumps({**kwargs, **full}, sort_keys=True, default=str)


def canonical_env_kwargs(env_id: str | None, env_kwargs: dict[str, Any] | None
                         ) -> dict[str, Any]:
    """``env_kwargs`` with the values the env's core reports for its constructor
    (``core.kwargs()``) laid over them: ``{"n_agents": 333}`` and the checkpoint's full kwargs
    of the same env are one setting to the duplicate and pooling checks (an outside audit: a
    run repeated with the kwargs written another way was stored twice, and sweep records never
    pooled with a checkpoint's default-env records). What ``kwargs()`` does not normalise
    (Squeeze's ``mu`` as None vs its default's value, a scalar vs a one-entry list, keys it does
    not report) still compares as written, as do the kwargs of an env this process cannot
    build (not installed: so a file's verdict can depend on what is installed) and of more
    than :data:`CANONICAL_MAX_AGENTS` agents. The reading code's defaults fill them in."""
    kwargs = dict(env_kwargs or {})
    if not isinstance(env_id, str):
        return kwargs
    return json.loads(_canonical_kwargs_json(env_id, json.dumps(kwargs, sort_keys=True,
                                                                default=str)))


#: config keys of the exploitability measure, measured on top of the seeded episodes: a run
#: evaluated with and without it (or with another deviation set) plays the same episodes, so
#: its score counted twice (an outside review: `mfdiff eval --out F` then the same with
#: `--exploitability` pooled 2 seeds as 4)
MEASURE_KEYS = ("exploitability", "deviation_set", "deviation_fraction", "deviations",
                "deviation_ids")


def _run_identity(r: dict[str, Any]) -> str:
    # what was evaluated, where, with which seed: two records agreeing on all of it are one
    # measurement counted twice. A checkpoint is named by its identity, not by how its path
    # was spelt (t3, t3/ and /abs/t3 are one checkpoint)
    cfg = _canonical_config(r.get("config"))
    if isinstance(cfg, dict) and (cfg.get("checkpoint") or {}).get("id"):
        cfg = {**cfg, "policy": None}
    if isinstance(cfg, dict):
        cfg = {k: v for k, v in cfg.items() if k not in MEASURE_KEYS}
    kwargs = canonical_env_kwargs(r.get("env_id"), r.get("env_kwargs"))
    return json.dumps([r.get("method"), cfg, r.get("env_id"), kwargs,
                       r.get("n_agents"), r.get("tier"), r.get("seed"), r.get("episodes")],
                      sort_keys=True, default=str)


def seeds_already_in(path: str | Path, template: dict[str, Any],
                     seeds: Iterable[int]) -> list[int]:
    """The evaluation seeds among ``seeds`` whose run ``path`` (a records file; none if it does
    not exist) already holds: a record of the same method label, config (checkpoint, overrides,
    deviations), env id, env kwargs, tier and episode count as ``template`` at that seed.

    Appending such a run again would put it in the file twice, which :func:`read_records` (and
    so every report of the file) then refuses: ``mfdiff eval --out`` checks before it
    evaluates, instead of leaving a file that needs editing by hand. Records of another
    checkpoint under the same label (training seeds pooled into one row) are not repeats.
    """
    p = Path(path)
    if not p.exists():
        return []
    want = {int(s) for s in seeds}

    def ident(r: dict[str, Any], seed: Any) -> str:  # N follows from the env kwargs
        return _run_identity({**r, "seed": seed, "n_agents": None})

    mine = {s: ident(template, s) for s in want}
    return sorted({int(r["seed"]) for r in read_jsonl(p)
                   if not r.get("error") and r.get("seed") in want
                   and ident(r, r["seed"]) == mine[r["seed"]]})


def read_records(*paths: str | Path, methods: Collection[str] | None = None
                 ) -> list[dict[str, Any]]:
    """The records of several JSON-lines files, refusing duplicates.

    A run (method, config, env, N, tier, evaluation seed) present twice, e.g. in a lane's file
    and in the merged file it was copied into, would count as two seeds: the mean stays but the
    CI narrows and the seed count doubles, silently. Error records (no metrics) are kept as they
    are. ``methods``: only the records of these methods are returned and checked (the files may
    also hold other policies' runs that are the same run twice, e.g. the scripted rows that a
    medium and a mixed evaluation of the same N both play, and that the caller does not read).

    Raises:
        ValueError: naming the first duplicated run and the files it is in.
    """
    seen: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for path in paths:
        for i, r in enumerate(read_jsonl(path)):
            missing = [k for k in ("method", "env_id") if k not in r]
            if missing:
                raise ValueError(f"{path}: record {i + 1} has no {', '.join(missing)}: not an "
                                 "evaluation record (mfdiff eval --out / a sweep's records)")
            if methods is not None and r.get("method") not in methods:
                continue
            if not r.get("error"):
                key = _run_identity(r)
                if key in seen:
                    raise ValueError(
                        f"duplicate evaluation record ({r.get('method')!r}, N = "
                        f"{r.get('n_agents')}, tier {r.get('tier')!r}, seed {r.get('seed')}) in "
                        f"{seen[key]} and {path}: the same run would count twice; remove one "
                        "copy (e.g. a lane file already merged into another)"
                        + ("" if _has_checkpoint(r) else
                           ". Runs without a recorded checkpoint identity are told apart by "
                           "config['policy'] alone: if these are two models (e.g. training "
                           "seeds of a policy of your own), give each its own "
                           "(evaluate(..., config={'policy': 'mymethod-s1'}))"))
                seen[key] = str(path)
            out.append(r)
    return out


def _has_checkpoint(r: dict[str, Any]) -> bool:
    """Whether a record measured a trained checkpoint (its identity is recorded)."""
    cfg = r.get("config") if isinstance(r.get("config"), dict) else {}
    ident = cfg.get("checkpoint")
    return isinstance(ident, dict) and ident.get("id") is not None


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


HELD_OUT_NOTE = (
    "exploitability: per seed, the largest per-agent gain over the deviation set (the issue's "
    "measure; a maximum of noisy gains, biased upward). exploitability_heldout: per run, the gain "
    "of the deviation that is best on the group's other runs (leave one run out: the other "
    "training seeds of its evaluation seed stay in the choice, so where their gains are "
    "correlated some upward bias remains; docs/results/README.md, forty-first update).")

XN_NOTE = (
    "exploitability on Squeeze: the best per-agent gain of a one-step level change with the "
    "others' levels held fixed, exact from the reward formula; nash_gap_xN: N × that gain "
    "(the reward is shared, so one agent's gain is O(1/N)). Ex post, an upper bound: each "
    "agent's level is chosen knowing the levels the others drew that step, so a policy that "
    "samples its levels reads a gain from that noise alone (the ex ante gain: "
    "exploitability.squeeze_exante_gain; docs/results/README.md, seventy-third update). "
    "nash_gap_xN_exante / _plugin (mfdiff eval --exante-resamples R): N × the ex ante gain, "
    "each agent's level chosen on half the step's R draws and judged on the other half (from "
    "below) / chosen and judged on all (from above).")
POP_NOTE = (
    "exploitability_pop, exploitability_pop_heldout: the same with the deviators' gain measured "
    "against the whole population's mean return under the policy instead of their own (same "
    "expectation, the deviators being drawn uniformly; lower variance where the deviation "
    "decouples the episode: mfdiff_agents/evaluation/exploitability.py).")


def _row_settings(r: dict[str, Any]) -> str:
    # what a row's runs must share besides the row key: acting settings, env kwargs other than
    # N, episodes per seed and the dataset that normalises the score (training seeds, i.e.
    # checkpoint paths, may differ: a row pools them)
    cfg = _canonical_config(r.get("config") or {})
    kw = {k: v for k, v in canonical_env_kwargs(r.get("env_id"), r.get("env_kwargs")).items()
          if k != "n_agents"}
    return json.dumps([cfg.get("set", {}), kw, r.get("episodes"), r.get("dataset_id")],
                      sort_keys=True, default=str)


def check_rows(records: Sequence[dict[str, Any]],
               by: Sequence[str] = ("method", "env_id", "n_agents", "tier")) -> None:
    """Refuse records that one report row would pool although they were measured differently
    (other ``--set`` overrides, env kwargs, episodes or dataset under the same method name;
    checkpoints trained with other settings or data; two checkpoints at one path, i.e. one
    retrained in place between evaluations; an unfinished run's save beside finished ones):
    their mean and CI would describe no setting. Two evaluations of one checkpoint with other
    settings need their own labels (``label`` in a sweep, ``--label`` in `mfdiff eval`).

    Raises:
        ValueError: naming the row and two of its settings.
    """
    seen: dict[tuple, str] = {}
    classes: dict[tuple, str] = {}
    fractions: dict[tuple, float] = {}
    resamples: dict[tuple, int | None] = {}
    unnamed: dict[tuple, bool] = {}
    foreign: dict[tuple, str] = {}
    trained: dict[tuple, tuple[str, str]] = {}
    ids: dict[tuple, str] = {}
    short: dict[tuple, tuple[tuple, str]] = {}
    contents: dict[tuple, tuple[str, str]] = {}
    for r in records:
        if r.get("error"):
            continue
        k = tuple(r.get(b) for b in by)
        settings = _row_settings(r)
        if seen.setdefault(k, settings) != settings:
            raise ValueError(
                f"records of {r.get('method')!r} at N = {r.get('n_agents')} (tier "
                f"{r.get('tier')!r}) were measured with different settings ([set, env kwargs, "
                f"episodes, dataset] {seen[k]} and {settings}): one row would pool them; give "
                "each setting its own label (sweep: label = ...; mfdiff eval: --label)")
        cfg = r.get("config") or {}
        ident = cfg.get("checkpoint") or {}
        # two policy classes under one label, e.g. a policy of the user's own evaluated as
        # "bc" beside the package's BC: a row of neither (an outside audit: 96.6 became 99.4).
        # Records written before the class was recorded (the fiftieth update) name none: they
        # are compared only against a class of the user's own (below)
        # exploitability measured by other shares of deviators (records before the fiftieth
        # update carry none: every one of them measured 1 %)
        row = f"records of {r.get('method')!r} at N = {r.get('n_agents')} (tier {r.get('tier')!r})"
        frac = r.get("deviation_fraction")
        if frac is not None and fractions.setdefault(k, frac) != frac:
            raise ValueError(f"{row} measured exploitability with {fractions[k]} and {frac} of "
                             "the agents deviating: give each its own label")
        # Squeeze: runs with the ex ante gain and without, or with another R
        if "nash_gap_xN" in r and resamples.setdefault(k, r.get("resamples")) != r.get(
                "resamples"):
            raise ValueError(f"{row} measured Squeeze's ex ante gain with {resamples[k]} and "
                             f"{r.get('resamples')} draws a step (None: not measured): its "
                             "columns would pool other runs than the row's; give each its own "
                             "label")
        cls = r.get("policy_class")
        if cls is not None and classes.setdefault(k, cls) != cls:
            a, b = sorted([classes[k], cls])
            raise ValueError(
                f"records of {r.get('method')!r} at N = {r.get('n_agents')} (tier "
                f"{r.get('tier')!r}) come from two policy classes ({a} and {b}): give each its "
                "own label (mfdiff eval: --label; evaluate(method=...))")
        # a class of the user's own beside records that name none (written before the class
        # was recorded, all by the package's own policies)
        unnamed.setdefault(k, False)
        unnamed[k] |= cls is None
        if cls is not None and not cls.startswith("mfdiff_agents."):
            foreign.setdefault(k, cls)
        if unnamed[k] and k in foreign:
            raise ValueError(
                f"records of {r.get('method')!r} at N = {r.get('n_agents')} (tier "
                f"{r.get('tier')!r}) pool runs of {foreign[k]} with records that name no policy "
                "class (written by the package's own policies before it was recorded): give "
                "your policy's runs their own label (evaluate(method=...))")
        # one path, two checkpoints: retrained (or edited) in place between evaluations
        path = (k, os.path.normpath(str(cfg.get("policy"))))
        if ident.get("id") is not None and ids.setdefault(path, ident["id"]) != ident["id"]:
            raise ValueError(
                f"records of {r.get('method')!r} at N = {r.get('n_agents')} (tier "
                f"{r.get('tier')!r}) come from two different checkpoints at one path "
                f"({path[1]}: retrained or changed between the evaluations); keep the "
                "records of one (sweep --resume re-evaluates a changed checkpoint)")
        # checkpoints of one row may differ by training seed only (records written before
        # the checkpoint's settings were recorded carry none, and are not compared)
        if ident.get("settings") is not None:
            here = (ident["settings"], str(cfg.get("policy")))
            first = trained.setdefault(k, here)
            if first[0] != here[0]:
                raise ValueError(
                    f"records of {r.get('method')!r} at N = {r.get('n_agents')} (tier "
                    f"{r.get('tier')!r}) come from checkpoints trained with different "
                    f"settings or data ({first[1]} and {here[1]}; a row pools training seeds "
                    "of one setting): give each its own label (sweep: label = ...; mfdiff "
                    "eval: --label)")
            content = ident.get("dataset_content")
            if content is not None:  # recorded by checkpoints since the fortieth update
                was = contents.setdefault(k, (content, str(cfg.get("policy"))))
                if was[0] != content:
                    raise ValueError(
                        f"records of {r.get('method')!r} at N = {r.get('n_agents')} come from "
                        f"checkpoints trained on different data under one dataset id ({was[1]} "
                        f"and {cfg.get('policy')}: the dataset was rebuilt between them): give "
                        "each its own label")
            # an unfinished run's save (killed training) pooled with finished seeds
            step = ("finished", ident.get("steps_done"))
            if short.setdefault(k, (step, str(cfg.get("policy"))))[0] != step:
                other = short[k][1]
                raise ValueError(
                    f"records of {r.get('method')!r} at N = {r.get('n_agents')} pool "
                    f"checkpoints saved at different points of their runs ({other} and "
                    f"{cfg.get('policy')}; one is an unfinished or interrupted run): finish "
                    "it (`mfdiff train --resume`) and re-evaluate")


ROW_KEY = ("method", "env_id", "n_agents", "tier")  # what one report row pools (check_rows)


def _join_conflict(existing: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]
                   ) -> str | None:
    """:func:`check_rows`' reason where ``new`` records (or probes) join report rows of
    ``existing`` measured differently, row by row; a row that ``existing`` alone already gets
    refused is its own reports' business and skipped (only that row: a conflict elsewhere in
    the file must not switch the check off for every label, an outside review)."""
    def key(r: dict[str, Any]) -> tuple:
        return tuple(r.get(b) for b in ROW_KEY)

    touched = {key(r) for r in new if not r.get("error")}
    rows: dict[tuple, list[dict[str, Any]]] = {}
    for r in existing:
        if not r.get("error") and key(r) in touched:
            rows.setdefault(key(r), []).append(r)
    for k in sorted(touched, key=str):
        old = rows.get(k, [])
        try:
            check_rows(old)
        except ValueError:
            continue
        try:
            check_rows([*old, *(r for r in new if key(r) == k and not r.get("error"))])
        except ValueError as e:
            return str(e)
    return None


def check_appendable(path: str | Path | None, probes: Sequence[dict[str, Any]]) -> None:
    """Refuse, before anything is played, runs that one report row would pool with records
    measured differently (:func:`check_rows`): among themselves, or with the records already in
    ``path`` (a records file, none if it does not exist). A probe is a run's record without its
    results: method label, config, env id and kwargs, N, tier, episodes, dataset id, and where
    known the policy class and the exploitability's deviating share. Checked only at report
    time, such a file was written in full (hours of a sweep) and then every report refused it.
    The appends check again under the file's lock (another process may write meanwhile).

    Raises:
        ValueError: naming the file (or the new runs) and :func:`check_rows`' reason.
    """
    try:
        check_rows(probes)
    except ValueError as e:
        raise ValueError(f"the runs to evaluate conflict among themselves: {e}") from None
    if path is None or not Path(path).exists():
        return
    reason = _join_conflict(read_jsonl(path), probes)
    if reason is not None:
        raise ValueError(f"{path} holds records that a report would pool with these runs: "
                         f"{reason}")


def refuse_conflicting_append(path: str | Path, existing: Sequence[dict[str, Any]],
                              records: Sequence[dict[str, Any]]) -> None:
    """Under ``path``'s lock, before ``records`` are appended: where another process appended
    records that a report would pool with them although measured differently (after this
    process's :func:`check_appendable` passed), keep ``records`` in a file beside ``path``
    (never lost) and raise instead of leaving a file every report refuses."""
    reason = _join_conflict(existing, records)
    if reason is None:
        return
    p = Path(path)
    side = p.with_name(f"{p.name}.refused-{os.getpid()}.jsonl")
    write_jsonl(records, side, append=False, lock=False)
    raise ValueError(f"{path}: another process appended records meanwhile that a report would "
                     f"pool with these: {reason}. This run's {len(records)} records are kept in "
                     f"{side}")


def markdown_table(records: Sequence[dict[str, Any]], *, command: str,
                   metrics: Sequence[str] = ("normalized_score", "return", "optimum_gap",
                                             "order_parameter", "win_rate", "exploitability",
                                             "exploitability_heldout", "exploitability_pop",
                                             "exploitability_pop_heldout", "nash_gap_xN",
                                             "nash_gap_xN_exante", "nash_gap_xN_exante_plugin",
                                             "latency_ms"),
                   by: Sequence[str] = ("method", "env_id", "n_agents", "tier"),
                   title: str = "Results") -> str:
    """A markdown table (one row per group, mean [95 % CI] and IQM per metric present), headed
    by the exact command that regenerates it. Records with per-deviation gains also get the
    held-out exploitability (:func:`~mfdiff_agents.evaluation.stats.held_out_exploitability`).
    Records a row would pool across different settings are refused (:func:`check_rows`)."""
    check_rows(records, by)
    records = held_out_exploitability(records, by=by)
    present = [m for m in metrics if any(get_metric(r, m) is not None for r in records)]
    per_metric = {m: {tuple(a[k] for k in by): a for a in aggregate(records, metric=m, by=by)}
                  for m in present}
    keys: list[tuple] = []
    for r in records:
        if r.get("error"):
            continue
        k = tuple(r.get(b) for b in by)
        if k not in keys:
            keys.append(k)
    shown_by = [b for b in by if any(k[by.index(b)] is not None for k in keys)]
    head = [*shown_by, *present, "seeds"]
    lines = [f"# {title}", "", "Regenerate with:", "", "```", command, "```", "",
             "Cells: mean [95 % bootstrap CI] (IQM) over seeds; normalized score: "
             "0 = uniform random, 100 = scripted expert (the reference returns).", "",
             *([HELD_OUT_NOTE, ""] if "exploitability_heldout" in present else []),
             *([POP_NOTE, ""] if "exploitability_pop" in present else []),
             *([XN_NOTE, ""] if "nash_gap_xN" in present else []),
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in keys:
        # a row without the key (a scripted policy has no data tier) beside rows with it
        cells = ["–" if k[by.index(b)] is None else str(k[by.index(b)]) for b in shown_by]
        n = 0
        for m in present:
            a = per_metric[m].get(k)
            if a is None:
                cells.append("–")
                continue
            n = max(n, a["n"])
            if a.get("undefined"):
                cells.append("n/a (expert not above random here)")
                continue
            fmt = _fmt(m)
            cells.append(f"{fmt(a['mean'])} [{fmt(a['ci_low'])}, {fmt(a['ci_high'])}] "
                         f"({fmt(a['iqm'])})")
        lines.append("| " + " | ".join([*cells, str(n)]) + " |")
    # a row's acting overrides (one per row: check_rows refuses two), which its label alone
    # did not show (an outside review: a sweep's `set` read as the checkpoint's own settings)
    sets: dict[tuple, str] = {}
    for r in records:
        over = _canonical_config(r.get("config") or {}).get("set") or {}
        if over and not r.get("error"):
            sets.setdefault(tuple(r.get(b) for b in by), ", ".join(
                f"{k}={_set_value(v)}" for k, v in sorted(over.items())))
    if sets:
        lines += ["", "Acting settings over each checkpoint's own (`--set`, a sweep's `set`):", ""]
        lines += ["- " + " | ".join("–" if k[by.index(b)] is None else str(k[by.index(b)])
                                    for b in shown_by) + f": {v}" for k, v in sets.items()]
    errors = [r for r in records if r.get("error")]
    if errors:
        lines += ["", "Not run (the method refused the population, or its actions were NaN):", ""]
        lines += [f"- {r['method']} at N = {r['n_agents']}: {r['error']}" for r in errors]
    return "\n".join(lines) + "\n"


def _set_value(v: Any) -> str:
    """A canonical override as ``--set`` takes it: whole floats as integers, lists comma-joined."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (list, tuple)):
        return ",".join(_set_value(x) for x in v)
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def _fmt(metric: str) -> Callable[[float], str]:
    if metric in ("optimum_gap", "win_rate", "order_parameter", "exploitability",
                  "exploitability_heldout", "exploitability_pop", "exploitability_pop_heldout",
                  "nash_gap_xN", "nash_gap_xN_exante", "nash_gap_xN_exante_plugin"):
        return lambda v: f"{v:.3f}"
    if metric == "latency_ms":
        return lambda v: f"{v:.2f}"
    return lambda v: f"{v:.1f}"


# --------------------------------------------------------------------------- plots
def plt_agg() -> Any:
    """matplotlib.pyplot with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _varying(records: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[str]:
    """The ``keys`` whose value differs between records: the ones a label must show."""
    return [k for k in keys if len({str(r.get(k)) for r in records}) > 1]


def _lines_vs_n(ax: Any, records: Sequence[dict[str, Any]], metric: str) -> None:
    # one line per method *and* data tier / env: pooling medium and mixed runs into one mean
    # would draw a score no policy has
    split = ["method", *_varying(records, ("tier", "env_id"))]
    lines = list(dict.fromkeys(tuple(str(r.get(k)) for k in split) for r in records))
    for key in lines:
        runs = [r for r in records if tuple(str(r.get(k)) for k in split) == key]
        agg = sorted(aggregate(runs, metric=metric, by=("n_agents",)),
                     key=lambda a: a["n_agents"])
        if not agg:
            continue
        label = key[0] + "".join(f", {v.removeprefix('mfdiff/')}" for v in key[1:]
                                 if v != "None")
        n = np.array([a["n_agents"] for a in agg])
        mean = np.array([a["mean"] for a in agg])
        err = np.array([[a["mean"] - a["ci_low"] for a in agg],
                        [a["ci_high"] - a["mean"] for a in agg]])
        ax.errorbar(n, mean, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("N agents")
    ax.grid(alpha=0.3)


def plot_score_vs_n(records: Sequence[dict[str, Any]], path: str | Path, *,
                    metric: str = "normalized_score") -> Path:
    """One panel per env: ``metric`` (mean ± 95 % CI over seeds) vs N, a line per method."""
    plt = plt_agg()
    envs = list(dict.fromkeys(r["env_id"] for r in records))
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs):
        _lines_vs_n(ax, [r for r in records if r["env_id"] == env], metric)
        ax.set_title(env)
        ax.set_ylabel(metric)
    # beside the panels: a grid's dozens of lines would cover them
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return save_figure(fig, path)


def plot_latency_vs_n(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Planning latency per step (ms, log-log) vs N, a line per method."""
    plt = plt_agg()
    fig, ax = plt.subplots(figsize=(5, 4))
    _lines_vs_n(ax, records, "latency_ms")
    ax.set_yscale("log")
    ax.set_ylabel("ms per act_batch")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return save_figure(fig, path)


def plot_score_by_tier(records: Sequence[dict[str, Any]], path: str | Path, *,
                       metric: str = "normalized_score") -> Path:
    """Grouped bars: ``metric`` per data tier (x) and method (bars), with 95 % CIs. Where the
    records hold several envs or N, each is its own group on the x axis (never pooled)."""
    plt = plt_agg()
    group = [*_varying(records, ("env_id", "n_agents")), "tier"]
    tiers = list(dict.fromkeys(tuple(str(r.get(k)) for k in group) for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    agg = {(a["method"], tuple(str(a[k]) for k in group)): a
           for a in aggregate(records, metric=metric, by=("method", *group))}
    fig, ax = plt.subplots(figsize=(min(18, max(5, 0.75 * len(tiers) * max(1, len(methods)))),
                                    4.5))
    width = 0.8 / max(len(methods), 1)
    for j, m in enumerate(methods):
        xs, ys, lo, hi = [], [], [], []
        for i, t in enumerate(tiers):
            a = agg.get((m, t))
            if a is None:
                continue
            xs.append(i + (j - (len(methods) - 1) / 2) * width)
            ys.append(a["mean"])
            lo.append(a["mean"] - a["ci_low"])
            hi.append(a["ci_high"] - a["mean"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=m)
    ax.set_xticks(range(len(tiers)), [", ".join(v.removeprefix("mfdiff/") for v in t)
                                      for t in tiers], fontsize=7 if len(group) > 1 else None)
    ax.set_xlabel(", ".join("N" if k == "n_agents" else k.replace("_id", "") for k in group))
    ax.set_ylabel(metric)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at ``path`` (parents created) and close it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, dpi=110, bbox_inches="tight")  # keeps a legend placed beside the axes
    plt_agg().close(fig)
    return p


def write_report(records: Sequence[dict[str, Any]], directory: str | Path, *, name: str,
                 command: str, title: str | None = None) -> dict[str, Path]:
    """``<dir>/<name>.md`` (table) and the PNG plots that apply (score vs N, by tier, latency);
    a plot of an earlier report of this name that no longer applies is removed, not left
    beside a table it does not describe."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"table": d / f"{name}.md"}
    paths["table"].write_text(markdown_table(records, command=command, title=title or name))
    plots = {"score_vs_n": plot_score_vs_n, "latency_vs_n": plot_latency_vs_n,
             "score_by_tier": plot_score_by_tier}
    applies = {"score_vs_n": len({r["n_agents"] for r in records}) > 1,
               "score_by_tier": len({r.get("tier") for r in records}) > 1}
    applies["latency_vs_n"] = applies["score_vs_n"]
    for kind, plot in plots.items():
        path = d / f"{name}_{kind}.png"
        if applies[kind]:
            paths[kind] = plot(records, path)
        else:
            path.unlink(missing_ok=True)
    return paths
