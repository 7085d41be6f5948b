"""Write the grid's sweep file for one family (stdout): every method × tier × training seed.

    python experiments/make_sweep.py ising runs/grid > runs/grid/sweep_ising.toml

Labels are the table's method names; every training seed of a method shares its label, so the
report's CIs run over training seeds × evaluation seeds. The diffuser baselines re-plan every
agent every step (O(N), O(N²)), so they are evaluated at the smallest N only.
"""

from __future__ import annotations

import gzip
import json
import sys
from typing import NamedTuple

from mfdiff_agents.diffuser.config import PLANNING_FIELDS, Config
from mfdiff_agents.evaluation.report import canonical_overrides
from mfdiff_agents.family_configs import family_config

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
#: the MF-Diffuser Config's acting defaults (diffuser/config.py: act_with, head_temperature,
#: head_decode, ddim_steps), spelled out: a checkpoint keeps the planning settings it was
#: trained with, and one trained with its family's settings carries those (Ising's
#: head_temperature 0 and 20 DDIM steps), so an experiment measured at the defaults pins them;
#: the grid's sweep lays the family's planning fields over them (acting_overrides)
ACTING = {"act_with": "auto", "head_temperature": 0.3, "head_decode": "balanced",
          "ddim_steps": 10}


def inline_table(fields: dict) -> str:
    """``{ k = v, ... }``: a TOML inline table of JSON-representable values; None as "none"
    (TOML has no null; `--set` and sweep files read "none" as None)."""
    return "{ " + ", ".join(f"{k} = {json.dumps('none' if v is None else v)}"
                            for k, v in fields.items()) + " }"


def grid_steps(family: str, algo: str) -> int:
    """The grid's gradient steps for ``algo`` on ``family``: its family config's ``steps``
    (mfdiff_agents/family_configs/<algo>/<family>.json, what `mfdiff train` trains for)."""
    cfg = family_config(algo, family)
    if "steps" not in cfg:
        raise KeyError(f"no steps in the family config of {algo} on {family}")
    return int(cfg["steps"])


def family_planning(family: str) -> dict:
    """The planning fields (diffuser/config.py: PLANNING_FIELDS) of the family's config, but
    those each checkpoint keeps as it was trained (``OWN_PLANNING``)."""
    return {k: v for k, v in family_config("mfdiffuser", family).items()
            if k in PLANNING_FIELDS and k not in OWN_PLANNING}


def config_planning(family: str) -> dict:
    """Every planning field of the family's config, ``OWN_PLANNING`` included: how the grid's
    config row ("MF-Diffuser") acts, as a checkpoint that `mfdiff train` writes acts."""
    return {k: v for k, v in family_config("mfdiffuser", family).items()
            if k in PLANNING_FIELDS}


#: planning fields a family config adopted after the fourteenth update, each with the value
#: that undoes it (the Config default): ``one_plan`` and ``before_cap`` pin it, because a
#: checkpoint trained with the config now carries the new value and would act with it
LATER_PLANNING = {"cap_particles": False,  # Ising since the twenty-fifth update
                  "stage_steps": None}  # Ising since the fifty-eighth update ([8, 8, 4])
#: Ising's DDIM steps until the fifty-eighth update: split near-evenly over the particle levels
#: (stage_steps null; the family config splits them 8 / 8 / 4 since:
#: docs/results/stage_steps_ising_8-8-4_medium.md). Pinned, like PLAN_BEFORE, by the experiment
#: scripts measured before it (``acting_overrides``; ``one_plan`` through LATER_PLANNING)
STAGE_BEFORE = {"ising": {"stage_steps": None}}
#: planning fields the grid trains its MF-Diffuser checkpoints without (the value they had when
#: the grid's checkpoints were first trained), though the family config now sets them: the
#: grid's rows spell their planning settings out at evaluation anyway, and the experiment
#: scripts that act with a grid checkpoint's own settings (``--acting checkpoint``, ACTING's
#: 10 DDIM steps, coarse_to_fine off) measured them as they were; it also keeps a retrained
#: checkpoint's settings digest that of the committed records (grid_jobs.train_jobs)
GRID_TRAIN_PINNED = {"ising": {"stage_steps": None, "head_data_range": False},
                     "battle": {"lift_warm_start": True, "lift_sinkhorn_rows": 2048}}
