"""Typed configs of every trainable method, and the one strict loader for them.

Every method's ``Config`` is a dataclass that subclasses :class:`TrainConfig`, so the fields the
shared training loop and the window sampler need (``steps``, ``batch_size``, ``horizon``,
``n_particles``, ``gamma``, ``seed``, ``init_seed``, ``device``, ``ema_decay``, ``lr_schedule``,
``log_every``, ``ckpt_every``)
are spelled once and each method's config is the single source of its sampler settings. Each
field carries a docstring right below it; :func:`config_help` turns those into
``mfdiff train --algo X --help``.

:func:`build_config` is the only way a config is built from outside data (a JSON file, a
checkpoint's ``config.json``, ``--set key=value``): unknown keys and ill-typed values raise
:class:`ConfigError` naming the key.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import math
import textwrap
import types
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mfdiff_envs.core import MfdiffWarning

C = TypeVar("C")


class ConfigError(ValueError):
    """A config file, checkpoint config or ``--set`` override does not fit a method's Config."""


@dataclass
class TrainConfig:
    """Fields every trainable method shares (the training loop and the window sampler)."""

    # ---- windows (the WindowSampler is built from these)
    horizon: int = 8
    """H, window length in env steps (≤ episode length; Gaussian Squeeze has 25)."""
    n_particles: int = 32
    """K, agents (particles) sampled per training window."""
    gamma: float = 0.99
    """Discount of the windows' returns-to-go."""
    # ---- optimisation
    steps: int = 2000
    """Gradient steps."""
    batch_size: int = 32
    """Windows per batch (each K agents × H steps)."""
    seed: int = 0
    """Seed of parameter init, noise draws and the window sampler."""
    init_seed: int | None = None
    """Seed of the initial weights alone, where it should differ from ``seed`` (None = ``seed``,
    as before the field existed): runs with one ``init_seed`` and other ``seed`` start from the
    same weights and see other windows and noise, which separates what a training seed's
    initialisation decides from what its data order does (docs/results/README.md, sixty-third
    update)."""
    device: str = "auto"
    """"auto" (CUDA when present, else CPU) | "cpu" | "cuda[:i]"."""
    ema_decay: float = 0.0
    """Decay of an exponential moving average of the weights, which the saved policy acts
    with (0 = off: the last iterate). Warmed up as min(ema_decay, (1 + t) / (10 + t)) at step
    t, so a short run is not dragged toward its initial weights (the diffusion planners'
    practice: Janner et al. 2022 act with EMA weights, decay 0.995)."""
    lr_schedule: str = "constant"
    """Learning-rate schedule over ``steps``: "constant" | "cosine" (half a cosine from the
    method's lr to 0) | "linear" (straight to 0). The shared loop sets every parameter group's
    rate from the step number, so a resumed run follows the same curve. Why decay: a constant
    rate leaves the last iterate wherever the last few batches pushed it, so the checkpoint a
    run stops at is one noisy draw of many nearby ones. Measured on MF-Diffuser (Ising-medium,
    6 training seeds): cosine scores lower at 400 and at 800 steps and does not narrow the
    spread over seeds (docs/results/lr_schedule_ising_medium_seeds404142434445_n1024*.md);
    constant stays every config's."""
    # ---- bookkeeping
    log_every: int = 50
    """Steps between metrics.csv rows and progress-bar updates."""
    ckpt_every: int = 500
    """Steps between checkpoints in the output directory (0 = only at the end)."""

    def __post_init__(self) -> None:
        for name in ("horizon", "n_particles", "steps", "batch_size", "log_every"):
            check_positive_int(type(self).__name__, name, getattr(self, name))
        # the methods' sizes: hidden=0 built a net that ignores its input, depth ≤ 0 a linear one
        for name in SIZE_FIELDS:
            if hasattr(self, name):
                check_positive_int(type(self).__name__, name, getattr(self, name))
        if isinstance(self.ckpt_every, bool) or not isinstance(self.ckpt_every, int) or (
            self.ckpt_every < 0
        ):
            raise ConfigError(f"{type(self).__name__}.ckpt_every must be an int ≥ 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not (
            0 <= self.seed < 2**63 - 1
        ):  # torch generators take seeds below 2^64; the head's stream draws from seed + 1
            raise ConfigError(
                f"{type(self).__name__}.seed must be an int in [0, 2^63 - 1), got {self.seed!r}"
            )
        if self.init_seed is not None and (
                isinstance(self.init_seed, bool) or not isinstance(self.init_seed, int)
                or not 0 <= self.init_seed < 2**63 - 1):
            raise ConfigError(f"{type(self).__name__}.init_seed must be None or an int in "
                              f"[0, 2^63 - 1), got {self.init_seed!r}")
        if not 0.0 <= float(self.gamma) <= 1.0:
            raise ConfigError(f"{type(self).__name__}.gamma must lie in [0, 1], got {self.gamma}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"{type(self).__name__}.lr_schedule must be one of "
                              f"{list(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if not 0.0 <= float(self.ema_decay) < 1.0:
            raise ConfigError(
                f"{type(self).__name__}.ema_decay must lie in [0, 1), got {self.ema_decay}"
            )


#: Values of :attr:`TrainConfig.lr_schedule`.
LR_SCHEDULES = ("constant", "cosine", "linear")


def lr_scale(schedule: str, step: int, steps: int) -> float:
    """The factor on the base learning rate at 0-based ``step`` of a ``steps``-step run:
    1 throughout for "constant"; from 1 at step 0 toward 0 at ``steps`` for "cosine" and
    "linear" (the last step still moves the weights a little)."""
    if schedule == "constant":
        return 1.0
    frac = min(max(step / steps, 0.0), 1.0)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    if schedule == "linear":
        return 1.0 - frac
    raise ConfigError(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {schedule!r}")


#: Network sizes and step counts of the methods' configs (whichever a Config has): ints ≥ 1.
SIZE_FIELDS = ("hidden", "depth", "width", "n_timesteps", "ddim_steps", "norm_batches")


def check_positive_int(owner: str, name: str, value: Any) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an int ≥ 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}.{name} must be a positive int, got {value!r}")


def check_finite(owner: str, name: str, value: Any, *, strict: bool = True) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number > 0 (≥ 0 with
    ``strict=False``): learning rates, clips, scales and decays, where 0 or a negative value
    trains silently wrong rather than failing."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value) and (value > 0 if strict else value >= 0))
    if not ok:
        raise ConfigError(f"{owner}.{name} must be a finite number {'>' if strict else '≥'} 0, "
                          f"got {value!r}")


def check_decoupled_decay(owner: str, lr: float, weight_decay: float) -> None:
    """Raise :class:`ConfigError` where AdamW's decoupled decay would wipe the weights.

    AdamW multiplies every weight by ``1 - lr * weight_decay`` each step: at a product ≥ 1 the
    weights are zeroed (or flipped in sign) at every step, and a fit would run its whole budget
    training nothing. Call after both values passed :func:`check_finite`."""
    if lr * weight_decay >= 1.0:
        raise ConfigError(
            f"{owner}.lr × {owner}.weight_decay must be < 1 (AdamW scales the weights by "
            f"1 − lr × weight_decay each step), got {lr!r} × {weight_decay!r} = "
            f"{lr * weight_decay:g}"
        )


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON data (tuples become lists)."""
    return dataclasses.asdict(cfg)


def build_config(
    cls: type[C],
    data: dict[str, Any] | None = None,
    *,
    config_path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    method: str | None = None,
) -> C:
    """``cls`` from ``data``, then a JSON file, then ``key=value`` overrides, strictly checked.

    The file may be a checkpoint's config.json of ``method`` (its ``config`` block is read, the
    fields ``cls`` no longer has dropped, with a warning); another method's is refused.

    Values may be JSON values or strings (``--set``): each is coerced to the field's type
    (``k_schedule=16,64,256`` -> ``(16, 64, 256)``, ``true``/``false`` for bools).
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    merged: dict[str, Any] = dict(data or {})
    if config_path is not None:
        try:
            loaded = json.loads(Path(config_path).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read config {config_path}: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {config_path} must hold a JSON object")
        if isinstance(loaded.get("config"), dict) and "format_version" in loaded:
            # a checkpoint's config.json (an outside review: its metadata keys were refused
            # as unknown fields): what it was trained with is its "config" block
            if method is None or loaded.get("method") != method:
                # shared field names would mix two methods' settings: the caller says which
                raise ConfigError(f"config {config_path} is a {loaded.get('method')!r} "
                                  f"checkpoint's config.json, not one of method {method!r}")
            names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
            gone = sorted(set(loaded["config"]) - names)
            warnings.warn(f"config {config_path} is a checkpoint's config.json "
                          f"({method}): its \"config\" block is used"
                          + (f", without the fields this version no longer has {gone}"
                             if gone else ""), MfdiffWarning, stacklevel=2)
            loaded = {k: v for k, v in loaded["config"].items() if k in names}
        merged.update(loaded)
    given: dict[str, str] = {}
    for item in overrides:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if given.setdefault(key.strip(), raw) != raw:  # the last wins, as argparse's; said
            warnings.warn(f"--set {key.strip()} given twice ({given[key.strip()]!r}, then "
                          f"{raw!r}): the last one, {raw!r}, is used", MfdiffWarning,
                          stacklevel=2)
            given[key.strip()] = raw
        merged[key.strip()] = raw
    unknown = sorted(set(merged) - set(names))
    if unknown:
        raise ConfigError(f"unknown {cls.__qualname__} keys {unknown}; valid keys: {names}")
    kwargs = {k: _coerce(k, hints[k], v) for k, v in merged.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid {cls.__qualname__}: {e}") from e


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert ``value`` (a JSON value or a ``--set`` string) to the field type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # Optional[X] / X | None
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(name, inner[0], value) if len(inner) == 1 else value
    if origin in (tuple, list):
        elem = args[0] if args else Any
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as e:
                    raise ConfigError(f"{name}: not a JSON list: {value!r}") from e
            else:
                value = [v for v in text.strip("()").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        items = [_coerce(name, elem, v) for v in value]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{name}: expected a bool (true/false), got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected {tp.__name__}, got a bool")
        try:
            out = tp(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{name}: expected {tp.__name__}, got {value!r}") from e
        if tp is int and isinstance(value, float) and value != out:
            raise ConfigError(f"{name}: expected an int, got {value!r}")
        if tp is float and not (out == out and abs(out) != float("inf")):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    return value


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written right below it, over the class and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def config_help(cls: type) -> str:
    """Every field of ``cls`` with its type, default and doc, for ``--help``."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    lines = [f"{cls.__module__}.{cls.__qualname__} fields (set with --set key=value):", ""]
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:  # a required field (kw_only subclasses may declare one)
            default = "required"
        tp = getattr(hints[f.name], "__name__", str(hints[f.name]))
        lines.append(f"  {f.name} ({tp}, default {default})")
        if docs.get(f.name):
            lines += ["      " + s for s in textwrap.wrap(docs[f.name], 88)]
    return "\n".join(lines)
