"""The one training loop every method goes through.

    policy = train(BCLearner, sampler, cfg, out_dir="runs/bc")           # or Method.fit(...)
    policy = train(BCLearner, sampler, cfg, out_dir="runs/bc", resume=True)

A method supplies a :class:`Learner` (its modules, optimisers and one gradient update); this
loop owns everything around it: seeding, the progress bar, ``metrics.csv``, periodic
checkpoints (the policy's checkpoint plus ``train_state.pt``) and ``resume``. The train state
holds the learner's state (weights, optimisers, target nets, its own generators), the torch
global RNG and the window sampler's RNG, so a resumed CPU run is bit for bit the run it
replaces; ``metrics.csv`` keeps only the rows up to the resumed step, so replayed steps are
never written twice.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from mfdiff_agents import distributed
from mfdiff_agents.checkpoint import (
    CONFIG_FILE,
    TRAIN_STATE_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    EnvFacts,
    free_backup,
    load_train_state,
    read_meta,
    save_train_state,
)
from mfdiff_agents.config import ConfigError, TrainConfig, config_to_dict, lr_scale
from mfdiff_agents.device import resolve_device, torch_threads
from mfdiff_agents.policy import DivergedError
from mfdiff_agents.trained import TrainedPolicy
from mfdiff_envs.core import MfdiffWarning

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import Windows, WindowSampler

METRICS_FILE = "metrics.csv"


class Learner(ABC):
    """One method's trainable state and update rule.

    ``__init__`` builds the modules and the optimiser ``self.opt`` (after the loop seeded torch
    with ``cfg.seed``) and may draw windows from ``sampler`` (e.g. normalisation statistics).
    """

    opt: torch.optim.Optimizer

    POLICY: ClassVar[type[TrainedPolicy]]
    #: Column order of metrics.csv (``step`` and ``seconds`` are added by the loop).
    LOG_KEYS: ClassVar[tuple[str, ...]] = ("loss",)

    def __init__(self, sampler: WindowSampler, cfg: TrainConfig, device: torch.device) -> None:
        self.sampler, self.cfg, self.device = sampler, cfg, device
        self.env = EnvFacts.from_sampler(sampler)

    @property
    @abstractmethod
    def model(self) -> torch.nn.Module:
        """The module the policy acts with (saved in the checkpoint)."""

    @abstractmethod
    def update(self, windows: Windows) -> dict[str, float]:
        """One gradient step on a batch of windows; returns logs with at least ``loss``."""

    def state_dict(self) -> dict[str, Any]:
        """Everything besides the global RNGs needed to resume exactly (override to extend)."""
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (resuming a run)."""
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])

    def reseed(self, entropy: list[int]) -> None:
        """Give every torch generator this learner holds a stream of its own drawn from
        ``entropy`` (a DDP rank other than 0: ranks drawing the same diffusion noise, condition
        dropout and head noise on different windows average correlated gradients)."""
        gens = [v for _, v in sorted(vars(self).items()) if isinstance(v, torch.Generator)]
        for i, gen in enumerate(gens):
            gen.manual_seed(derived_seed([*entropy, 0, i]))  # 0: the learner's, 1: global

    def policy(self) -> TrainedPolicy:
        """The policy acting with the current weights (shares the module)."""
        return self.POLICY(self.model, self.cfg, env=self.env, seed=self.cfg.seed,
                           device=self.device)