#: planning fields of a family config that only the grid's config row spells out
#: (``config_planning``; ``family_planning`` leaves them out): every other row and experiment
#: script acts with the checkpoint's own. Ising's ``head_data_range`` since the sixty-fifth
#: update (docs/method.md (21)): the grid trains without it (GRID_TRAIN_PINNED: the same
#: weights, with the data's range in their statistics), so its other rows act as their
#: committed records were measured, and its config row sets it (since the sixty-sixth update;
#: until then that row acted without it: ``OWN_BEFORE``). Checkpoints trained before it cannot
#: act with it (their statistics lack the data's range). Battle's lifting since the
#: seventy-second update: cold lifts fitted on 512 rows (``lift_warm_start`` false,
#: ``lift_sinkhorn_rows`` 512; docs/results/lift_share_battle_cold512.md), the same way: the
#: grid trains with the warm start on 2048 rows (GRID_TRAIN_PINNED, the Config defaults, so
#: the checkpoints' identity is what it was), its config row sets the new lifting, the row
#: before is "MF-Diffuser, warm lift". Only the Sinkhorn route reads them (N > 4000)
OWN_PLANNING = ("head_data_range", "lift_warm_start", "lift_sinkhorn_rows")
#: the grid's row of the family config acting without its ``OWN_PLANNING`` fields: the records
#: of the "MF-Diffuser" row until the sixty-sixth update (Ising: without head_data_range) or the
#: seventy-second (Battle: lifting warm-started between replans, on 2048 rows), the same
#: checkpoints and evaluation seeds; experiments/ising_data_range.sh compares with it
OWN_BEFORE = {"ising": "MF-Diffuser, no data range", "battle": "MF-Diffuser, warm lift"}
#: Battle's head decoding until the twenty-ninth update (the family config decodes at T 0.4
#: after a min-p cut of 0.05 since: docs/results/battle_head_temperature.md). The experiment
#: scripts measured before it (``acting_overrides``, ``one_plan``) and the grid's rows of
#: checkpoints measured with it (MFD_VARIANTS, EXTRA_ROWS) pin it, so that their tables stay
#: what their commands print; the grid's config row acts with the family config itself
DECODE_BEFORE = {"battle": {"head_temperature": 0.3, "head_min_p": 0.1}}
#: the grid's row label of the config before the twenty-ninth update (its records; the
#: experiment scripts that compare with "the config" compare with it: ``published_records``)
CONFIG_BEFORE = {"battle": "MF-Diffuser, T 0.3, min-p 0.1",
                 # Ising's config until the fifty-eighth update: its DDIM steps split near-evenly
                 # over the particle levels (STAGE_BEFORE); the records of the grid's row
                 # "MF-Diffuser" until then
                 "ising": "MF-Diffuser, even DDIM split"}
#: Squeeze's plan rule until the thirty-eighth update: follow the best of its 4 sampled plans by
#: the value net (the family config acts on the head's distribution averaged over them since,
#: plan_combine "mean": docs/results/squeeze_mixture.md). Pinned, like DECODE_BEFORE, by the
#: experiment scripts measured before it (``acting_overrides``, ``one_plan``) and by the grid's
#: rows of the config's checkpoints with other acting settings (EXTRA_ROWS, MFD_VARIANTS): a
#: checkpoint trained with the config now carries "mean"
PLAN_BEFORE = {"squeeze": {"plan_combine": "best"}}


