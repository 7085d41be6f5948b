"""Evaluation runs: roll a policy out on the vectorised core over seeds, one record per seed.

One run = one (policy, env, N, seed): ``episodes`` episodes on ``gym.make(env_id, **env_kwargs)``'s
core through :func:`mfdiff_envs.rollout.rollout`. Each record holds the undiscounted team return
(sum over steps of the mean per-agent reward), the normalized score
(:func:`mfdiff_envs.scoring.normalized_score`, with the dataset's reference returns or — without
a dataset — the random and scripted-expert returns measured on the same env, the D4RL
convention), the family metrics (Squeeze: ``optimum_gap`` averaged over the steps; Ising:
``order_parameter``; Battle: ``win`` → ``win_rate``), wall time and planning latency per step
(ms per ``act_batch`` call), and provenance (git commit, time).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mfdiff_agents.policy import Policy
from mfdiff_envs.core import MfdiffWarning
from mfdiff_envs.rollout import BatchActor, rollout
from mfdiff_envs.scoring import normalized_score

PolicyLike = Policy | BatchActor | Callable[[Any, int], Policy | BatchActor]
"""A policy (a :class:`Policy`, or any object with ``reset(seed)`` and ``act_batch(obs,
mask)``: :class:`~mfdiff_envs.rollout.BatchActor`), or a factory ``(core, seed) -> policy``
(scripted policies need the core)."""


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The source checkout's commit (``"unknown"`` outside a git checkout); read-only."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def make_core(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """``gym.make(env_id, **env_kwargs).unwrapped.core``."""
    import gymnasium as gym

    import mfdiff_envs  # noqa: F401  (registers the ids)

    return gym.make(env_id, **env_kwargs).unwrapped.core


#: episodes per run seed that get seeds of their own (``episode_seed``)
MAX_EPISODES = 1000


def episode_seed(seed: int, episode: int) -> int:
    """Env and policy seed of episode ``episode`` (< ``MAX_EPISODES``) of run seed ``seed``."""
    return int(seed) * MAX_EPISODES + int(episode)


def reference_scores(env_id: str, env_kwargs: dict[str, Any], *,
                     dataset_id: str | None = None) -> tuple[float, float]:
    """(ref_min, ref_max) for normalized scores.

    With ``dataset_id``: the Minari dataset's ``ref_min_score``/``ref_max_score``, which were
    measured on the dataset's own env; a ValueError when ``env_id`` / ``env_kwargs`` make another
    one (another N, ``max_cycles``, opponent, ...: a Battle episode at N = 10^4, 150 steps,
    normalised by the N = 10^3, 200-step references read 57 where its own env's give 92).
    Otherwise the mean returns of the uniform random policy (min) and the scripted expert (max)
    measured exactly as the dataset builder measures them
    (:func:`mfdiff_envs.offline.build.reference_scores`).
    """
    if dataset_id is not None:
        from mfdiff_envs.offline.episodes import open_dataset

        meta = open_dataset(dataset_id)[0].storage.metadata  # DatasetError with a build hint
        lo, hi = meta.get("ref_min_score"), meta.get("ref_max_score")
        if lo is None or hi is None:
            raise ValueError(f"dataset {dataset_id} has no ref_min_score/ref_max_score")
        spec = json.loads(meta.get("eval_env_spec") or meta["env_spec"])
        core = make_core(env_id, env_kwargs)
        got = core.kwargs() if hasattr(core, "kwargs") else dict(env_kwargs)
        differ = {k: (v, got.get(k)) for k, v in spec["kwargs"].items()
                  if k != "render_mode" and got.get(k) != v}
        if spec["id"] != env_id or differ:
            what = ", ".join(f"{k}={now!r} (dataset: {was!r})" for k, (was, now) in differ.items())
            if spec["id"] != env_id:  # another family: its kwargs differ by construction
                what = f"another env id, not {spec['id']}"
            raise ValueError(
                f"dataset {dataset_id}'s reference returns were measured on {spec['id']} "
                f"{spec['kwargs']}; this evaluation runs {env_id} "
                f"({what or 'another env id'}), whose returns they do not normalise: leave the "
                "dataset out to normalise by the random and expert returns measured on this env"
            )
        return float(lo), float(hi)
    from mfdiff_envs.offline.build import reference_scores as measured_reference_scores

    return measured_reference_scores(make_core(env_id, env_kwargs))


def _acts(obj: Any) -> bool:
    """A policy rather than a factory: a Policy, or any object with ``reset`` and ``act_batch``
    (what :func:`mfdiff_envs.rollout.rollout` plays; a duck-typed one was called as a factory,
    an outside audit found)."""
    if isinstance(obj, type):  # a class is a factory (core, seed) -> Policy
        return False
    return isinstance(obj, Policy) or (callable(getattr(obj, "act_batch", None))
                                       and callable(getattr(obj, "reset", None)))


def evaluate(
    policy: PolicyLike,
    env_id: str,
    env_kwargs: dict[str, Any],
    seeds: Iterable[int],
    episodes: int = 1,
    *,
    method: str | None = None,
    ref_scores: tuple[float, float] | None = None,
    dataset_id: str | None = None,
    tier: str | None = None,
    config: dict[str, Any] | None = None,
    progress: bool = False,
    exploitability: bool = False,
    deviation_fraction: float | None = None,
    extra_deviations: dict[str, Policy] | None = None,
    deviation_set: Sequence[str] | None = None,
    exante_resamples: int | None = None,
) -> list[dict[str, Any]]:
    """Evaluate ``policy`` on ``env_id`` for every seed; one record (dict) per seed.

    Args:
        policy: a Policy (or any object with ``reset(seed)`` and ``act_batch(obs [N, d],
            mask [N]) -> int [N]``), or a factory ``(core, seed) -> Policy`` (called once per
            seed). One object plays every seed and the exploitability episodes, reset with
            each episode's seed (the env's: see :class:`Policy.rng_stream
            <mfdiff_agents.policy.Policy.rng_stream>`).
        env_id, env_kwargs: ``gym.make(env_id, **env_kwargs)`` (``{}``: the env's defaults,
            ``n_agents`` included).
        seeds: run seeds; episode e of seed s resets env and policy with seed ``1000 s + e``.
        episodes: episodes per seed (the record holds their mean and the list).
        method: label in the record (default: the policy's class name).
        ref_scores: (ref_min, ref_max); default :func:`reference_scores` (``dataset_id``).
        tier: data tier the policy was trained on (label for plots).
        config: extra data stored under ``"config"`` (e.g. the training Config).
        exploitability: also measure the approximate Nash gap per seed
            (:mod:`mfdiff_agents.evaluation.exploitability`; several extra episodes per seed).
        deviation_fraction: share of the population that deviates (Ising, Battle); None:
            0.01, what every published table uses. Given at all (0.01 included), it needs
            ``exploitability`` and a family with deviators (not Squeeze).
        extra_deviations: more deviation policies by name (e.g. a trained BC).
        deviation_set: try only these deviations, by name (the built-in set's and
            ``extra_deviations``'); default all.
        exante_resamples: Squeeze, with ``exploitability``: also the ex ante gain from this
            many draws of each step (:func:`~mfdiff_agents.evaluation.exploitability.
            squeeze_exante_gain`: the recorded ``nash_gap_xN`` is ex post, an upper bound
            that a policy sampling its levels inflates); R times the policy's acting cost.

    Raises:
        ValueError: no seeds or episodes, a seed that is not a non-negative integer or is
            given twice, ``ref_scores`` not finite with ref_max > ref_min, more than
            ``MAX_EPISODES`` episodes, ``deviation_fraction`` outside (0, 1], given
            without ``exploitability`` or on Squeeze, or the policy
            was trained on another env family / other observation and action spaces than
            ``env_id``'s.
    """
    from tqdm.auto import tqdm

    env_kwargs = dict(env_kwargs)
    seeds = list(seeds)
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer))
           or s < 0]
    if bad:  # int(0.7) would play seed 0 and record it as if asked
        raise ValueError(f"seeds must be non-negative integers, got {bad[:5]}")
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) < len(seeds):  # a seed twice is one run counted twice: a narrower CI
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        raise ValueError(f"seeds {twice} given more than once: each seed is one run; use "
                         "episodes=... for more episodes of a seed")
    if ref_scores is not None:
        lo, hi = (float(v) for v in ref_scores)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ValueError(f"ref_scores must be finite (ref_min, ref_max) with ref_max > "
                             f"ref_min (0 = ref_min, 100 = ref_max), got {tuple(ref_scores)}")
    if not seeds or episodes < 1:
        raise ValueError(f"need at least one seed and one episode, got seeds={seeds}, "
                         f"episodes={episodes}")
    if episodes > MAX_EPISODES:
        # episode e of seed s plays seed 1000 s + e: episode 1000 of seed 0 would replay
        # seed 1's first episode, counted twice as if independent
        raise ValueError(f"episodes={episodes}: at most {MAX_EPISODES} per seed (their seeds "
                         "would repeat the next seed's); use more seeds instead")
    if not _acts(policy) and hasattr(policy, "forward") and hasattr(policy, "parameters"):
        raise TypeError(f"a torch module ({type(policy).__name__}) is not a policy: wrap it in a "
                        "mfdiff_agents.policy.Policy subclass whose _act(obs, mask) returns "
                        "action indices (docs/integrations.md, 'Your own policy')")
    if not _acts(policy) and not callable(policy):
        raise TypeError(
            f"policy must be a Policy (or any object with reset(seed) and act_batch(obs, mask)) "
            f"or a factory (core, seed) -> Policy, got {type(policy).__name__}")
    core = make_core(env_id, env_kwargs)
    if extra_deviations and not exploitability:
        raise ValueError("extra_deviations are deviations of the exploitability measure: "
                         "pass exploitability=True")
    if deviation_fraction is not None:  # given, even at the default's value: it must apply
        if (isinstance(deviation_fraction, bool)
                or not isinstance(deviation_fraction, (int, float, np.integer, np.floating))
                or not 0.0 < deviation_fraction <= 1.0):
            # checked before the first rollout, not by the first deviation episode
            raise ValueError(
                f"deviation_fraction must lie in (0, 1], got {deviation_fraction!r}")
        if not exploitability:
            raise ValueError("deviation_fraction sets the exploitability measure's share of "
                             "deviators: pass exploitability=True")
        if core.family == "squeeze":  # else ignored, silently
            raise ValueError("Squeeze's exploitability is exact over every one-step level "
                             "change (from the reward formula): it has no deviators, so "
                             "deviation_fraction does not apply")
    deviation_fraction = 0.01 if deviation_fraction is None else float(deviation_fraction)
    if exante_resamples is not None:  # checked before the first rollout
        if (isinstance(exante_resamples, bool)
                or not isinstance(exante_resamples, (int, np.integer)) or exante_resamples < 2):
            raise ValueError(
                f"exante_resamples must be an integer >= 2, got {exante_resamples!r}")
        if not exploitability or core.family != "squeeze":
            raise ValueError("exante_resamples adds Squeeze's ex ante gain to the exploitability "
                             "measure: it needs exploitability=True on a Squeeze env")
    if deviation_set is not None and not exploitability:
        raise ValueError("deviation_set restricts the exploitability measure's deviations: "
                         "pass exploitability=True")
    if extra_deviations or deviation_set is not None:  # refused before the rollouts
        from mfdiff_agents.evaluation.exploitability import (
            check_deviation_names,
            check_extra_deviations,
        )

        check_extra_deviations(core, extra_deviations)
        check_deviation_names(core, extra_deviations, deviation_set)
    if ref_scores is None:
        ref_scores = reference_scores(env_id, env_kwargs, dataset_id=dataset_id)
    scale = ref_scores[1] > ref_scores[0]
    if not scale:
        # a tiny game (Battle at N = 2: the expert stands off for the whole episode) can leave
        # the expert no better than random: a score on that scale would be undefined or read
        # backwards (an outside audit: winners at -442, a loser at +14), so it is NaN
        warnings.warn(
            f"{env_id} {env_kwargs}: the scripted expert's reference return {ref_scores[1]:.4g} "
            f"is not above uniform random's {ref_scores[0]:.4g}, so the normalised score "
            "(0 = random, 100 = expert) is undefined here: records carry normalized_score NaN; "
            "compare the returns", MfdiffWarning, stacklevel=2)
    records = []
    checked = False  # a policy object is checked once: its warnings once, not once per seed
    # a seed of a planner at large N, its deviation episodes included, can take minutes: a
    # second bar counts its steps (max_cycles an episode), with a rate and a time left
    per_seed = episodes
    if progress and exploitability and core.family != "squeeze":
        from mfdiff_agents.evaluation.exploitability import deviation_set as _deviations

        per_seed += len(_deviations(core, seeds[0], extra_deviations, deviation_set))
    steps_bar = tqdm(total=per_seed * core.max_cycles, desc="steps", unit="step",
                     disable=not progress, leave=False, position=1)
    on_step = steps_bar.update if progress else None
    for seed in tqdm(seeds, desc=f"eval {method or ''}", disable=not progress, leave=False):
        steps_bar.reset()  # the total stays
        pol = policy if _acts(policy) else policy(core, seed)
        if not _acts(pol):
            raise TypeError(f"the policy factory returned {type(pol).__name__}, not a policy "
                            "(an object with reset(seed) and act_batch(obs, mask))")
        if not (checked and pol is policy):
            # a duck-typed policy may have either check, or none
            if hasattr(pol, "check_env"):
                pol.check_env(core)
            if hasattr(pol, "check_agents"):  # rollout acts for the whole core: one population
                pol.check_agents(core.agent_names)
            checked = True
        label = method or type(pol).__name__
        # the exploitability measure reads the seed's first episode (Squeeze: its actions, the
        # others: its per-agent returns) rather than play it a second time
        record = exploitability and core.family == "squeeze"
        eps = [rollout(core, pol, seed=episode_seed(seed, e), record=record and e == 0,
                       on_step=on_step) for e in range(episodes)]
        rets = [e.total_return for e in eps]
        scores = (normalized_score(rets, *ref_scores).tolist() if scale
                  else [math.nan] * len(rets))
        steps = sum(e.steps for e in eps)
        m_final = {k: float(np.mean([e.metrics_final[k] for e in eps]))
                   for k in eps[0].metrics_final}
        m_mean = {k: float(np.mean([e.metrics_mean[k] for e in eps]))
                  for k in eps[0].metrics_mean}
        rec: dict[str, Any] = {
            "method": label,
            # the class that acted: runs of two classes under one label are refused
            # (report.check_rows; records before the fiftieth update carry none)
            "policy_class": f"{type(pol).__module__}.{type(pol).__qualname__}",
            "env_id": env_id,
            "family": core.family,
            "n_agents": int(core.n_agents),
            "env_kwargs": env_kwargs,
            "tier": tier,
            "seed": seed,
            "episodes": episodes,
            "returns": rets,
            "return": float(np.mean(rets)),
            "normalized_scores": scores,
            "normalized_score": float(np.mean(scores)),
            "ref_min": ref_scores[0],
            "ref_max": ref_scores[1],
            "dataset_id": dataset_id,
            "metrics_final": m_final,
            "metrics_mean": m_mean,
            "wall_seconds": float(sum(e.wall_seconds for e in eps)),
            "latency_ms": 1000.0 * sum(e.act_seconds for e in eps) / max(steps, 1),
            "steps": steps,
            "config": config,
            "git_commit": git_commit(),
            "python": sys.version.split()[0],
            # what the actions were computed with: the last digits of a trained policy's
            # returns can depend on them (README); None where no torch was loaded
            "torch": getattr(sys.modules.get("torch"), "__version__", None),
            # a trained policy acts under its own thread count where it has one
            "threads": (getattr(pol, "num_threads", None)
                        or (sys.modules["torch"].get_num_threads() if "torch" in sys.modules
                            else None)),
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        # headline env metrics
        if "optimum_gap" in m_mean:
            rec["optimum_gap"] = m_mean["optimum_gap"]
        if "order_parameter" in m_mean:
            rec["order_parameter"] = m_final["order_parameter"]
            rec["order_parameter_mean"] = m_mean["order_parameter"]
        if "win" in m_final:
            rec["win_rate"] = m_final["win"]
        if exploitability:
            from mfdiff_agents.evaluation.exploitability import exploitability as nash_gap

            rec.update(nash_gap(pol, core, episode_seed(seed, 0), fraction=deviation_fraction,
                                extra=extra_deviations, only=deviation_set,
                                played=eps[0], on_step=on_step,
                                exante_resamples=exante_resamples))
        records.append(rec)
    steps_bar.close()
    return records