class WeightEMA:
    """Exponential moving average of a module's floating-point weights and buffers.

    ``decay_t = min(decay, (1 + t) / (10 + t))`` at update ``t``: early updates average over
    few steps, so a run of a few hundred steps is not pulled toward its random init.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay, self.updates = float(decay), 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the averages toward ``model``'s weights (after each optimiser step)."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].lerp_(v.detach(), 1.0 - d)
            else:  # integer buffers (counters) follow the model
                self.shadow[k].copy_(v)

    @contextlib.contextmanager
    def swapped_in(self, model: torch.nn.Module) -> Iterator[None]:
        """Inside the block ``model`` holds the averaged weights; its own come back after."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield
        finally:
            model.load_state_dict(own)

    def state_dict(self) -> dict[str, Any]:
        """The averages and their update count, for a resumable checkpoint."""
        return {"updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s averages onto the devices of the current ones (the
        model's: a train state is read onto the CPU, and a CUDA run resumes on CUDA)."""
        self.updates = int(state["updates"])
        self.shadow = {k: v.to(self.shadow[k].device if k in self.shadow else v.device,
                                copy=True)
                       for k, v in state["shadow"].items()}


def check_sampler(sampler: WindowSampler, cfg: TrainConfig) -> None:
    """The sampler must produce the windows the Config asks for."""
    got = (sampler.horizon, sampler.n_particles, float(sampler.gamma))
    want = (cfg.horizon, cfg.n_particles, float(cfg.gamma))
    if got != want:
        raise ConfigError(
            f"sampler windows are (H, K, gamma)={got} but the Config asks for {want}; build the "
            "WindowSampler from the Config (mfdiff_agents.methods.make_sampler)"
        )


def _metrics_writer(
    out: Path, keys: tuple[str, ...], start: int
) -> tuple[Any, csv.DictWriter, float]:
    """Open metrics.csv for the run; on resume keep only the rows of steps ≤ ``start``. Also
    returns the training seconds those rows reached, which the resumed rows continue from (a
    resumed run's ``seconds`` column is the run's training time, not the last session's)."""
    path = out / METRICS_FILE
    fields = ["step", *keys, "seconds"]
    kept: list[dict[str, str]] = []
    if start > 0 and path.is_file():
        with path.open(newline="") as f:
            kept = [r for r in csv.DictReader(f) if r.get("step") and int(r["step"]) <= start]
    elif path.is_file() and path.stat().st_size > 0:
        # a fresh run into a folder with an earlier run's metrics but no checkpoint (one stopped
        # before its first save): keep them rather than overwrite them
        bak = free_backup(path)
        path.replace(bak)
        warnings.warn(f"{path} held the metrics of an earlier run with no checkpoint; "
                      f"moved to {bak.name}", MfdiffWarning, stacklevel=3)
    f = path.open("w", newline="")
    writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(kept)
    f.flush()
    try:
        offset = float(kept[-1]["seconds"]) if kept else 0.0
    except (KeyError, TypeError, ValueError):  # a row without a readable time: restart at 0
        offset = 0.0
    return f, writer, offset


RUNTIME_FILE = "trained_with.json"


def _record_runtime(out: Path, start: int, device: torch.device) -> None:
    """Append what this process trains with to ``out/trained_with.json`` — torch, its thread
    count, the device, Python, numpy — one entry per start (``from_step``: a resumed run on
    other threads has two). Weights repeat bit for bit only under the same ones (a thread
    count changed 83 of 91 tensors by ≤ 2.4e-7 in an outside audit); kept out of config.json,
    whose digest is the checkpoint's identity."""
    import platform

    path = out / RUNTIME_FILE
    try:
        runs = json.loads(path.read_text()) if path.exists() else []
    except (OSError, ValueError):
        runs = []
    if not isinstance(runs, list):
        runs = []
    runs = [r for r in runs if isinstance(r, dict) and isinstance(r.get("from_step"), int)
            and r["from_step"] < start]  # a later start's entry: a rerun from an earlier save
    runs.append({"from_step": int(start), "torch": torch.__version__,
                 "threads": torch.get_num_threads(), "device": str(device),
                 "python": platform.python_version(), "numpy": np.__version__})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(runs, indent=2) + "\n")
    os.replace(tmp, path)