def before_decode(family: str, acting: dict) -> dict:
    """``acting`` with the family's decoding pinned to what it was before the twenty-ninth
    update (``DECODE_BEFORE``; unchanged for a family without an entry)."""
    return {**acting, **DECODE_BEFORE.get(family, {})}


def before_plans(family: str, acting: dict) -> dict:
    """``acting`` with the family's plan rule pinned to what it was before the thirty-eighth
    update (``PLAN_BEFORE``; unchanged for a family without an entry)."""
    return {**acting, **PLAN_BEFORE.get(family, {})}


def one_plan(family: str) -> dict:
    """``family_planning`` acting on one plan per replan where the config mixes several
    (``plan_combine`` "mean"): what particle actions follow (a particle's action comes from
    one plan), and the config's rows before the fourteenth update (Ising), so without the
    planning fields adopted since (``LATER_PLANNING``, pinned off). Pinned, not left out: a
    checkpoint trained with the config carries ``plan_samples`` 4 and "mean", and would act
    on the mixture (and particle actions would be refused). Squeeze's rule is pinned to the
    best of 4 first (``PLAN_BEFORE``): the scripts that read this were measured with it."""
    planning = before_plans(family, family_planning(family))
    if planning.get("plan_combine") == "mean":
        planning = {**planning, "plan_samples": 1, "plan_combine": Config.plan_combine}
    return before_decode(family, before_cap(planning))


def before_stage(family: str, acting: dict) -> dict:
    """``acting`` with the family's DDIM steps per particle level pinned to what they were before
    the fifty-eighth update (``STAGE_BEFORE``; unchanged for a family without an entry)."""
    return {**acting, **STAGE_BEFORE.get(family, {})}


def before_cap(acting: dict) -> dict:
    """``acting`` with the planning fields of ``LATER_PLANNING`` it sets pinned off: how an
    experiment measured before the family adopted them keeps its rows."""
    return {**acting, **{k: v for k, v in LATER_PLANNING.items() if k in acting}}


def cap_noop_dropped(acting: dict, ns: list[int]) -> dict:
    """``acting`` without ``cap_particles`` where every N is at least K_max (the schedule's
    last entry): there the cap plans the same particles (tests/test_planner.py:
    test_no_more_particles_than_agents), so the grid's runs at such N keep the settings, and
    the records, they had before the cap."""
    k_max = acting.get("k_schedule", Config.k_schedule)[-1]
    if "cap_particles" in acting and min(ns) >= k_max:
        return {k: v for k, v in acting.items() if k != "cap_particles"}
    return acting


def cap_split(acting: dict, ns: list[int]) -> list[tuple[dict, list[int]]]:
    """``ns`` split into the N below K_max, acting with ``acting``, and those at or above it,
    acting with ``cap_noop_dropped(acting)``; one part where the settings do not differ."""
    k_max = acting.get("k_schedule", Config.k_schedule)[-1]
    parts = [[n for n in ns if n < k_max], [n for n in ns if n >= k_max]]
    if "cap_particles" not in acting or not all(parts):
        return [(cap_noop_dropped(acting, ns), ns)]
    return [(acting, parts[0]), (cap_noop_dropped(acting, parts[1]), parts[1])]


#: the baselines' acting fields (BC, IQL, MFQ-CQL: sample from softmax(logits / T))
BASELINE_ACTING_FIELDS = ("temperature",)


def acting_overrides(family: str, algo: str) -> dict:
    """What the experiment scripts set when they evaluate ``algo`` on ``family``: MF-Diffuser's
    acting defaults and its config's planning fields, Battle's decoding as it was before the
    twenty-ninth update (``before_decode``: the scripts' tables were measured with it; the
    grid's config row itself acts with the family config), Squeeze's plan rule as before the
    thirty-eighth update (``before_plans``, for the same reason), Ising's DDIM steps per level
    as before the fifty-eighth update (``before_stage``); a baseline's acting fields
    from its config (family_configs/<algo>/<family>.json), {} when it has none. Spelled out
    because a checkpoint keeps the settings it was trained with."""
    if algo == "mfdiffuser":
        return before_stage(family, before_decode(
            family, before_plans(family, {**ACTING, **family_planning(family)})))
    return {k: v for k, v in family_config(algo, family).items()
            if k in BASELINE_ACTING_FIELDS}


