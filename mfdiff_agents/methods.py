"""The table of methods: every name the CLI's ``--algo`` takes, that a checkpoint stores, and
that the results tables print is a key of :data:`METHODS`. Nothing else keys methods by name.

    m = get_method("bc")
    cfg, _ = train_config("bc", "mfdiff/squeeze-n1000/mixed-v0", overrides=["steps=500"])
    policy = m.fit(make_sampler("mfdiff/squeeze-n1000/mixed-v0", cfg), cfg, out_dir="runs/bc")
    policy = load_policy("runs/bc")          # any checkpoint, or "random" / "medium" / "expert"
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfdiff_agents.baselines import bc, independent_diffuser, iql, joint_diffuser, mfq
from mfdiff_agents.baselines.scripted import SCRIPTED_NAMES, ScriptedPolicy, make_scripted
from mfdiff_agents.checkpoint import CheckpointError, read_meta
from mfdiff_agents.config import TrainConfig, build_config
from mfdiff_agents.diffuser import train as mfdiffuser
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.policy import Policy, RandomPolicy
from mfdiff_agents.trained import TrainedPolicy
from mfdiff_agents.training import Learner, train
from mfdiff_envs.core import MfdiffWarning

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import WindowSampler


@dataclass(frozen=True)
class Method:
    """One trainable method: its Config, its Learner (the update rule) and its Policy class."""

    name: str
    summary: str
    config: type[TrainConfig]
    learner: type[Learner]
    policy: type[TrainedPolicy]

    def fit(self, sampler: WindowSampler, cfg: TrainConfig, **kw: Any) -> TrainedPolicy:
        """Train on ``sampler``'s windows (keywords of :func:`mfdiff_agents.training.train`)."""
        if not isinstance(cfg, self.config):
            raise TypeError(f"{self.name} needs a {self.config.__qualname__}, got {type(cfg)}")
        return train(self.learner, sampler, cfg, **kw)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("mfdiffuser", "MF-Diffuser: mean-field particle diffusion planner",
               mfdiffuser.Config, mfdiffuser.MFDiffuserLearner, MFDiffuserPlanner),
        Method("bc", "behaviour cloning with a mean-field input",
               bc.Config, bc.BCLearner, bc.BCPolicy),
        Method("mfq", "offline mean-field Q-learning with a CQL penalty",
               mfq.Config, mfq.MFQLearner, mfq.MFQPolicy),
        Method("iql", "parameter-shared implicit Q-learning with a mean-field input",
               iql.Config, iql.IQLLearner, iql.IQLPolicy),
        Method("indep_diffuser", "one single-agent Diffuser shared by every agent",
               independent_diffuser.Config, independent_diffuser.IndependentDiffuserLearner,
               independent_diffuser.IndependentDiffuserPolicy),
        Method("joint_diffuser", "MADiff-style joint diffuser, all-pairs attention (O(N²))",
               joint_diffuser.Config, joint_diffuser.JointDiffuserLearner,
               joint_diffuser.JointDiffuserPolicy),
    )
}
for _name, _m in METHODS.items():  # the table and the classes must agree (a typo fails here)
    if _m.policy.METHOD != _name or _m.learner.POLICY is not _m.policy:
        raise RuntimeError(f"methods table entry {_name!r} disagrees with its classes")


