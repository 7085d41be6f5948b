"""The ``mfdiff data`` commands: ``build``, ``list``, ``verify`` (:func:`add_parser` wires them in).

mfdiff data list   [--catalogue DIR]
mfdiff data build  <id|family|all> [--n-agents N] [--tier T] [--episodes E] [--workers K]
                   [--force] [--catalogue DIR] [--no-progress]
mfdiff data verify <id ...|all>

Exit codes: 0 done (``build`` of an already built, intact dataset says so and exits 0, so
``mfdiff data build X && mfdiff train --dataset X`` works); 1 a dataset is damaged or a build
failed; 2 a user error (unknown id, family, tier or N, bad counts, catalogue not found, bad
arguments), reported as one line on stderr without a traceback.

Every ``mfdiff data`` command first removes the staging folders of killed builds
(``<root>/.mfdiff-staging/<pid>-...`` whose process is gone).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import warnings
from typing import Any, NoReturn


class UsageError(Exception):
    """A user error of ``mfdiff data``: printed as one line, exit code 2."""


def _catalogue_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a catalogue function, turning its user-facing errors into :class:`UsageError`."""
    try:
        return fn(*args, **kwargs)
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise UsageError(e.args[0] if e.args else str(e)) from e


def _clean_staging() -> None:
    from minari.storage import get_dataset_path

    from mfdiff_envs.offline.build import STAGING_DIR, clean_stale_staging

    removed = clean_stale_staging()
    if removed:
        root = get_dataset_path() / STAGING_DIR
        print(
            f"removed {len(removed)} staging folder(s) of killed builds in {root}",
            file=sys.stderr,
        )


def _local_ids() -> list[str]:
    """Ids of the mfdiff datasets under the Minari root (a ``data`` folder; damaged or not)."""
    from minari.storage import get_dataset_path

    root = get_dataset_path()
    return sorted(p.parent.relative_to(root).as_posix() for p in root.glob("mfdiff/*/*/data"))


def _built_anywhere(ds_id: str) -> bool:
    """``build.dataset_exists`` for any id (one Minari's own tools made), False where Minari's
    path rules refuse the id."""
    from mfdiff_envs.offline.build import dataset_exists

    try:
        return dataset_exists(ds_id)
    except (OSError, ValueError):
        return False


def _status(ds_id: str) -> str:
    """``yes (12.3 MB)`` / ``DAMAGED: why (12.3 MB)`` from the cheap check and the disk size."""
    from mfdiff_envs.offline.integrity import disk_size_mb, quick_check

    problem = quick_check(ds_id)
    size = f"{disk_size_mb(ds_id):.1f} MB"
    return f"yes ({size})" if problem is None else f"DAMAGED: {problem} ({size})"