def acting_one_plan(family: str, algo: str) -> dict:
    """``acting_overrides`` with MF-Diffuser acting on one plan per replan (``one_plan``): the
    grid's acting until the fourteenth update, which the experiment scripts measured before it
    pin, so that their tables stay what their commands print."""
    if algo == "mfdiffuser":
        return {**ACTING, **one_plan(family)}
    return acting_overrides(family, algo)


#: the dirs of the config before its last change of training settings, where experiment scripts
#: measured before it read "the grid's checkpoints" (Battle: the head trained on the data until
#: the thirty-third update)
MFD_DIRS_BEFORE = {"battle": "mfdiffuser-blind-hv"}


class Extra(NamedTuple):
    """An extra MF-Diffuser row of the grid: other acting settings on trained checkpoints."""

    label: str
    acting: dict
    #: "all": every evaluation N of the family; "train": the training N only
    where: str = "train"
    #: checkpoint dir stem (``<stem>-s<seed>``); None: the config's (``mfd_dir``)
    stem: str | None = None


#: extra MF-Diffuser rows per family: the family config with the setting that costs the most
#: planning time undone, to show what it buys — on Ising one plan per replan instead of the
#: mixture over 4 (the config's until the fourteenth update; every N) and with it the previous
#: particle count, K = 256 (512 doubles the cost), on Squeeze the config's previous plan rule
#: (the best of 4 plans, every N), one plan per replan (4 plans cost ~3.5x) and the previous
#: decoding, each on the best of 4 as measured before the thirty-eighth update; on Battle the
#: mixture over 4 plans, measured and not adopted (every N), on the checkpoints of the config
#: of then
EXTRA_ROWS = {"battle": [
    Extra("MF-Diffuser, mixture of 4 plans",
          before_decode("battle", {**ACTING, **family_planning("battle"), "plan_samples": 4,
                                   "plan_combine": "mean"}),
          "all", MFD_DIRS_BEFORE["battle"]),
    # the config until the twenty-ninth update, its head decoded at T 0.3 after a min-p cut of
    # 0.1 (DECODE_BEFORE): the config since decodes at T 0.4 / min-p 0.05, less exploitable at
    # N >= 10^3 (docs/results/battle_head_temperature.md); its checkpoints are those of the
    # config until the thirty-third update (MFD_DIR_BEFORE)
    Extra(CONFIG_BEFORE["battle"], before_decode("battle", {**ACTING, **family_planning("battle")}),
          "all", MFD_DIRS_BEFORE["battle"]),
    # the config until the seventy-second update: its lifting warm-started between replans,
    # fitted on 2048 rows (OWN_BEFORE; the same checkpoints as the config row)
    Extra(OWN_BEFORE["battle"], {**ACTING, **family_planning("battle")}, "all"),
], "ising": [
    Extra("MF-Diffuser, one plan", {**ACTING, **one_plan("ising")}, "all"),
    # the config until the fifty-eighth update (STAGE_BEFORE), which the experiment scripts
    # measured before it compare with
    Extra(CONFIG_BEFORE["ising"], before_stage("ising", {**ACTING, **family_planning("ising")}),
          "all"),
    Extra("MF-Diffuser, K = 256",
          {**ACTING, **one_plan("ising"), "k_schedule": [16, 64, 256]}),
    # the config until the sixty-sixth update's grid: the head's inputs not clipped to the
    # data's range (OWN_BEFORE)
    Extra(OWN_BEFORE["ising"], {**ACTING, **family_planning("ising")}, "all"),
], "squeeze": [
    # the config until the thirty-eighth update: the best of its 4 plans by the value net
    # instead of their mixture (PLAN_BEFORE; docs/results/squeeze_mixture.md)
    Extra("MF-Diffuser, best of 4 plans",
          before_plans("squeeze", {**ACTING, **family_planning("squeeze")}), "all"),
    # one plan per replan instead of the best of 4
    Extra("MF-Diffuser, one plan",
          before_plans("squeeze", {**ACTING, **family_planning("squeeze"), "plan_samples": 1})),
    # the decoding of the config before the eleventh update, min-p 0.2 at T = 1 instead of
    # the uniform floor removed (docs/results/squeeze_uniform.md): what the change buys
    Extra("MF-Diffuser, min-p 0.2",
          before_plans("squeeze", {**ACTING, **family_planning("squeeze"),
                                   "head_remove_uniform": False, "head_min_p": 0.2,
                                   "head_temperature": 1.0})),
    # the replan interval of the config before the twelfth update: what replanning every step
    # buys, at ~3x the acting latency
    Extra("MF-Diffuser, replan every 4",
          before_plans("squeeze", {**ACTING, **family_planning("squeeze"), "replan_every": 4})),
]}
#: families whose grid records also carry the approximate Nash gap: Squeeze's is exact from the
#: reward formula at one extra episode per seed; Ising's and Battle's cost 10+ deviation
#: episodes per record (experiments/exploitability.sh measures them at the training N)
EXPLOITABILITY = ("squeeze",)
#: the learned baselines retrained with MF-Diffuser's training wall-clock (issue #12: the same
#: budget per cell), beside their step budgets (grid_steps): steps = MF-Diffuser's grid-budget
#: seconds / the baseline's seconds per step, both the medians of the grid's own training-budget
#: table (grid.md, measured in one run: 2 jobs on 2 cores, one torch thread each). Checkpoints
#: ``<algo>-wc-s<seed>``, rows "<label>, equal wall-clock"; the verdicts take the best of both
WALL_CLOCK_STEPS = {
    # MF-Diffuser: 800 steps, 102 s with the head ensemble of 4 (fifteenth update; 73 s with
    # one head, when these were 7300 / 5480 / 1630)
    "squeeze": {"bc": 10200, "mfq": 7650, "iql": 2280},
    "ising": {"bc": 3890, "mfq": 2390, "iql": 870},  # MF-Diffuser: 400 steps, 70 s
    # MF-Diffuser: 800 steps, 495 s, the last 400 the head alone on its own plans (thirty-third
    # update; 400 steps and 79 s before, when these were 3760 / 2760 / 990). The baselines'
    # seconds per step measured in one run on this machine beside a grid evaluation (BC and
    # MFQ-CQL 3000 steps, IQL 1000, medium data, seed 0: 0.0123 / 0.0154 / 0.0435 s): the
    # step-budget rows' medians (23 s for BC's 1000) carry the loop's start-up and another run's
    # load, and gave the previous rows about half MF-Diffuser's seconds
    "battle": {"bc": 40150, "mfq": 32100, "iql": 11390},
}
WALL_CLOCK = "equal wall-clock"
#: the family's MF-Diffuser checkpoints (trained with its config) live in ``<dir>-s<seed>``:
#: "mfdiffuser", except where a *training* setting of the config changed — then the new
#: checkpoints get a new dir and the previous ones keep theirs (which older experiment scripts
#: read), retrained by grid_jobs with the previous setting (MFD_VARIANTS) and kept as a row
MFD_DIRS = {"squeeze": "mfdiffuser-ens4", "battle": "mfdiffuser-own"}
#: Battle's training settings until the thirty-third update (the config since trains 800 steps,
#: the last 400 the head alone on the diffusion model's own plans: docs/method.md (20)): every
#: Battle variant trained before it pins them, so that its checkpoints stay what they were
HEAD_ON_DATA = {"steps": 400, "diffusion_steps": None, "head_own_plans": 0}