def get_method(name: str) -> Method:
    """The method called ``name``; a ValueError lists the known names."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)}") from None


def train_config(
    algo: str,
    dataset: Any,
    *,
    config_path: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    family_defaults: bool = True,
) -> tuple[TrainConfig, Path | None]:
    """The Config ``mfdiff train`` trains ``algo`` on ``dataset`` with, and the family file used.

    Layers, each over the one before: the Config dataclass' defaults; the family's settings
    (``mfdiff_agents/family_configs/<algo>/<family>.json``, the family read from the dataset's
    metadata; skipped with ``family_defaults=False`` or for a dataset of no known family); the
    JSON file ``config_path``; the ``key=value`` ``overrides``. So the plain command trains as
    the results grid does.

    Raises:
        ValueError: unknown ``algo``; ConfigError: a bad key or value; DatasetError: the
            dataset is missing (only looked up when ``family_defaults``).
    """
    from mfdiff_agents.family_configs import family_config, family_config_path
    from mfdiff_envs.offline import dataset_family
    from mfdiff_envs.offline.catalogue import FAMILY_ENV

    method = get_method(algo)
    path = None
    if family_defaults:
        family = dataset_family(dataset)
        path = family_config_path(algo, family)
        if path is None:  # silent, this trained with other settings than the plain command says
            name = dataset if isinstance(dataset, str) else dataset.spec.dataset_id
            what = (f"names no env family ({', '.join(FAMILY_ENV)})" if family is None
                    else f"is of family {family!r}, which has no {algo} settings file")
            warnings.warn(
                f"dataset {name} {what}: {algo} trains with the Config defaults, not a "
                "family's settings (mfdiff_agents/family_configs/); pass --config / --set to "
                "choose them",
                MfdiffWarning, stacklevel=2,
            )
    base = family_config(algo, path.stem) if path is not None else {}
    cfg = build_config(method.config, base, config_path=config_path, overrides=overrides,
                       method=method.name)
    return cfg, path


def make_sampler(dataset: Any, cfg: TrainConfig) -> Any:
    """The WindowSampler ``cfg`` trains on (its horizon, n_particles, gamma and seed)."""
    from mfdiff_envs.offline.windows import WindowSampler

    return WindowSampler(dataset, horizon=cfg.horizon, n_particles=cfg.n_particles,
                         gamma=cfg.gamma, seed=cfg.seed)


def load_policy(
    spec: str | os.PathLike, *, device: str = "auto", **kw: Any
) -> TrainedPolicy | Any:
    """A checkpoint directory -> its trained policy (by the ``method`` in its config.json);
    ``"random" | "medium" | "expert"`` -> a factory ``(core, seed) -> Policy`` of the scripted
    policy (it needs the env core). ``kw`` go to ``from_pretrained`` (seed, num_threads,
    Config overrides such as ``replan_every=4``)."""
    name = str(spec)
    if name in SCRIPTED_NAMES and not Path(name).is_dir():
        if kw:
            raise ValueError(f"the scripted policy {name!r} takes no settings, got {sorted(kw)}")
        return lambda core, seed: make_scripted(name, core, seed=seed)
    if not Path(name).is_dir():
        raise CheckpointError(
            f"policy {name!r} is neither one of {SCRIPTED_NAMES} nor a checkpoint directory"
        )
    method = read_meta(name)["method"]
    if method not in METHODS:
        raise CheckpointError(f"{name}: unknown method {method!r}; known: {sorted(METHODS)}")
    return METHODS[method].policy.from_pretrained(name, device=device, **kw)


def check_policy(spec: str | os.PathLike, **kw: Any) -> None:
    """Raise now what ``load_policy(spec, **kw)`` would raise for its spec and Config
    overrides (a missing checkpoint, an unknown method, a key that cannot change at load, a bad
    value), reading only ``config.json``: a sweep checks every run before it evaluates any."""
    name = str(spec)
    if name in SCRIPTED_NAMES and not Path(name).is_dir():
        if kw:
            raise ValueError(f"the scripted policy {name!r} takes no settings, got {sorted(kw)}")
        return
    if not Path(name).is_dir():
        raise CheckpointError(
            f"policy {name!r} is neither one of {SCRIPTED_NAMES} nor a checkpoint directory"
        )
    meta = read_meta(name)
    if meta["method"] not in METHODS:
        raise CheckpointError(f"{name}: unknown method {meta['method']!r}; known: "
                              f"{sorted(METHODS)}")
    policy = METHODS[meta["method"]].policy
    policy.check_meta(meta, policy.acting_config(meta["config"], kw, name))


def policy_class_name(spec: str | os.PathLike) -> str:
    """``module.qualname`` of the class :func:`load_policy` acts with for ``spec``, as an
    evaluation's records name it (``policy_class``), reading only ``config.json``."""
    name = str(spec)
    if name in SCRIPTED_NAMES and not Path(name).is_dir():
        cls: type = RandomPolicy if name == "random" else ScriptedPolicy
    else:
        cls = get_method(str(read_meta(name)["method"])).policy
    return f"{cls.__module__}.{cls.__qualname__}"


def policy_label(spec: str | os.PathLike) -> str:
    """Method name of a policy spec: the checkpoint's ``method`` or the scripted name."""
    if Path(spec).is_dir():
        return str(read_meta(spec)["method"])
    return str(spec)


__all__ = ["METHODS", "Method", "Policy", "check_policy", "get_method", "load_policy",
           "make_sampler", "policy_class_name", "policy_label"]
