"""``mfdiff data build`` / ``mfdiff data list``, wired into :mod:`mfdiff.cli` by :func:`add_parser`.

mfdiff data list [--catalogue DIR]
mfdiff data build <id|family|all> [--n-agents N] [--tier T] [--episodes E] [--force]
                  [--catalogue DIR] [--no-progress]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any


def _list(args: argparse.Namespace) -> int:
    import minari

    from mfdiff_envs.offline.catalogue import load_catalogue

    recipes = load_catalogue(args.catalogue)
    local = minari.list_local_datasets(prefix="mfdiff") if _has_mfdiff_root() else {}
    print("| dataset | env | N | tier | episodes | expected MB | built |")
    print("|---|---|---|---|---|---|---|")
    for r in recipes:
        meta = local.get(r.dataset_id)
        built = f"yes ({meta.get('dataset_size', '?')} MB)" if meta else "no"
        print(
            f"| {r.dataset_id} | {r.env_id} | {r.n_agents} | {r.tier} | {r.episodes} "
            f"| {r.expected_size_mb} | {built} |"
        )
    known = {r.dataset_id for r in recipes}
    for ds_id, meta in local.items():
        print()
        extra = "" if ds_id in known else " (not in the catalogue)"
        print(f"### {ds_id}{extra}")
        print(meta.get("description", "(no description)"))
    return 0


def _has_mfdiff_root() -> bool:
    from minari.storage import get_dataset_path

    return get_dataset_path("mfdiff").is_dir()


def _build(args: argparse.Namespace) -> int:
    from mfdiff_envs.offline.build import DatasetExistsError, build_recipe
    from mfdiff_envs.offline.catalogue import select

    try:
        recipes = select(args.target, n_agents=args.n_agents, tier=args.tier, path=args.catalogue)
    except (KeyError, ValueError) as e:
        print(f"mfdiff data build: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    failed = 0
    for r in recipes:
        if args.episodes is not None:
            r = dataclasses.replace(r, episodes=args.episodes)
        print(f"building {r.dataset_id} ({r.episodes} episodes)", flush=True)
        try:
            ds = build_recipe(r, overwrite=args.force, progress=not args.no_progress)
        except DatasetExistsError as e:
            print(f"skip: {e}", file=sys.stderr)
            failed += 1
            continue
        meta: dict[str, Any] = ds.storage.metadata["mfdiff"]
        print(
            f"  {meta['episodes']} episodes, {meta['steps']} steps, return "
            f"{meta['return_mean']:.4g} ± {meta['return_std']:.3g}, "
            f"normalised {meta['normalized_mean']:.1f}, "
            f"{meta['size_mb']:.1f} MB in {meta['build_seconds']:.1f} s",
            flush=True,
        )
    return 1 if failed else 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``data`` (with ``build`` and ``list``) on an argparse subparsers object."""
    data = subparsers.add_parser("data", help="offline datasets (Minari): build and list")
    data_sub = data.add_subparsers(dest="data_command", required=True)

    lst = data_sub.add_parser("list", help="catalogue entries, built or not, with data cards")
    lst.add_argument(
        "--catalogue", default=None, help="catalogue directory (default: repo datasets/)"
    )
    lst.set_defaults(func=_list)

    b = data_sub.add_parser("build", help="build catalogue datasets")
    b.add_argument(
        "target", help="a dataset id (mfdiff/squeeze-n1000/expert-v0), a family, or 'all'"
    )
    b.add_argument("--n-agents", type=int, default=None, help="only entries with this N")
    b.add_argument("--tier", default=None, help="only this tier (expert, medium, random, mixed)")
    b.add_argument(
        "--episodes", type=int, default=None, help="override the catalogue's episode count"
    )
    b.add_argument("--force", action="store_true", help="overwrite datasets that already exist")
    b.add_argument(
        "--catalogue", default=None, help="catalogue directory (default: repo datasets/)"
    )
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=_build)
    return data


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m mfdiff_envs.offline.cli build ...``)."""
    p = argparse.ArgumentParser(prog="mfdiff")
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["data", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