class Variant(NamedTuple):
    """MF-Diffuser checkpoints of the grid trained with other *training* settings."""

    #: checkpoint dir stem (``<stem>-s<seed>``)
    stem: str
    #: `mfdiff train --set` settings on top of the family config
    sets: dict
    label: str
    #: "all": every evaluation N of the family; "train": the training N only
    where: str
    #: acting with the family's decoding before the twenty-ninth update (``before_decode``)
    #: and its plan rule before the thirty-eighth (``before_plans``), as these checkpoints
    #: were measured; False: the family config's acting
    decode_before: bool = True
#: family -> MF-Diffuser checkpoints trained with other *training* settings (``Variant``), each
#: evaluated with the family's acting (decoded as before the twenty-ninth update where
#: ``decode_before``): the config's previous setting (its checkpoints under their old dir) or
#: a candidate measured and not adopted
MFD_VARIANTS = {
    # the head ensemble (fifteenth update): one head, as until then; trained with the best of 4
    # plans (PLAN_BEFORE), as then, so that the scripts that act with its checkpoints' own
    # settings (acting_knobs.py, planning_tradeoff.py) keep measuring that rule
    "squeeze": [Variant("mfdiffuser", {"head_ensemble": 1, **PLAN_BEFORE["squeeze"]},
                        "MF-Diffuser, one head", "all")],
    # twenty-second update: the config's head is blind to the plan's x, y and enemy_in_range
    # (head_blind [1, 2, 9], docs/results/battle_blind_1_2_9.md); until then it read the whole
    # plan. Twenty-third update: it also weighs its pairs against a state baseline (head_value,
    # docs/results/battle_blind_1_2_9_hv.md; MFD_DIRS); until then against the batch mean. The
    # other variants were trained before both, so they name both
    "battle": [
        # thirty-third update: the config's head trains alone on its own plans after the
        # diffusion model's 400 steps (Config.head_own_plans, docs/method.md (20);
        # docs/results/battle_own_plans.md); until then it trained on the data's next states
        # alongside the model, the same diffusion weights. Acting as the config acts
        Variant("mfdiffuser-blind-hv", HEAD_ON_DATA, "MF-Diffuser, head trained on data", "all",
                decode_before=False),
        Variant("mfdiffuser-blind", {**HEAD_ON_DATA, "head_value": False},
                "MF-Diffuser, without value baseline", "all"),
        Variant("mfdiffuser", {**HEAD_ON_DATA, "head_blind": [], "head_value": False},
                "MF-Diffuser, head reads the whole plan", "all"),
        Variant("mfdiffuser-ens4", {**HEAD_ON_DATA, "head_ensemble": 4, "head_blind": [],
                                    "head_value": False},
                "MF-Diffuser, head ensemble of 4", "all"),
        # sixteenth update: the head also learns to act without the plan (plan dropout 0.5),
        # trains alone to 1600 steps, and acts on the plan guided at w = 0.5
        # (docs/method.md (18); docs/results/head_variants.md)
        Variant("mfdiffuser-pg0.5", {**HEAD_ON_DATA, "head_plan_dropout": 0.5, "steps": 1600,
                                     "diffusion_steps": 400, "head_plan_weight": 0.5,
                                     "head_blind": [], "head_value": False},
                "MF-Diffuser, plan guidance 0.5", "all"),
        # sixteenth update: the head's advantage against a state baseline
        # (head_value; docs/method.md (14))
        Variant("mfdiffuser-hv", {**HEAD_ON_DATA, "head_value": True, "head_blind": []},
                "MF-Diffuser, value baseline", "all"),
        # and with the head ensemble of 4 (Squeeze's): both head changes at once
        Variant("mfdiffuser-hv-ens4",
                {**HEAD_ON_DATA, "head_value": True, "head_ensemble": 4, "head_blind": []},
                "MF-Diffuser, value baseline, 4 heads", "all")],
    # Ising at the training N only (its episodes cost the most; below the config there)
    "ising": [Variant("mfdiffuser-ens4", {"head_ensemble": 4}, "MF-Diffuser, head ensemble of 4",
                      "train")],
}