def _built_meta(ds_id: str) -> dict[str, Any] | None:
    """The ``mfdiff`` block of a built dataset's metadata, or None if unreadable."""
    import json

    from mfdiff_envs.offline.integrity import dataset_dir

    try:
        meta = json.loads((dataset_dir(ds_id) / "data" / "metadata.json").read_text())
        return dict(meta["mfdiff"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _list(args: argparse.Namespace) -> int:
    import json

    from mfdiff_envs.offline.catalogue import load_catalogue, rebuild_hint
    from mfdiff_envs.offline.integrity import dataset_dir

    recipes = _catalogue_call(load_catalogue, args.catalogue)
    local = _local_ids()
    status = {ds_id: _status(ds_id) for ds_id in local}
    print("| dataset | env | N | tier | episodes | expected MB | built (size on disk) |")
    print("|---|---|---|---|---|---|---|")
    for r in recipes:
        built = status.get(r.dataset_id, "no")
        mf = _built_meta(r.dataset_id) if built.startswith("yes") else None
        other = _conflicts(r, mf) if mf is not None else {}
        have = other.pop("episodes", (None,))[0]
        if have is not None:  # an --episodes build: say it is partial
            built = f"yes, {have} of {r.episodes} episodes {built[4:]}"
            if r.tier == "mixed":  # its skill ramps over the episodes built, not the catalogue's
                built += (f", skill 0 -> 1 over these {have} (not the catalogue's first {have} "
                          "episodes)")
        if other:  # built otherwise than the catalogue says: never a plain "yes"
            built = f"{built}, NOT the catalogue's: {', '.join(other)} differ"
        print(
            f"| {r.dataset_id} | {r.env_id} | {r.n_agents} | {r.tier} | {r.episodes} "
            f"| {r.expected_size_mb} | {built} |"
        )
    known = {r.dataset_id for r in recipes}
    for ds_id in local:  # built from Python at another N (build_dataset): listed too
        if ds_id in known:
            continue
        mf = _built_meta(ds_id) or {}
        print(f"| {ds_id} | {mf.get('env_id', '?')} | {mf.get('n_agents', '?')} "
              f"| {mf.get('tier', '?')} | {mf.get('episodes', '?')} | — "
              f"| {status[ds_id]}, not in the catalogue |")
    for ds_id in local:
        print()
        extra = "" if ds_id in known else " (not in the catalogue)"
        print(f"### {ds_id}{extra}")
        if status[ds_id].startswith("DAMAGED"):
            # `data build --force` takes ids of the catalogue it is given only (the default
            # one without --catalogue); off it, the build_dataset call the metadata records
            if ds_id in known and args.catalogue is not None:  # the recipe, not the metadata
                how = (f", `mfdiff data build {ds_id} --catalogue "
                       f"{shlex.quote(str(args.catalogue))} --force` rebuilds it")
            else:
                hint = rebuild_hint(ds_id, _built_meta(ds_id))
                # an edited metadata.json: the problem names this rebuild already, once is enough
                how = "" if hint in status[ds_id] else f", {hint} rebuilds it"
            print(f"{status[ds_id]}; `mfdiff data verify {ds_id}` for details{how}")
        try:
            meta = json.loads((dataset_dir(ds_id) / "data" / "metadata.json").read_text())
            print(meta.get("description", "(no description)"))
        except (OSError, ValueError):
            print("(metadata.json unreadable)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from mfdiff_envs.offline.catalogue import load_catalogue, off_catalogue_hint, parse_id
    from mfdiff_envs.offline.episodes import verify_dataset
    from mfdiff_envs.offline.integrity import UNHASHED, disk_size_mb

    local = _local_ids()
    if args.ids == ["all"]:
        ids = local
        if not ids:
            raise UsageError("no mfdiff dataset is built (MINARI_DATASETS_PATH)")
    else:
        ids = args.ids
        for ds_id in ids:
            if not ds_id.startswith("mfdiff/") and _built_anywhere(ds_id):
                # made by Minari's own tools under another id (combine_datasets, ...): it
                # trains, so it is checked too, and reported as it is under an mfdiff id
                continue
            _catalogue_call(parse_id, ds_id)
            if ds_id in local:
                continue
            recipes = _catalogue_call(load_catalogue, None)
            if any(r.dataset_id == ds_id for r in recipes):
                raise UsageError(f"dataset {ds_id} is not built; `mfdiff data build {ds_id}`")
            # `data build` takes catalogue entries only: name the way that builds this one, or
            # the built or catalogue id a misspelt one is nearest to
            raise UsageError(f"dataset {ds_id} is not built, and not in the catalogue (`mfdiff "
                             f"data list`){off_catalogue_hint(ds_id, recipes, also=local)}")
    damaged = 0
    for ds_id in ids:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the problems are the report itself
            problem = verify_dataset(ds_id)
        if problem is None:
            print(f"ok: {ds_id} ({disk_size_mb(ds_id):.1f} MB, every episode hash matches)")
        else:
            what = "cannot be verified" if problem.startswith(UNHASHED) else "is damaged"
            print(f"mfdiff data verify: {ds_id} {what}: {problem}", file=sys.stderr)
            damaged += 1
    return 1 if damaged else 0


def _conflicts(r: Any, mf: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{field: (built, asked)} where the dataset built under ``r``'s id (its metadata's
    ``mfdiff`` block ``mf``) is not what building the recipe ``r`` would write: episodes, seed,
    env id and kwargs (as the build stores them), behaviour policy, tier skill."""
    import json

    from mfdiff_envs.offline.build import make_env, tier_skill

    env = make_env(r.env_id, r.env_kwargs)
    asked = {"episodes": r.episodes, "seed": r.seed, "env_id": r.env_id,
             # through JSON, as metadata.json holds them (tuples become lists)
             "env_kwargs": json.loads(json.dumps(env.spec.kwargs)), "behaviour": "default"}
    env.close()
    if r.tier != "mixed":
        asked["skill"] = tier_skill(r.family, r.tier)
    have = {**mf, "behaviour": mf.get("behaviour", "default")}  # built before it was recorded
    return {k: (have.get(k), v) for k, v in asked.items() if have.get(k) != v}


def _existing(r: Any) -> tuple[int, str]:
    """(exit code, message) for an already built recipe: 0 intact and built as asked, 1 damaged,
    2 built otherwise — other episodes, seed, env or env kwargs, behaviour policy or tier skill
    (a request that conflicts with what is on disk: the dataset is kept, and
    ``build X && train X`` stops rather than train on other data)."""
    from mfdiff_envs.offline.integrity import dataset_dir, disk_size_mb, quick_check

    problem = quick_check(r.dataset_id)
    if problem is not None:
        return 1, f"{r.dataset_id} exists but is damaged ({problem}); --force rebuilds it"
    import json

    meta = json.loads((dataset_dir(r.dataset_id) / "data" / "metadata.json").read_text())
    mf = meta.get("mfdiff", {})
    differ = _conflicts(r, mf)
    if differ:
        what = ", ".join(f"{k} {have} (asked {want})" for k, (have, want) in differ.items())
        return 2, f"{r.dataset_id} is already built with {what}; --force rebuilds it"
    return 0, (
        f"{r.dataset_id} is already built ({mf.get('episodes')} episodes, "
        f"{disk_size_mb(r.dataset_id):.1f} MB at {dataset_dir(r.dataset_id)}); --force rebuilds it"
    )


def _build(args: argparse.Namespace) -> int:
    from mfdiff_envs.offline.build import DatasetExistsError, build_recipe, dataset_exists
    from mfdiff_envs.offline.catalogue import select

    if args.episodes is not None and args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    recipes = _catalogue_call(
        select, args.target, n_agents=args.n_agents, tier=args.tier, path=args.catalogue
    )
    failed = 0
    code = 0  # the worst of: 1 a build failed or a dataset is damaged, 2 a conflicting request
    for r in recipes:
        if args.episodes is not None:
            r = dataclasses.replace(r, episodes=args.episodes)
        if dataset_exists(r.dataset_id) and not args.force:
            status, message = _existing(r)
            if status:
                print(f"mfdiff data build: {message}", file=sys.stderr, flush=True)
            else:
                print(message, flush=True)
            code = max(code, status)
            continue
        print(f"building {r.dataset_id} ({r.episodes} episodes)", flush=True)
        try:
            ds = build_recipe(
                r, overwrite=args.force, progress=not args.no_progress, workers=args.workers
            )
        except DatasetExistsError:  # built by a concurrent command meanwhile
            # judged as if it had been there before: built as asked is done (exit 0; an outside
            # audit saw the second of two identical builds fail and stop `build && train`)
            status, message = _existing(r)
            print(f"mfdiff data build: {r.dataset_id} was built by another process meanwhile: "
                  f"{message}", file=sys.stderr if status else sys.stdout, flush=True)
            code = max(code, status)
            continue
        meta: dict[str, Any] = ds.storage.metadata["mfdiff"]
        print(
            f"  {meta['episodes']} episodes, {meta['steps']} steps, return "
            f"{meta['return_mean']:.4g} ± {meta['return_std']:.3g}, "
            f"normalized {meta['normalized_mean']:.1f}, "
            f"{meta['size_mb']:.1f} MB in {meta['build_seconds']:.1f} s",
            flush=True,
        )
    return max(code, 1 if failed else 0)


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse prints its usage block before an error; keep the error to one line."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]
    return parser


def _command(fn: Any) -> Any:
    """Wrap a subcommand: clean stale staging first, report a :class:`UsageError` in one line."""

    def run(args: argparse.Namespace) -> int:
        try:
            _clean_staging()
            return fn(args)
        except UsageError as e:
            print(f"mfdiff data {args.data_command}: error: {e}", file=sys.stderr)
            return 2

    run.__doc__ = fn.__doc__
    return run


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``data`` (``build``, ``list``, ``verify``) on an argparse subparsers object."""
    data = _one_line_errors(
        subparsers.add_parser("data", help="offline datasets (Minari): build, list, verify")
    )
    data_sub = data.add_subparsers(dest="data_command", required=True)
    catalogue_help = "catalogue directory (default: repo datasets/, or $MFDIFF_CATALOGUE)"

    lst = _one_line_errors(
        data_sub.add_parser(
            "list", help="catalogue entries, built or not (size on disk, damage), data cards"
        )
    )
    lst.add_argument("--catalogue", default=None, help=catalogue_help)
    lst.set_defaults(func=_command(_list))

    b = _one_line_errors(data_sub.add_parser("build", help="build catalogue datasets"))
    b.add_argument(
        "target", help="a dataset id (mfdiff/squeeze-n1000/expert-v0), a family, or 'all'"
    )
    b.add_argument("--n-agents", type=int, default=None, help="only entries with this N")
    b.add_argument("--tier", default=None, help="only this tier (expert, medium, random, mixed)")
    b.add_argument(
        "--episodes", type=int, default=None, help="override the catalogue's episode count"
    )
    b.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes rolling out episodes (same dataset for any count; default 1)",
    )
    b.add_argument("--force", action="store_true", help="rebuild datasets that already exist")
    b.add_argument("--catalogue", default=None, help=catalogue_help)
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=_command(_build))

    v = _one_line_errors(
        data_sub.add_parser(
            "verify",
            help="check built datasets against their recorded sha256 (exit 1 if damaged)",
        )
    )
    v.add_argument("ids", nargs="+", help="dataset ids, or 'all' (every built mfdiff dataset)")
    v.set_defaults(func=_command(_verify))
    return data


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m mfdiff_envs.offline.cli build ...``)."""
    p = argparse.ArgumentParser(prog="mfdiff")
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["data", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