def train(
    learner_cls: type[Learner],
    sampler: WindowSampler,
    cfg: TrainConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    num_threads: int | None = None,
) -> TrainedPolicy:
    """Train ``learner_cls`` on windows from ``sampler`` and return its policy.

    Args:
        learner_cls: the method's :class:`Learner`.
        sampler: a WindowSampler built with ``cfg``'s horizon, n_particles and gamma; a fresh
            run restarts its stream at ``cfg.seed`` (one sampler may serve several fits, each
            reproducible from its own config).
        cfg: the method's Config (a :class:`~mfdiff_agents.config.TrainConfig`).
        out_dir: where checkpoints and metrics.csv go (None: nothing is written).
        resume: continue the run in ``out_dir`` (an error if there is none).
        progress: show a progress bar.
        num_threads: torch threads for the run (None: torch's default).

    Raises:
        FileExistsError: ``out_dir`` already holds a run and ``resume`` is False, or another
            process is training into it.
        ConfigError: nothing to resume, or resuming with another method or architecture.
    """
    check_sampler(sampler, cfg)
    rank = distributed.from_env()  # torchrun: data-parallel over ranks (distributed.py)
    out = Path(out_dir) if out_dir is not None else None
    with _run_lock(out if rank is None or rank.is_main else None):
        try:
            return _train(learner_cls, sampler, cfg, out, rank, resume=resume,
                          progress=progress, num_threads=num_threads)
        except BaseException:
            if rank is not None:  # no process group left open behind the error
                distributed.close_after_failure()
            raise


def _saved_note(out: Path | None, step: int) -> str:
    """Where a diverged run's last save is, which may hold the weights that diverged."""
    if out is None or not (out / WEIGHTS_FILE).exists():
        return ""
    return (f"; {out} holds its last save, which may hold weights already diverged by step "
            f"{step} (evaluating it is refused if its actions are NaN)")


def derived_seed(entropy: list[int]) -> int:
    """A torch seed (< 2^63) drawn from ``entropy`` (numpy's SeedSequence: nearby entropies
    give unrelated seeds)."""
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]) & (2**63 - 1)


LOCK_FILE = ".lock"


