"""Write the grid's sweep file for one family (stdout): every method × tier × training seed.

    python experiments/make_sweep.py ising runs/grid > runs/grid/sweep_ising.toml

Labels are the table's method names; every training seed of a method shares its label, so the
report's CIs run over training seeds × evaluation seeds. The diffuser baselines re-plan every
agent every step (O(N), O(N²)), so they are evaluated at the smallest N only.
"""

from __future__ import annotations

import sys

#: stem of the N = 10^3 training datasets, env id, evaluation N (index 1 = the training N;
#: 3·10^3 is in no catalogue: population transfer; not on Battle, whose episodes cost ~10x),
#: env kwargs
FAMILIES = {
    "squeeze": ("squeeze-n1000", "mfdiff/GaussianSqueeze-v0", [100, 1000, 3000, 10000],
                "{ max_cycles = 25 }"),
    "ising": ("ising-n1024", "mfdiff/Ising-v0", [100, 1024, 3025, 10000], "{ max_cycles = 50 }"),
    "battle": ("battle-n1000", "mfdiff/Battle-v0", [100, 1000, 10000],
               '{ max_cycles = 150, opponent = "expert" }'),
}
TIERS = ("medium", "mixed")
#: `mfdiff train`'s acting defaults (diffuser/config.py: act_with, head_temperature,
#: head_decode), spelled out: a checkpoint keeps the planning settings it was trained with
ACTING_FIELDS = 'act_with = "auto", head_temperature = 0.3, head_decode = "balanced"'
DEFAULT_ACTING = "{ " + ACTING_FIELDS + " }"
#: the acting default before balanced decoding (2026-11-29): the head's argmax. The learning
#: curves and the planning trade-off were measured with it and keep it, so that their commands
#: reproduce their tables (the questions they answer, budget and replan/K, do not hinge on it)
ARGMAX_ACTING = '{ act_with = "auto", head_temperature = 0.0 }'
#: extra MF-Diffuser rows per family: on Ising, replanning every step (3.5-4x the planning cost)
#: scored +3 (medium) / +7 (mixed) over the default replan_every = 4 on the seed-0..2
#: checkpoints at N = 1024, 3 seeds each (a check before this row existed; the row is the
#: measurement); on Squeeze it lost (docs/results/replan_squeeze.md)
EXTRA_ROWS = {"ising": [
    ("MF-Diffuser, replan every step",
     "{ " + ACTING_FIELDS + ", replan_every = 1 }"),
    # the most compute of planning_tradeoff.md (99.7 on the seed-0 Ising-mixed checkpoint)
    ("MF-Diffuser, replan every step, K = 512",
     "{ " + ACTING_FIELDS + ", replan_every = 1, k_schedule = [32, 128, 512] }"),
]}
#: families whose grid records also carry the approximate Nash gap: Squeeze's is exact from the
#: reward formula at one extra episode per seed; Ising's and Battle's cost 10+ deviation
#: episodes per record (experiments/exploitability.sh measures them at the training N)
EXPLOITABILITY = ("squeeze",)
#: method dir -> (label, training seeds, evaluation N: "all" | "small")
METHODS = {
    "mfdiffuser": ("MF-Diffuser", (0, 1, 2), "all"),
    "bc": ("BC", (0, 1, 2), "all"),
    "mfq": ("MFQ-CQL", (0, 1, 2), "all"),
    "iql": ("IQL", (0,), "all"),
    "indep_diffuser": ("indep-Diffuser", (0,), "small"),
    "joint_diffuser": ("joint-Diffuser (MADiff-style)", (0,), "small"),
}


def run_block(policy: str, label: str, env: str, n: list[int], kwargs: str,
              tier: str | None = None, overrides: str | None = None,
              exploitability: bool = False) -> list[str]:
    """One ``[[runs]]`` entry of a sweep file (TOML lines); the experiment scripts share it."""
    return ["[[runs]]", f'policy = "{policy}"', f'label = "{label}"',
            *([f'tier = "{tier}"'] if tier else []), f'env = "{env}"', f"n_agents = {n}",
            f"env_kwargs = {kwargs}", *([f"set = {overrides}"] if overrides else []),
            *(["exploitability = true"] if exploitability else []), ""]


def main(family: str, out: str) -> None:
    stem, env, ns, kwargs = FAMILIES[family]
    lines = [f"# grid sweep, {family} (written by experiments/make_sweep.py)",
             "seeds = 5", "episodes = 1", 'device = "cpu"', ""]

    def run(policy: str, label: str, n: list[int], tier: str | None = None,
            overrides: str | None = None) -> None:
        lines.extend(run_block(policy, label, env, n, kwargs, tier, overrides,
                               exploitability=family in EXPLOITABILITY))

    for name, label in (("random", "random"), ("medium", "scripted medium"),
                        ("expert", "scripted expert")):
        run(name, label, ns)
    for tier in TIERS:
        for algo, (label, seeds, where) in METHODS.items():
            for s in seeds:
                path = f"{out}/ckpt/{stem}-{tier}/{algo}-s{s}"
                if algo == "mfdiffuser":  # defaults (action head, argmax); particle actions
                    # the defaults spelled out: a checkpoint keeps the planning settings it was
                    # trained with, and these were trained before the acting default changed
                    run(path, label, ns, tier, DEFAULT_ACTING)
                    # Battle episodes cost ~10x: the ablation at the training N only there
                    run(path, "MF-Diffuser, particle actions",
                        ns[1:2] if family == "battle" else ns, tier, '{ act_with = "particle" }')
                    for extra_label, overrides in EXTRA_ROWS.get(family, []):
                        run(path, extra_label, ns[1:2], tier, overrides)  # training N only
                else:
                    run(path, label, ns if where == "all" else ns[:1], tier)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
