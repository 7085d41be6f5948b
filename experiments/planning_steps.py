"""Sweep behind the denoising-steps and acting settings of configs/mfdiffuser/*.json
(docs/results/planning_steps.md), written to stdout.

    python experiments/planning_steps.py runs/grid ising > ising.toml    # or: battle squeeze

The grid's MF-Diffuser checkpoints (training seeds 0, 1, 2; 3 evaluation seeds each) at the
training N, both tiers, each family's planning settings from its config with one field
changed per row: ``ddim_steps`` (reverse DDIM steps per plan: 10, the default, 20, 40), on
Ising the action head's temperature (balanced T = 0.3, the default, vs argmax) and K = 512
particles, on Squeeze the head's temperature, min-p truncation, best-of-M plans and the replan
interval, on Battle best-of-4 plans by the value net (``plan_samples``).
experiments/planning_steps.sh runs the three families and writes the report.
"""

from __future__ import annotations

import sys

from make_sweep import ACTING, FAMILIES, inline_table, one_plan, run_block

#: family -> [(label, overrides on top of ACTING + the family's planning settings)]
ROWS = {
    "ising": [("T = 0.3 balanced, 10 DDIM steps", {"head_temperature": 0.3, "ddim_steps": 10}),
              ("argmax, 10 DDIM steps", {"head_temperature": 0.0, "ddim_steps": 10}),
              ("argmax, 20 DDIM steps", {"head_temperature": 0.0, "ddim_steps": 20}),
              ("argmax, 40 DDIM steps", {"head_temperature": 0.0, "ddim_steps": 40}),
              # twice the particles (the grid's K = 512 row keeps the older acting)
              ("argmax, 20 DDIM steps, K = 512",
               {"head_temperature": 0.0, "ddim_steps": 20, "k_schedule": [32, 128, 512]})],
    "battle": [("10 DDIM steps", {"ddim_steps": 10}),
               ("20 DDIM steps", {"ddim_steps": 20}),
               ("40 DDIM steps", {"ddim_steps": 40}),
               # best of 4 plans by the value net (Config.plan_samples): another way to spend
               # planning compute, at 10 steps
               ("10 DDIM steps, best of 4 plans", {"ddim_steps": 10, "plan_samples": 4})],
    # head settings spelled out in every row: the family config's own (T = 1, min-p 0.2) came
    # out of this table
    "squeeze": [("T = 0.3 balanced, 10 DDIM steps",
                 {"head_temperature": 0.3, "head_min_p": 0.0, "ddim_steps": 10}),
                ("T = 0.3 balanced, 20 DDIM steps",
                 {"head_temperature": 0.3, "head_min_p": 0.0, "ddim_steps": 20}),
                # the head's full distribution (T = 1, balanced), then with its unlikely levels
                # cut (min-p): the optimum's 2/3 split survives the cut, the plan's off-data
                # histogram noise does not
                ("T = 1 balanced", {"head_temperature": 1.0, "head_min_p": 0.0}),
                *((f"T = 1 balanced, min-p {p}", {"head_temperature": 1.0, "head_min_p": p})
                  for p in (0.1, 0.2, 0.35, 0.5)),
                # best of M plans by the value net: the first step's plan (all-zero
                # observations, rare in the data) is sometimes off-data noise
                *((f"T = 1 balanced, min-p 0.2, best of {m} plans",
                   {"head_temperature": 1.0, "head_min_p": 0.2, "plan_samples": m})
                  for m in (4, 8)),
                # fewer replans, so fewer first plan steps (where the plan's noise reaches the
                # actions): 4 per 25-step episode instead of 7
                ("T = 1 balanced, min-p 0.2, replan every 7",
                 {"head_temperature": 1.0, "head_min_p": 0.2, "replan_every": 7})],
}


#: fields every row of a family keeps at the value its table was measured with, whatever the
#: family config says today: Squeeze's rows predate the uniform-floor decoding (eleventh update)
#: and the replan at every step (twelfth)
PINNED = {"squeeze": {"head_remove_uniform": False, "replan_every": 4}}


def main(grid: str, family: str) -> None:
    stem, env, ns, kwargs = FAMILIES[family]
    lines = [f"# planning steps, {family} (written by experiments/planning_steps.py)",
             "seeds = 3", "episodes = 1", 'device = "cpu"', ""]
    for tier in ("medium", "mixed"):
        for label, over in ROWS[family]:
            overrides = inline_table({**ACTING, **one_plan(family), **PINNED.get(family, {}),
                                      **over})
            for s in (0, 1, 2):
                lines.extend(run_block(f"{grid}/ckpt/{stem}-{tier}/mfdiffuser-s{s}",
                                       f"{family}: {label}", env, [ns[1]], kwargs, tier,
                                       overrides))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):  # a traceback was the usage
        print(__doc__, file=sys.stdout if sys.argv[1:2] in (["-h"], ["--help"]) else sys.stderr)
        raise SystemExit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
    main(sys.argv[1], sys.argv[2])