@contextlib.contextmanager
def _run_lock(out: Path | None) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` for the run: a second run into the same directory
    (started before the first saved anything, when no check can see it) is refused instead of
    both reporting success over one run's files. POSIX ``flock``; elsewhere no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    if out is None or fcntl is None:
        yield
        return
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileExistsError(
                f"{out}: another process is training into it (it holds {out / LOCK_FILE}); "
                "give another --out, or wait for it") from None
        try:
            yield
        finally:
            if made and [p.name for p in out.iterdir()] == [LOCK_FILE]:  # refused before
                # writing anything: leave no directory behind
                (out / LOCK_FILE).unlink()
                out.rmdir()
            fcntl.flock(f, fcntl.LOCK_UN)


def _train(
    learner_cls: type[Learner],
    sampler: WindowSampler,
    cfg: TrainConfig,
    out: Path | None,
    rank: distributed.Rank | None,
    *,
    resume: bool,
    progress: bool,
    num_threads: int | None,
) -> TrainedPolicy:
    """:func:`train` under its lock."""
    from tqdm.auto import tqdm

    device = resolve_device(cfg.device)
    if rank is not None:
        device = distributed.setup(rank, device)
    state = load_train_state(out) if out is not None else None
    method = learner_cls.POLICY.METHOD
    if state is not None and not resume:
        raise FileExistsError(
            f"{out} already holds a training run; pass --resume (in Python: resume=True) or "
            "another --out"
        )
    if state is None and out is not None and any(
        (out / f).exists() for f in (CONFIG_FILE, WEIGHTS_FILE)
    ):
        # a shared or finished checkpoint without its train state: nothing to resume from, and
        # training into it would silently replace it
        raise FileExistsError(
            f"{out} holds a checkpoint ({CONFIG_FILE} / {WEIGHTS_FILE}) but no {TRAIN_STATE_FILE}"
            f" to resume from; give another --out (or delete it yourself)"
        )
    if resume and state is None:
        raise ConfigError(f"--resume: {out} holds no training run to resume (no train_state.pt)")
    if state is not None:
        _check_resumable(out, learner_cls.POLICY, cfg, sampler)

    with torch_threads(num_threads):
        torch.manual_seed(cfg.seed)
        if state is None:
            # the run's windows follow from cfg.seed alone: a sampler that served an earlier
            # fit (or was built with another seed) gave runs that config.json's seed did not
            # reproduce (an outside audit); a fresh make_sampler(…, cfg) is at this state already
            sampler.reset(cfg.seed)
        if cfg.init_seed is not None:  # the weights from init_seed, everything else from seed
            torch.manual_seed(cfg.init_seed)
        learner = learner_cls(sampler, cfg, device)
        if cfg.init_seed is not None:
            torch.manual_seed(derived_seed([cfg.seed, 2]))
        # the schedule's base: the rates the method built its optimiser with (a resume's
        # optimiser state holds the last step's scaled rate, not the base)
        base_lrs = [float(g["lr"]) for g in learner.opt.param_groups]
        ema = WeightEMA(learner.model, cfg.ema_decay) if cfg.ema_decay > 0 else None
        start = 0
        if state is not None:
            learner.load_state_dict(state["learner"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            torch.set_rng_state(state["torch_rng"])
            sampler.rng.bit_generator.state = state["sampler_rng"]
            start = int(state["step"])
            if start > cfg.steps:  # config.json would say steps=cfg.steps over later weights
                raise ConfigError(f"--resume: {out} is already at step {start} > steps="
                                  f"{cfg.steps}; give steps ≥ {start} to train on")
        if rank is not None:
            # same init everywhere (same seed above); from here on each rank its own windows
            distributed.average_gradients_before_step(learner.opt, rank.world_size)
            distributed.broadcast_buffers_after_step(learner.opt, learner.model)
            if not rank.is_main:
                sampler.reset([cfg.seed, rank.rank, start])
                learner.reseed([cfg.seed, rank.rank, start])
                torch.manual_seed(derived_seed([cfg.seed, rank.rank, start, 1]))
                out, progress = None, False  # rank 0 alone writes
        f, writer, seconds_before = (None, None, 0.0)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            f, writer, seconds_before = _metrics_writer(out, learner.LOG_KEYS, start)
            _record_runtime(out, start, device)

        def acting_weights() -> contextlib.AbstractContextManager[None]:
            # the saved policy acts with the averaged weights; training goes on with its own
            return ema.swapped_in(learner.model) if ema is not None else contextlib.nullcontext()

        def checkpoint(step: int) -> None:
            if out is None:
                return
            with acting_weights():
                learner.policy().save(out, steps_done=step)
            learner.model.train()
            save_train_state(out, {
                "step": step,
                "method": method,
                "learner": learner.state_dict(),
                **({"ema": ema.state_dict()} if ema is not None else {}),
                "torch_rng": torch.get_rng_state(),
                "sampler_rng": sampler.rng.bit_generator.state,
            })

        learner.model.train()
        t_start = time.perf_counter()
        bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=method,
                   disable=not progress, dynamic_ncols=True)
        try:
            for step in bar:
                if cfg.lr_schedule != "constant":
                    scale = lr_scale(cfg.lr_schedule, step, cfg.steps)
                    for group, lr0 in zip(learner.opt.param_groups, base_lrs, strict=True):
                        group["lr"] = lr0 * scale
                logs = learner.update(sampler.sample(cfg.batch_size))
                if ema is not None:
                    ema.update(learner.model)
                if not all(v == v and abs(v) != float("inf") for v in logs.values()):
                    raise DivergedError(
                        f"{method}: non-finite loss at step {step} (training diverged: a lower "
                        f"lr, or gradient clipping, may help){_saved_note(out, step)}: {logs}")
                done = step + 1
                if done % cfg.log_every == 0 or done == cfg.steps:
                    # a step may log a subset of the keys (MF-Diffuser's head-only steps)
                    bar.set_postfix({k: f"{logs[k]:.4f}" for k in learner.LOG_KEYS[:2]
                                     if k in logs})
                    if writer is not None:
                        row = {k: round(v, 6) for k, v in logs.items()}
                        writer.writerow({"step": done, **row,
                                         "seconds": round(seconds_before + time.perf_counter()
                                                          - t_start, 2)})
                        f.flush()
                if cfg.ckpt_every and done % cfg.ckpt_every == 0 and done < cfg.steps:
                    checkpoint(done)
        finally:
            bar.close()
            if f is not None:
                f.close()
        if start >= cfg.steps:
            warnings.warn(f"{out} is already at step {start} ≥ steps={cfg.steps}", MfdiffWarning,
                          stacklevel=2)
        checkpoint(max(start, cfg.steps))
        if rank is not None:
            distributed.teardown()
        if ema is not None:  # training is over: the returned policy acts as the saved one
            learner.model.load_state_dict(ema.shadow)
        learner.model.eval()
        return learner.policy()


def _check_resumable(
    out: Path, policy_cls: type[TrainedPolicy], cfg: Any, sampler: WindowSampler | None = None
) -> None:
    try:
        meta = read_meta(out)
    except CheckpointError as e:
        raise ConfigError(f"--resume: {e}") from e
    if meta["method"] != policy_cls.METHOD:
        raise ConfigError(
            f"--resume: {out} holds a {meta['method']!r} run, not {policy_cls.METHOD!r}"
        )
    if sampler is not None:
        # the weights would mix two datasets while config.json names only the second
        was, now = meta.get("env", {}), asdict(EnvFacts.from_sampler(sampler))
        # the content digest: a dataset rebuilt under the same id is other data (checkpoints
        # saved before the digest was recorded are not compared)
        keys = ("dataset_id", "dataset_content", "family", "obs_dim", "n_actions")
        other = [f"{k}: {was.get(k)!r} -> {now[k]!r}" for k in keys
                 if was.get(k) is not None and now[k] is not None and was.get(k) != now[k]]
        if was.get("dataset_id") == now["dataset_id"] and (
                was.get("dataset_episodes") != now["dataset_episodes"]):
            def which(ids: Any) -> str:
                return "every episode" if ids is None else f"{len(ids)} episodes {ids[:8]}…"
            other.append(f"dataset_episodes: {which(was.get('dataset_episodes'))} -> "
                         f"{which(now['dataset_episodes'])}")
        if other:
            raise ConfigError(f"--resume: {out} was trained on other data: {other}; resume it "
                              f"on its own dataset ({was.get('dataset_id')}, the same episodes)")
    saved = {"ema_decay": 0.0, "lr_schedule": "constant", "init_seed": None,
             **policy_cls.LEGACY_DEFAULTS, **meta["config"]}
    now = config_to_dict(cfg)
    # every field that shapes training must be the run's own: the rest of the run would train
    # otherwise while config.json named one setting for all of it (lr and weight_decay even
    # live in the optimizer state a resume restores). Free: the step budget, bookkeeping, the
    # device, and acting fields (they change what the checkpoint does, not its weights).
    free = ({"steps", "device", "log_every", "ckpt_every", *(policy_cls.ACTING_FIELDS or ())}
            - set(policy_cls.acting_fields_training_reads(saved)))
    changed = [
        f"{k}: {saved.get(k)!r} -> {now[k]!r}"
        for k in now
        if k not in free and k in saved and _plain(saved[k]) != _plain(now[k])
    ]
    if now["lr_schedule"] != "constant" and saved.get("steps") != now["steps"]:
        # the decaying rate is a function of step / steps: another budget would give the steps
        # already taken another curve than the rest of the run
        changed.append(f"steps: {saved.get('steps')!r} -> {now['steps']!r} (lr_schedule="
                       f"{now['lr_schedule']!r} decays over the run's own budget)")
    if changed:
        raise ConfigError(f"--resume: {out} was trained with other settings: {changed}; "
                          "resume with the run's own (`mfdiff train --resume` reads them from "
                          "its config.json)")


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
