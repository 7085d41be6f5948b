"""Planning-time acting knobs on the grid's checkpoints (docs/results/acting_knobs.md).

    python experiments/acting_knobs.py runs/grid > runs/exp/acting_knobs.toml

Every variant is a `--set` at evaluation on the same MF-Diffuser weights (the grid's three
training seeds per cell, N = 10^3; Battle: seed 0 and three variants, see REDUCED): acting
rule (particle / action head), the head's temperature (1 = sample, 0 = argmax), balanced
decoding (agents with one observation take the head's expected action counts, rounded), the
return condition the plan is sampled at and classifier-free guidance toward it.
"""

from __future__ import annotations

import sys

from make_sweep import FAMILIES, run_block

VARIANTS = {  # label -> planning overrides
    "particle, R*=1.5": '{ act_with = "particle" }',
    "particle, R*=3": '{ act_with = "particle", return_target = 3.0 }',
    "head, T=1": '{ act_with = "head", head_temperature = 1.0 }',
    "head, T=0 (argmax)": '{ act_with = "head", head_temperature = 0.0 }',
    "head, T=0, R*=3": '{ act_with = "head", head_temperature = 0.0, return_target = 3.0 }',
    "head, balanced T=0.3 (default)":
        '{ act_with = "head", head_temperature = 0.3, head_decode = "balanced" }',
    "head, balanced T=0.5":
        '{ act_with = "head", head_temperature = 0.5, head_decode = "balanced" }',
    "head, balanced T=0.7":
        '{ act_with = "head", head_temperature = 0.7, head_decode = "balanced" }',
    "head, balanced T=1, min-p 0.2": '{ act_with = "head", head_temperature = 1.0, '
                                     'head_decode = "balanced", head_min_p = 0.2 }',
    # classifier-free guidance on the return condition, with today's acting (it was ablated on
    # Squeeze with particle actions only: guidance.md)
    "head, balanced T=0.3, guidance w=2": '{ act_with = "head", head_temperature = 0.3, '
                                          'head_decode = "balanced", guidance_weight = 2.0 }',
    "head, balanced T=0.3, guidance w=4": '{ act_with = "head", head_temperature = 0.3, '
                                          'head_decode = "balanced", guidance_weight = 4.0 }',
}


#: guidance needs a model trained with a null token (p_uncond > 0): of the grid's checkpoints,
#: only Ising's (configs/mfdiffuser/ising.json)
ONLY = {"head, balanced T=0.3, guidance w=2": ("ising",),
        "head, balanced T=0.3, guidance w=4": ("ising",)}

#: Battle episodes cost ~10x Squeeze's: its seed-0 checkpoints and three variants only
REDUCED = {"battle": ((0,), ("particle, R*=1.5", "head, T=1", "head, T=0 (argmax)",
                             "head, balanced T=0.3 (default)", "head, balanced T=1, min-p 0.2"))}


def main(out: str, families: list[str]) -> None:
    lines = ["# acting knobs (written by experiments/acting_knobs.py)", "seeds = 3",
             "episodes = 1", 'device = "cpu"', ""]
    for fam in families:
        stem, env, ns, kwargs = FAMILIES[fam]
        ckpts, names = REDUCED.get(fam, ((0, 1, 2), tuple(VARIANTS)))
        for tier in ("medium", "mixed"):
            for label in names:
                if fam not in ONLY.get(label, (fam,)):
                    continue
                overrides = VARIANTS[label]
                for s in ckpts:
                    lines.extend(run_block(f"{out}/ckpt/{stem}-{tier}/mfdiffuser-s{s}", label,
                                           env, [ns[1]], kwargs, tier, overrides))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["squeeze", "ising"])
