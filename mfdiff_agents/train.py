"""``mfdiff train``: fit a method on a Minari dataset and write its checkpoint.

    mfdiff train --dataset mfdiff/squeeze-n1000/expert-v0 --algo mfdiffuser \\
        [--config cfg.json] [--set steps=500 --set k_schedule=16,64] [--out runs/x] [--resume]

Every method is a module with a typed ``Config`` dataclass and
``fit(sampler, cfg, *, out_dir, progress) -> Policy`` (docs/contracts.md); this command only
builds the Config (JSON file, then ``--set`` overrides, each checked against the dataclass
fields and types: unknown keys fail) and the WindowSampler, and calls ``fit``. Modules are
imported lazily, so ``mfdiff --help`` does not import torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

ALGOS: dict[str, str] = {
    "mfdiffuser": "mfdiff_agents.diffuser.planner",
    "bc": "mfdiff_agents.baselines.bc",
    "mfq": "mfdiff_agents.baselines.mfq",
    "indep_diffuser": "mfdiff_agents.baselines.independent_diffuser",
    "joint_diffuser": "mfdiff_agents.baselines.joint_diffuser",
}

#: Window-sampler settings used when a method's Config has no field of that name.
SAMPLER_DEFAULTS: dict[str, Any] = {"horizon": 8, "n_particles": 32, "gamma": 0.99, "seed": 0}


class ConfigError(ValueError):
    """A config file or ``--set`` override does not fit the method's Config."""


def load_method(algo: str) -> types.ModuleType:
    """Import the module of ``algo`` (must expose ``Config`` and ``fit``)."""
    if algo not in ALGOS:
        raise ConfigError(f"unknown algo {algo!r}; choose from {sorted(ALGOS)}")
    try:
        mod = importlib.import_module(ALGOS[algo])
    except ModuleNotFoundError as e:
        raise ConfigError(f"algo {algo!r}: module {ALGOS[algo]} is not available ({e})") from e
    if not (hasattr(mod, "Config") and hasattr(mod, "fit")):
        raise ConfigError(f"algo {algo!r}: {ALGOS[algo]} lacks Config/fit (docs/contracts.md)")
    return mod


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
                value = json.loads(text)
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
        return out
    if tp is str:
        return str(value)
    return value


def build_config(
    cls: type, *, config_path: str | Path | None = None, overrides: list[str] = ()
) -> Any:
    """``cls`` from a JSON file and ``key=value`` overrides, with strict key and type checks."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            loaded = json.loads(Path(config_path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read config {config_path}: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {config_path} must hold a JSON object")
        data.update(loaded)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        data[key.strip()] = raw
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"unknown {cls.__module__}.Config keys {unknown}; valid keys: {names}")
    kwargs = {k: _coerce(k, hints[k], v) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid {cls.__module__}.Config: {e}") from e


def train(
    dataset: Any,
    algo: str,
    *,
    config_path: str | Path | None = None,
    overrides: list[str] = (),
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> Any:
    """Library form of ``mfdiff train``; ``dataset``: a Minari id or a WindowSampler source."""
    mod = load_method(algo)
    cfg = build_config(mod.Config, config_path=config_path, overrides=list(overrides))
    fields = {f.name for f in dataclasses.fields(cfg)}
    if resume:
        if "resume" not in fields:
            raise ConfigError(f"algo {algo!r} does not support --resume")
        cfg = dataclasses.replace(cfg, resume=True)
    from mfdiff_envs.offline.windows import WindowSampler

    skw = {k: getattr(cfg, k) if k in fields else v for k, v in SAMPLER_DEFAULTS.items()}
    sampler = WindowSampler(
        dataset,
        horizon=skw["horizon"],
        n_particles=skw["n_particles"],
        gamma=skw["gamma"],
        seed=skw["seed"],
    )
    out_dir = Path(out) if out is not None else None
    policy = mod.fit(sampler, cfg, out_dir=out_dir, progress=progress)
    if out_dir is not None and not (out_dir / "config.json").exists() and hasattr(policy, "save"):
        policy.save(out_dir)
    return policy


def _run(args: argparse.Namespace) -> int:
    out = args.out
    if out is None:
        out = Path("runs") / args.algo / str(args.dataset).replace("/", "_")
    try:
        train(
            args.dataset,
            args.algo,
            config_path=args.config,
            overrides=args.set or [],
            out=out,
            resume=args.resume,
            progress=not args.no_progress,
        )
    except ConfigError as e:
        print(f"mfdiff train: error: {e}", file=sys.stderr)
        return 2
    print(f"checkpoint written to {out}")
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "train", help="train a method on an offline dataset", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--dataset", required=True, help="Minari dataset id, e.g. mfdiff/squeeze-n1000/expert-v0"
    )
    p.add_argument("--algo", required=True, choices=sorted(ALGOS))
    p.add_argument("--config", default=None, help="JSON file of Config fields")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one Config field (repeatable); lists as 16,64,256",
    )
    p.add_argument("--out", default=None, help="output directory (default runs/<algo>/<dataset>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
    return p