def mfd_dir(family: str, before: bool = False) -> str:
    """Dir stem of the family's MF-Diffuser checkpoints (``MFD_DIRS``); ``before``: of the
    config before its last change of training settings (``MFD_DIRS_BEFORE``), what the
    experiment scripts measured before that change read."""
    if before and family in MFD_DIRS_BEFORE:
        return MFD_DIRS_BEFORE[family]
    return MFD_DIRS.get(family, "mfdiffuser")
#: method dir -> (label, training seeds, evaluation N: "all" | "small")
METHODS = {
    "mfdiffuser": ("MF-Diffuser", (0, 1, 2), "all"),
    "bc": ("BC", (0, 1, 2), "all"),
    "mfq": ("MFQ-CQL", (0, 1, 2), "all"),
    "iql": ("IQL", (0, 1, 2), "all"),
    "indep_diffuser": ("indep-Diffuser", (0,), "small"),
    "joint_diffuser": ("joint-Diffuser (MADiff-style)", (0,), "small"),
}


def grid_records(family: str, dirs: tuple[str, ...], acting: dict, ns: tuple[int, ...],
                 label, *, tier: str = "medium", records: str = "runs/grid") -> list[dict]:
    """The grid's MF-Diffuser records (``records/records-<family>.jsonl``, not re-evaluated) of
    the checkpoint dirs named ``dirs`` (e.g. "mfdiffuser-s0") acting with ``acting`` on
    ``tier`` at the N in ``ns``, each relabelled ``label(record)``: the comparison rows the
    experiment scripts put beside their own."""
    out = []
    with open(f"{records}/records-{family}.jsonl") as f:
        for line in f:
            r = json.loads(line)
            cfg = r.get("config") or {}
            if (str(cfg.get("policy", "")).rsplit("/", 1)[-1] in dirs
                    and r["method"].startswith("MF-Diffuser")
                    and canonical_overrides(cfg.get("set") or {}) == canonical_overrides(
                        cap_noop_dropped(acting, [r["env_kwargs"]["n_agents"]]))
                    and r.get("tier") == tier and r["env_kwargs"]["n_agents"] in ns):
                r["method"] = label(r)
                out.append(r)
    return out


