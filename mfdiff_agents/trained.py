"""The base class of every trained policy: one checkpoint format, the env check, threads.

A trained policy holds one torch module (``self.model``) and its Config. Subclasses set
``METHOD`` (the name in :mod:`mfdiff_agents.methods` and in checkpoints), ``CONFIG`` (their
Config dataclass), ``ARCH_FIELDS`` (Config fields that fix the weights' shapes and so cannot be
overridden at load) and implement :meth:`build_model` and ``_act``::

    policy.save("runs/bc")
    policy = BCPolicy.from_pretrained("runs/bc", device="cpu", num_threads=1)
    policy = MFDiffuserPlanner.from_pretrained("runs/mfd", replan_every=4)   # planning override
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from mfdiff_agents.checkpoint import (
    CheckpointError,
    EnvFacts,
    load_checkpoint,
    save_checkpoint,
    unfinished,
)
from mfdiff_agents.config import ConfigError, build_config, config_to_dict
from mfdiff_agents.device import resolve_device, torch_threads
from mfdiff_agents.policy import Policy
from mfdiff_envs.core import MfdiffWarning

if TYPE_CHECKING:
    from mfdiff_envs.core import VectorCore


def check_wrapped_observations(env: Any, *, who: str = "policy") -> None:
    """Raise a ValueError when ``env``'s wrappers change its observations' space (shape or
    bounds) from the bare env's: a trained policy reads the observations it was trained on, and
    rescaled ones of the same shape (SuperSuit's ``normalize_obs_v0``, Gymnasium's
    ``RescaleObservation`` / ``NormalizeObservation``) would be acted on without an error.
    ``env``: a PettingZoo env (one space per agent) or a Gymnasium joint view (one space). A
    dtype change alone (``dtype_v0``, ``DtypeObservation``) passes, its bounds compared as the
    new dtype rounds them (√2 is 1.414 in float16)."""
    inner = getattr(env, "unwrapped", env)
    if inner is env or not hasattr(env, "observation_space"):
        return
    agents = getattr(env, "possible_agents", None)
    if callable(env.observation_space):  # PettingZoo: a space per agent
        if not agents:
            return
        outer, bare = env.observation_space(agents[0]), inner.observation_space(agents[0])
    else:  # Gymnasium: the wrappers' space is an attribute, the bare env's on .unwrapped
        outer, bare = env.observation_space, getattr(inner, "observation_space", None)
    check_observation_space(outer, bare, who=who)


def check_observation_space(outer: Any, bare: Any, *, who: str = "policy") -> None:
    """:func:`check_wrapped_observations` on the two spaces: ``outer`` the wrapped env's,
    ``bare`` the bare env's."""
    dtype = getattr(outer, "dtype", None)
    same = getattr(outer, "shape", None) == getattr(bare, "shape", None)
    for bound in ("low", "high"):
        a, b = getattr(outer, bound, None), getattr(bare, bound, None)
        if same and a is not None and b is not None and dtype is not None \
                and np.issubdtype(dtype, np.floating):
            b = np.asarray(b).astype(dtype)  # the bare bound as the new dtype holds it
        same = same and (a is None) == (b is None) and (
            a is None or np.array_equal(np.asarray(a, np.float64), np.asarray(b, np.float64)))
    if not same:
        raise ValueError(
            f"{who}: the env's wrappers change its observations ({outer} over the bare env's "
            f"{bare}): the policy reads the raw observations it was trained on. Bind it to the "
            "env without observation wrappers (black_death and action wrappers are fine)"
        )


