"""Cross two MF-Diffuser checkpoints: one's diffusion model (and value net) with the other's
action head, saved as a new checkpoint (a diagnostic, docs/results/ising_trace_n2025_medium.md).

    python experiments/swap_heads.py runs/fresh_ising/mfdiffuser-medium-s18 \\
        runs/fresh_ising/mfdiffuser-medium-s0 /tmp/swap/diff18-head0

Which part of a weak training seed fails: its planner, its head, or the pair? Both checkpoints
must be MF-Diffuser checkpoints of the same settings and training data (only per-run fields
such as the seed may differ, as :func:`checkpoint_identity` pools them), so the normalisation
statistics agree up to the windows each run sampled; the plan checkpoint's statistics are kept.
The new checkpoint records both sources under ``"crossed"`` and refuses to overwrite anything.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mfdiff_agents.checkpoint import (
    checkpoint_identity,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)

HEAD_PREFIX = "action_head."


def cross(plans: Path, head: Path, out: Path) -> Path:
    """Save ``plans``' weights with ``head``'s action head into the new directory ``out``."""
    if out.exists():
        raise FileExistsError(f"{out} exists: pick a new directory (nothing is overwritten)")
    a, b = load_checkpoint(plans, method="mfdiffuser"), load_checkpoint(head, method="mfdiffuser")
    ida, idb = checkpoint_identity(plans), checkpoint_identity(head)
    if ida["settings"] != idb["settings"]:
        raise ValueError(f"{plans} and {head} differ in settings or training data: crossing "
                         "them would not say which part of one run fails")
    keys_a = {k for k in a.tensors if k.startswith(HEAD_PREFIX)}
    keys_b = {k for k in b.tensors if k.startswith(HEAD_PREFIX)}
    if not keys_a or keys_a != keys_b:
        raise ValueError(f"the action heads differ in their tensors ({sorted(keys_a ^ keys_b)})")
    tensors = {k: (b.tensors[k] if k in keys_a else v) for k, v in a.tensors.items()}
    meta = read_meta(plans)
    extra = {k: v for k, v in a.extra.items()
             if k not in ("weights_sha256", "config_sha256", "steps_done")}
    extra["crossed"] = {"plans": str(plans), "plans_id": ida["id"],
                        "head": str(head), "head_id": idb["id"]}
    return save_checkpoint(out, method="mfdiffuser", config=meta["config"], env=a.env,
                           tensors=tensors, extra=extra, steps_done=meta.get("steps_done"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("plans", type=Path, help="checkpoint whose diffusion model plans")
    p.add_argument("head", type=Path, help="checkpoint whose action head acts")
    p.add_argument("out", type=Path, help="new checkpoint directory")
    args = p.parse_args()
    print(cross(args.plans, args.head, args.out))


if __name__ == "__main__":
    main()