def published_records(family: str, cell: str, labels: dict[str, str],
                      n_agents: tuple[int, ...], seeds: tuple[str, ...] | None = None,
                      methods: tuple[str, ...] = ("MF-Diffuser", "BC")) -> list[dict]:
    """The published grid records (docs/results/records/records-<family>.jsonl.gz, not
    re-evaluated) of the checkpoints ``<cell>/<algo>-s<seed>`` (cell e.g.
    "battle-n1000-medium") for the algos in ``labels``, the recorded ``n_agents`` (Battle: per
    team), training ``seeds`` (None: all) and table ``methods`` (the config's rows, not the
    grid's variants), each relabelled ``labels[algo].format(seed)``. A dir the config has left
    (MFD_VARIANTS: Battle's ``mfdiffuser`` since the twenty-second update) gives its own row as
    "MF-Diffuser", so that a script keeps comparing with the checkpoints it was measured beside."""
    left = {v.stem: v.label for v in MFD_VARIANTS.get(family, []) if v.decode_before}
    # the config's row as the scripts were measured beside it (CONFIG_BEFORE), not the
    # config's decoding since
    before = CONFIG_BEFORE.get(family)
    out = []
    with gzip.open(f"docs/results/records/records-{family}.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            parent, _, name = str((r.get("config") or {}).get("policy", "")).rpartition("/")
            algo, _, seed = name.rpartition("-s")
            if before and r["method"] == "MF-Diffuser":
                continue
            method = "MF-Diffuser" if r["method"] in (left.get(algo), before) else r["method"]
            if (parent.endswith(cell) and algo in labels and (seeds is None or seed in seeds)
                    and r["n_agents"] in n_agents and method in methods):
                r["method"] = labels[algo].format(seed)
                out.append(r)
    return out


def write_jsonl(path: str, rows: list[dict]) -> None:
    """``rows`` as JSON lines at ``path`` (e.g. :func:`published_records` beside new records)."""
    with open(path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


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
            overrides: dict | None = None) -> None:
        for acting, ns_part in cap_split(overrides or {}, n):
            lines.extend(run_block(policy, label, env, ns_part, kwargs, tier,
                                   inline_table(acting) if acting else None,
                                   exploitability=family in EXPLOITABILITY))

    for name, label in (("random", "random"), ("medium", "scripted medium"),
                        ("expert", "scripted expert")):
        run(name, label, ns)
    for tier in TIERS:
        for algo, (label, seeds, where) in METHODS.items():
            for s in seeds:
                path = f"{out}/ckpt/{stem}-{tier}/{algo}-s{s}"
                if algo == "mfdiffuser":
                    # defaults (action head); particle actions
                    path = f"{out}/ckpt/{stem}-{tier}/{mfd_dir(family)}-s{s}"
                    # the defaults and the family's planning settings spelled out: a checkpoint
                    # keeps the planning settings it was trained with, and older checkpoints
                    # were trained before the acting default changed
                    planning = family_planning(family)
                    run(path, label, ns, tier, {**ACTING, **config_planning(family)})
                    # Battle episodes cost ~10x, Ising plans every step: the ablation at the
                    # training N only there
                    run(path, "MF-Diffuser, particle actions",
                        ns[1:2] if family in ("battle", "ising") else ns, tier,
                        {"act_with": "particle", **one_plan(family)})
                    for extra in EXTRA_ROWS.get(family, []):
                        where_n = ns if extra.where == "all" else ns[1:2]
                        run(f"{out}/ckpt/{stem}-{tier}/{extra.stem}-s{s}" if extra.stem
                            else path, extra.label, where_n, tier, extra.acting)
                    for v in MFD_VARIANTS.get(family, []):
                        acting = {**ACTING, **planning}
                        run(f"{out}/ckpt/{stem}-{tier}/{v.stem}-s{s}", v.label,
                            ns if v.where == "all" else ns[1:2], tier,
                            before_decode(family, before_plans(family, acting))
                            if v.decode_before else acting)
                else:
                    acting = acting_overrides(family, algo)
                    run(path, label, ns if where == "all" else ns[:1], tier, acting or None)
                    if algo in WALL_CLOCK_STEPS.get(family, {}):
                        run(f"{out}/ckpt/{stem}-{tier}/{algo}-wc-s{s}",
                            f"{label}, {WALL_CLOCK}", ns, tier, acting or None)
    print("\n".join(lines))


def set_args(family: str, algo: str, one: bool = False) -> list[str]:
    """``acting_overrides`` (``one``: ``acting_one_plan``) as `mfdiff eval` arguments:
    ``["--set", "KEY=VALUE", ...]``."""
    out = []
    for k, v in (acting_one_plan if one else acting_overrides)(family, algo).items():
        out += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return out


if __name__ == "__main__":
    if (len(sys.argv) < 4 if sys.argv[1:2] == ["--set-args"]  # FAMILY ALGO
            else len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help")):
        print(__doc__, file=sys.stdout if sys.argv[1:2] in (["-h"], ["--help"]) else sys.stderr)
        raise SystemExit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
    if sys.argv[1] == "--set-args":  # FAMILY ALGO [--one-plan]: one argument per line
        args = set_args(sys.argv[2], sys.argv[3], one="--one-plan" in sys.argv[4:])
        if args:
            print("\n".join(args))
    else:
        main(sys.argv[1], sys.argv[2])
