"""The one checkpoint format of every trainable method.

A checkpoint is a directory::

    config.json        {"method", "format_version", "package_version", "config": {...},
                        "env": {"env_id", "family", "env_kwargs", "dataset_id",
                                "dataset_episodes", "dataset_content", "obs_dim",
                                "n_actions"}, "weights_sha256", "config_sha256",
                        "steps_done", ...method extras}
    model.safetensors  float32 tensors (the policy's modules' state_dicts)
    train_state.pt     optimiser, step and every RNG state (only while / after training)
    trained_with.json  torch version, threads, device, Python, numpy of each training start
                       (training.RUNTIME_FILE; not read at load, not part of the identity)

Each file is written to a temporary file renamed into place, weights first: a save killed
before a rename leaves that file as it was, but one killed between the weights' and
config.json's renames leaves new weights beside the old config.json, which its hash refuses at
load (loudly, never silently; an outside audit measured it). ``train_state.pt`` is written
after both, so ``--resume`` restores the run from the previous save. ``weights_sha256`` is
the SHA-256 of the weights
file: a load recomputes it, so weights overwritten in place fail loudly instead of producing a
policy that acts on garbage. Every way a checkpoint can be wrong raises
:class:`CheckpointError` naming the directory and the problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from mfdiff_envs.core import SAME_FAMILY, MfdiffWarning

if TYPE_CHECKING:
    from mfdiff_envs.core import VectorCore
    from mfdiff_envs.offline.windows import WindowSampler

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TRAIN_STATE_FILE = "train_state.pt"
#: 2: one format for every method, env facts under "env", weights hash. 1: MF-Diffuser only.
FORMAT_VERSION = 2
#: Env kwargs a policy is meant to meet at other values: the population (and Battle's map,
#: whose side follows N) and rendering. Any other difference is reported by check_core.
POPULATION_KWARGS = frozenset({"n_agents", "map_size", "render_mode"})


class CheckpointError(ValueError):
    """A checkpoint directory is missing, corrupt, or holds something else."""


@dataclass
class EnvFacts:
    """What a policy was trained on; checked against the env it is given."""

    obs_dim: int
    n_actions: int
    family: str | None = None
    env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset_id: str | None = None
    #: the dataset's episode ids trained on when a view held a subset (a held-out split);
    #: None: all of them
    dataset_episodes: list[int] | None = None
    #: the dataset's content digest (``mfdiff.integrity.content``) when it records one: a
    #: dataset rebuilt under the same id has another (None: not recorded, e.g. a checkpoint
    #: saved before it was, or data without the digest)
    dataset_content: str | None = None

    @classmethod
    def from_sampler(cls, sampler: WindowSampler) -> EnvFacts:
        """Facts of the dataset a :class:`~mfdiff_envs.offline.WindowSampler` reads."""
        return cls(
            obs_dim=int(sampler.obs_dim),
            n_actions=int(sampler.n_actions),
            family=getattr(sampler, "family", None),
            env_id=getattr(sampler, "env_id", None),
            env_kwargs=dict(getattr(sampler, "env_kwargs", None) or {}),
            dataset_id=getattr(sampler, "dataset_id", None),
            dataset_episodes=getattr(sampler, "dataset_episodes", None),
            dataset_content=getattr(sampler, "dataset_content", None),
        )

    def check_population(self, agents: Sequence[str], *, who: str = "policy") -> None:
        """Raise a ValueError when ``agents``, acted for as one population, hold both Battle
        teams (``red_*`` and ``blue_*``: an env made with ``opponent=None``) and the policy was
        trained on one team (an in-core opponent): it would see both in one mean field and
        play each team against a population that is half the enemy. Data recorded with
        ``opponent=None`` train a policy of both teams, which may act for both."""
        if SAME_FAMILY.get(self.family, self.family) != "battle":
            return
        if "opponent" in self.env_kwargs and self.env_kwargs["opponent"] is None:
            return
        teams = sorted({str(a).rsplit("_", 1)[0] for a in agents})
        if len(teams) > 1:
            raise ValueError(
                f"{who} was trained on one Battle team ({self.env_id} "
                f"{ {k: v for k, v in self.env_kwargs.items() if k == 'opponent'} }) but is "
                f"asked to act for agents of {teams} at once (an env made with opponent=None): "
                "it would play both teams as ONE population, both in one mean field. Act for "
                "each team separately (policy.act(obs, red_agents) with one policy per team), "
                "or make the env with an in-core opponent (opponent='expert', ...)"
            )

    def check_tier(self, tier: str | None, *, who: str = "policy") -> None:
        """Raise a ValueError when ``tier`` (a record's label, ``mfdiff eval --tier``) is not
        the tier of the catalogue dataset this policy was trained on: the record would file
        the run under another tier's row. Nothing to check without a tier or a catalogue id."""
        if tier is None or self.dataset_id is None:
            return
        from mfdiff_envs.offline.catalogue import parse_id

        try:
            trained = parse_id(self.dataset_id)[2]
        except ValueError:  # a dataset outside the catalogue's naming: its tier is unknown
            return
        if trained != tier:
            raise ValueError(f"{who} was trained on {self.dataset_id} (tier {trained!r}), "
                             f"not tier {tier!r}: give tier {trained!r} or none")

    def check_core(self, core: VectorCore, *, who: str = "policy") -> None:
        """Raise a ValueError when ``core`` (an env core) is not the family / spaces trained on;
        warn when its kwargs differ from the training env's beyond the population size.

        Battle on magent2 and our Battle share observations and actions, so they count as one
        family here.
        """
        same = SAME_FAMILY
        fam = getattr(core, "family", None)
        if self.family is not None and fam is not None and same.get(fam, fam) != same.get(
            self.family, self.family
        ):
            raise ValueError(
                f"{who} was trained on family {self.family!r} ({self.env_id}) but the env is "
                f"{fam!r}; evaluate it on {self.env_id or 'an env of that family'}"
            )
        got = (int(core.obs_dim), int(core.n_actions))
        if got != (self.obs_dim, self.n_actions):
            raise ValueError(
                f"{who} was trained with obs_dim={self.obs_dim}, n_actions={self.n_actions} "
                f"({self.env_id} {self.env_kwargs}) but the env has obs_dim={got[0]}, "
                f"n_actions={got[1]}"
            )
        kwargs = core.kwargs() if hasattr(core, "kwargs") else {}
        differ = {k: (v, kwargs[k]) for k, v in self.env_kwargs.items()
                  if k not in POPULATION_KWARGS and k in kwargs and kwargs[k] != v}
        if differ:  # legitimate (a transfer study), but never silent
            what = ", ".join(f"{k}={now!r} (trained: {was!r})" for k, (was, now) in differ.items())
            warnings.warn(
                f"{who}: the env differs from the one it was trained on ({self.env_id}) in {what};"
                " observations may mean something else (e.g. a time feature t / max_cycles)",
                MfdiffWarning,
                stacklevel=3,
            )


@dataclass
class Checkpoint:
    """A loaded checkpoint: its ``config.json`` content and the tensors."""

    directory: Path
    method: str
    config: dict[str, Any]
    env: EnvFacts
    extra: dict[str, Any]
    tensors: dict[str, torch.Tensor]


def package_version() -> str:
    """The installed mfdiff's version (recorded in checkpoints), ``"unknown"`` if not installed."""
    try:
        return metadata.version("mfdiff")
    except metadata.PackageNotFoundError:
        return "unknown"


def free_backup(path: Path) -> Path:
    """``PATH.bak``, else ``PATH.bak1``, ``PATH.bak2``, ...: the first name that does not exist,
    so a second backup never overwrites the first (an outside audit lost sweep records that
    way)."""
    bak = path.with_name(path.name + ".bak")
    i = 0
    while bak.exists():
        i += 1
        bak = path.with_name(f"{path.name}.bak{i}")
    return bak


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_checkpoint(
    directory: str | Path,
    *,
    method: str,
    config: dict[str, Any],
    env: EnvFacts,
    tensors: dict[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
    steps_done: int | None = None,
) -> Path:
    """Write ``model.safetensors`` then ``config.json`` (each atomically) into ``directory``.

    ``steps_done``: the gradient steps these weights were trained for (recorded by training:
    a save before the run's ``steps`` is an unfinished run, which loading warns about)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().contiguous()
        for k, v in tensors.items()
    }
    blob = save(state)
    _atomic_write_bytes(d / WEIGHTS_FILE, blob)
    reserved = {"method", "format_version", "package_version", "config", "env", "weights_sha256",
                "config_sha256", "steps_done"}
    clash = reserved & set(extra or {})
    if clash:
        raise ValueError(f"checkpoint extras may not use the reserved keys {sorted(clash)}")
    meta = {
        "method": method,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "config": config,
        "env": asdict(env),
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        **({"steps_done": int(steps_done)} if steps_done is not None else {}),
        **(extra or {}),
    }
    # through JSON first, so the digest is the one a reader recomputes from the file
    meta = json.loads(json.dumps(meta))
    meta["config_sha256"] = config_digest(meta)
    _atomic_write_bytes(d / CONFIG_FILE, json.dumps(meta, indent=2).encode())
    return d


def config_digest(meta: dict[str, Any]) -> str:
    """sha256 of a checkpoint's config.json without its own ``config_sha256`` (canonical JSON):
    the settings, env facts, weights hash and extras it was saved with."""
    body = {k: v for k, v in meta.items() if k != "config_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


#: config.json fields that differ between runs of one setting (one report row pools them)
PER_RUN_FIELDS = ("seed", "device", "log_every", "ckpt_every")
#: fields added after the settings digest (training or planning), each at the value that trains
#: and acts as before the field existed: left out of the digest at that value, so that
#: checkpoints of one setting trained before and after the field pool in one row (an outside
#: review: ``train_inpaint``, written as false into every new config.json, split them; the
#: sixty-fourth update: ``init_seed``, ``lr_schedule`` and ``value_warmup`` had split every
#: checkpoint trained since from the grid's records of the same command)
LATER_FIELDS: dict[str, Any] = {"train_inpaint": False, "stage_steps": None,
                                "lift_warm_start": True, "lift_sinkhorn_rows": 2048,
                                "init_seed": None, "lr_schedule": "constant", "value_warmup": 0,
                                "head_data_range": False}


def settings_digest(meta: dict[str, Any]) -> str:
    """The ``settings`` digest of a checkpoint's config.json contents ``meta`` (its method,
    config and training data; see :func:`checkpoint_identity`): 16 hex digits, equal for the
    training seeds of one setting, whenever they were trained."""
    cfg = {k: v for k, v in meta["config"].items() if k not in PER_RUN_FIELDS
           and not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
    env = meta.get("env", {})
    data = {k: env.get(k) for k in ("dataset_id", "dataset_episodes")}
    text = json.dumps([meta["method"], cfg, data], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoint_identity(policy: str | Path) -> dict[str, str | int] | None:
    """What an evaluation record keeps of a checkpoint directory (None for anything else):
    ``id``, its exact identity (config.json's digest, or its weights' hash in checkpoints saved
    before it), ``settings``, a digest of its method, training settings other than
    :data:`PER_RUN_FIELDS` and training data — equal for the training seeds of one setting —,
    the training dataset's content digest where recorded (``dataset_content``: a dataset
    rebuilt under its id differs) and ``steps_done`` where it was saved short of its steps.
    ``sweep --resume`` re-evaluates a group whose checkpoint changed; a report refuses to pool
    checkpoints of different settings under one row."""
    if not Path(policy).is_dir():
        return None
    meta = read_meta(policy)
    env = meta.get("env", {})
    ident: dict[str, str | int] = {"id": str(meta.get("config_sha256") or meta["weights_sha256"]),
             "settings": settings_digest(meta)}
    # beside the settings digest, not in it: checkpoints saved before it was recorded keep
    # their digest, and pool with new seeds of their setting (compared where both have it)
    if env.get("dataset_content") is not None:
        ident["dataset_content"] = env["dataset_content"]
    short = unfinished(meta)
    if short is not None:
        ident["steps_done"] = short
    return ident


def unfinished(meta: dict[str, Any]) -> int | None:
    """The step a checkpoint was saved at when it is short of its config's ``steps`` (an
    interrupted or unfinished run, e.g. a ``ckpt_every`` save); None when finished or not
    recorded (checkpoints saved before ``steps_done`` was)."""
    done, steps = meta.get("steps_done"), meta.get("config", {}).get("steps")
    if isinstance(done, int) and isinstance(steps, int) and done < steps:
        return done
    return None


def read_meta(directory: str | Path) -> dict[str, Any]:
    """``config.json`` of a checkpoint directory, checked for format and required keys."""
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(f"{d}: no such checkpoint directory")
    path = d / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{d}: missing {CONFIG_FILE} (not an mfdiff checkpoint)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: must hold a JSON object")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{d}: format_version {meta.get('format_version')!r}, this mfdiff "
            f"({package_version()}) reads {FORMAT_VERSION}; retrain it with this version"
        )
    missing = [k for k in ("method", "config", "env", "weights_sha256") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: missing keys {missing}")
    if not isinstance(meta["config"], dict) or not isinstance(meta["env"], dict):
        raise CheckpointError(f"{path}: 'config' and 'env' must be JSON objects")
    # checkpoints saved before the digest was recorded have none: read as they are
    if "config_sha256" in meta and config_digest(meta) != meta["config_sha256"]:
        raise CheckpointError(
            f"{path}: edited after saving (its sha256 does not match): the weights were "
            "trained with the settings it held. Acting fields are changed at load instead "
            "(`mfdiff eval --set KEY=VALUE`, from_pretrained(**overrides))")
    return meta


def trained_env(directory: str | Path) -> tuple[str, int | None, dict[str, Any]] | None:
    """``(env id, N, other env kwargs)`` a checkpoint was trained on — the kwargs less
    :data:`POPULATION_KWARGS` —, or None where its config.json records no env id.

    Raises:
        CheckpointError: not a readable checkpoint directory.
    """
    env = read_meta(directory)["env"]
    if not env.get("env_id"):
        return None
    kwargs = dict(env.get("env_kwargs") or {})
    n = kwargs.get("n_agents")
    return (str(env["env_id"]), None if n is None else int(n),
            {k: v for k, v in kwargs.items() if k not in POPULATION_KWARGS})


def load_checkpoint(directory: str | Path, *, method: str | None = None) -> Checkpoint:
    """Read, hash-check and validate a checkpoint (``method``: the one expected, if given)."""
    d = Path(directory)
    meta = read_meta(d)
    if method is not None and meta["method"] != method:
        raise CheckpointError(f"{d}: holds a {meta['method']!r} checkpoint, not {method!r}")
    w_path = d / WEIGHTS_FILE
    if not w_path.is_file():
        raise CheckpointError(f"{d}: missing {WEIGHTS_FILE}")
    blob = w_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta["weights_sha256"]:
        raise CheckpointError(
            f"{w_path}: content hash does not match config.json (the weights were changed or "
            "damaged after saving)"
        )
    try:
        tensors = load(blob)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{w_path}: truncated or not a safetensors file ({e})") from e
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{w_path}: non-finite values in {bad[:5]}")
    try:
        env = EnvFacts(**meta["env"])
    except TypeError as e:
        raise CheckpointError(f"{d / CONFIG_FILE}: bad 'env' block ({e})") from e
    extra = {
        k: v
        for k, v in meta.items()
        if k not in ("method", "format_version", "package_version", "config", "env")
    }
    return Checkpoint(d, meta["method"], meta["config"], env, extra, tensors)


def save_train_state(directory: str | Path, state: dict[str, Any]) -> None:
    """Optimiser, step and RNG states for resuming (torch pickle, written atomically)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f"{TRAIN_STATE_FILE}.tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, d / TRAIN_STATE_FILE)


def load_train_state(directory: str | Path) -> dict[str, Any] | None:
    """The resume state, or None when the directory has none."""
    p = Path(directory) / TRAIN_STATE_FILE
    if not p.is_file():
        return None
    try:
        # tensors and plain data only (what save_train_state writes: the numpy sampler's state
        # is a dict of ints): resuming from a run directory someone else made must not run
        # code its pickle names
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch raises many kinds on a corrupt pickle)
        raise CheckpointError(
            f"{p}: cannot be read as a resume state of tensors and plain data "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