class TrainedPolicy(Policy):
    """A :class:`Policy` backed by a torch module, saved and loaded as an mfdiff checkpoint.

    Args:
        model: the trained module (moved to ``device``, set to eval mode).
        cfg: the method's Config.
        env: facts of the env / dataset it was trained on (checked by :meth:`check_env`).
        seed: policy seed (``reset(seed)`` re-seeds).
        device: "auto" | "cpu" | "cuda[:i]" | a torch.device.
        num_threads: torch threads while acting (None: torch's default). Use 1 inside
            vectorised envs or beside other jobs.
    """

    METHOD: ClassVar[str]
    CONFIG: ClassVar[type]
    #: Trained policies sample from ``default_rng(seed)``, the env's stream at one seed (BC and
    #: IQL draw their N uniforms where Ising draws its noise), as when every published record
    #: was measured: kept so that those records replay bit for bit (so do the scripted medium /
    #: expert tiers, through mfdiff_envs.policies). Measured harmless for them
    #: (docs/results/shared_seed.md: each one's return at the env's seed vs an unrelated seed,
    #: paired, within noise); a policy of your own gets a separate stream
    #: (:attr:`Policy.rng_stream <mfdiff_agents.policy.Policy.rng_stream>`).
    rng_stream = None
    ARCH_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: Config fields that change how a trained policy acts, the only ones :meth:`from_pretrained`
    #: overrides; the rest only shape training, so a value given at load would be ignored (or,
    #: like Battle's ``head_blind``, contradict the weights) and is refused. None: every field
    #: outside ARCH_FIELDS (subclasses that do not declare theirs).
    ACTING_FIELDS: ClassVar[tuple[str, ...] | None] = None
    #: Values of Config fields added after checkpoints were written without them: a checkpoint
    #: lacking such a key loads with this value (how it was trained), not the new default.
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {}

    @classmethod
    def acting_fields_training_reads(cls, config: dict[str, Any]) -> tuple[str, ...]:
        """The acting fields that training with ``config`` also reads (so a resume may not
        change them); none by default."""
        return ()

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: Any,
        *,
        env: EnvFacts,
        seed: int | None = None,
        device: str | torch.device = "auto",
        num_threads: int | None = None,
    ) -> None:
        super().__init__(obs_dim=env.obs_dim, n_actions=env.n_actions, seed=seed)
        self.cfg = cfg
        self.env = env
        #: gradient steps of the checkpoint it was loaded from, where recorded (None: all)
        self.steps_done: int | None = None
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        with torch_threads(num_threads):  # validates the value now, not at the first act
            pass
        self.num_threads = num_threads

    @classmethod
    def build_model(cls, cfg: Any, env: EnvFacts) -> torch.nn.Module:
        """A fresh module of the right shapes for ``cfg`` and ``env`` (weights loaded after)."""
        raise NotImplementedError

    def _act_context(self) -> contextlib.AbstractContextManager[None]:
        return torch_threads(self.num_threads)

    def training_obs_bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The observation bounds of the env this policy was trained on (its checkpoint's env
        id and kwargs, the env built once); None where the id is unknown or the env cannot be
        built here (e.g. magent2 missing)."""
        if not hasattr(self, "_training_bounds"):
            self._training_bounds = None
            if self.env.env_id is not None:
                import gymnasium as gym

                import mfdiff_envs  # noqa: F401  (registers the ids)
                from mfdiff_agents.policy import obs_bounds_of

                try:
                    with warnings.catch_warnings():  # building it is not the user's concern
                        warnings.simplefilter("ignore")
                        core = gym.make(self.env.env_id, **self.env.env_kwargs).unwrapped.core
                except Exception:  # noqa: BLE001 — no bounds, no warning: acting goes on
                    core = None
                if core is not None:
                    self._training_bounds = obs_bounds_of(core, self.obs_dim)
        return self._training_bounds

    def check_env(self, core: VectorCore) -> None:
        """ValueError unless ``core`` has the family and spaces this policy was trained on.
        Also builds the training env's bounds now (:meth:`training_obs_bounds`), so that an
        evaluation's first timed step does not."""
        self.env.check_core(core, who=f"{self.METHOD} policy")
        self.training_obs_bounds()

    def check_agents(self, agents: Sequence[str]) -> None:
        """ValueError when ``agents`` hold both Battle teams and this policy was trained on
        one (:meth:`EnvFacts.check_population`)."""
        self.env.check_population(agents, who=f"{self.METHOD} policy")

    def bind(self, env: Any) -> TrainedPolicy:
        """:meth:`Policy.bind`, after checking ``env`` (a PettingZoo env or a Gymnasium joint
        view) against the policy: its family and spaces (:meth:`check_env`), and no wrapper
        that changes its observations (:func:`check_wrapped_observations`). ValueError else."""
        core = getattr(getattr(env, "unwrapped", env), "core", None)
        if core is not None:
            self.check_env(core)
        check_wrapped_observations(env, who=f"{self.METHOD} policy")
        return super().bind(env)  # type: ignore[return-value]

    # ------------------------------------------------------------------ persistence
    def checkpoint_extra(self) -> dict[str, Any]:
        """Method-specific plain data stored beside the config (e.g. normalisation stats)."""
        return {}

    def save(self, directory: str | Path, *, steps_done: int | None = None) -> Path:
        """Write the checkpoint (``config.json`` + ``model.safetensors``) to ``directory``;
        ``steps_done``: the gradient steps trained so far (training records it; None: those of
        the checkpoint this policy was loaded from, so a copy of an unfinished run's checkpoint
        stays marked unfinished)."""
        if steps_done is None:
            steps_done = self.steps_done
        return save_checkpoint(
            directory,
            method=self.METHOD,
            config=config_to_dict(self.cfg),
            env=self.env,
            tensors=self.model.state_dict(),
            extra=self.checkpoint_extra(),
            steps_done=steps_done,
        )

    @classmethod
    def acting_config(
        cls, saved: dict[str, Any], overrides: dict[str, Any], directory: str | Path
    ) -> Any:
        """The Config a checkpoint acts with: its saved ``config.json`` fields with
        ``overrides`` applied, refusing architecture, training-only and unknown keys
        (:class:`~mfdiff_agents.config.ConfigError`) and a saved config that no longer builds
        (:class:`~mfdiff_agents.checkpoint.CheckpointError`). Reads no weights: a sweep checks
        every run with it before evaluating any."""
        arch = sorted(set(overrides) & set(cls.ARCH_FIELDS))
        if arch:
            raise ConfigError(
                f"{cls.METHOD}: {arch} fix the network's shapes and cannot be overridden at load"
            )
        fields = {f.name for f in dataclasses.fields(cls.CONFIG)}
        unknown = sorted(set(overrides) - fields)
        if unknown:  # named with what may change here, not every field of training's Config
            may = sorted(cls.ACTING_FIELDS if cls.ACTING_FIELDS is not None else fields)
            raise ConfigError(f"{cls.METHOD}: unknown keys {unknown}; fields that may change at "
                              f"load: {may}")
        training = sorted(k for k in overrides if k in fields and cls.ACTING_FIELDS is not None
                          and k not in cls.ACTING_FIELDS)
        if training:
            raise ConfigError(
                f"{cls.METHOD}: {training} are fixed when the checkpoint is trained (its "
                f"weights were trained with the saved value); fields that may change at load: "
                f"{sorted(cls.ACTING_FIELDS or ())}"
            )
        saved = {**cls.LEGACY_DEFAULTS, **saved}
        try:
            build_config(cls.CONFIG, saved)
        except ConfigError as e:
            raise CheckpointError(f"{directory}: bad config in config.json: {e}") from e
        return build_config(cls.CONFIG, {**saved, **overrides})

    @classmethod
    def check_meta(cls, meta: dict[str, Any], cfg: Any) -> None:
        """Raise what acting with ``cfg`` on the checkpoint whose ``config.json`` holds ``meta``
        would raise beyond :meth:`acting_config` (e.g. statistics a setting needs); nothing
        here. Reads no weights: :func:`mfdiff_agents.methods.check_policy` calls it."""

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        *,
        device: str | torch.device = "auto",
        seed: int | None = None,
        num_threads: int | None = None,
        **overrides: Any,
    ) -> TrainedPolicy:
        """Load a checkpoint written by :meth:`save`.

        ``overrides`` replace Config fields that change acting (``ACTING_FIELDS``, e.g.
        ``replan_every=4`` or ``temperature=0.5``); an architecture field, a training-only
        field or an unknown key raises :class:`~mfdiff_agents.config.ConfigError`.
        """
        ckpt = load_checkpoint(directory, method=cls.METHOD)
        short = unfinished({"steps_done": ckpt.extra.get("steps_done"), "config": ckpt.config})
        if short is not None:  # e.g. a ckpt_every save of a run that was killed
            warnings.warn(
                f"{directory}: saved at step {short} of its {ckpt.config['steps']} (an unfinished "
                "or interrupted training run; `mfdiff train --resume` finishes it)",
                MfdiffWarning, stacklevel=2)
        cfg = cls.acting_config(ckpt.config, overrides, directory)
        model = cls.build_model(cfg, ckpt.env)
        try:
            model.load_state_dict(ckpt.tensors, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"{directory}: weights do not match config.json "
                f"(obs_dim={ckpt.env.obs_dim}, n_actions={ckpt.env.n_actions}): "
                f"{str(e).splitlines()[0]} …"
            ) from e
        policy = cls(model, cfg, env=ckpt.env, seed=seed, device=device, num_threads=num_threads)
        policy.restore_extra(ckpt.extra)
        policy.steps_done = ckpt.extra.get("steps_done")
        return policy

    def restore_extra(self, extra: dict[str, Any]) -> None:
        """Counterpart of :meth:`checkpoint_extra` (default: nothing to restore)."""
