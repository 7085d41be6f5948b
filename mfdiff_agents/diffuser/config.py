"""MF-Diffuser's Config: every hyper-parameter of the model, the objective, training and planning.

Training fields fix the weights; planning fields (``ddim_steps``, ``eta``, ``k_schedule``,
``stage_steps``, ``coarse_to_fine``, ``cap_particles``, ``return_target``, ``guidance_weight``,
``plan_samples``, ``plan_combine``, ``replan_every``, ``lifting``, ``exact_ot_max_n``,
``lift_warm_start``, ``lift_sinkhorn_rows``, ``act_with``, ``head_temperature``,
``head_decode``, ``head_min_p``, ``head_remove_uniform``, ``head_plan_weight``,
``head_data_range``:
:data:`PLANNING_FIELDS`) may be changed
when a checkpoint is loaded (``MFDiffuserPlanner.from_pretrained(dir, replan_every=4)`` or
``mfdiff eval --set replan_every=4``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mfdiff_agents.config import (
    ConfigError,
    TrainConfig,
    check_decoupled_decay,
    check_finite,
    check_positive_int,
)
from mfdiff_agents.diffuser.denoiser import INTERACTIONS
from mfdiff_agents.diffuser.diffusion import SCHEDULES
from mfdiff_agents.diffuser.sampler import validate_schedule

#: Values of ``Config.lifting``.
LIFTINGS = ("balanced", "frozen", "nearest")
#: Values of ``Config.act_with``.
ACT_WITH = ("auto", "head", "particle")
#: Values of ``Config.head_decode``.
HEAD_DECODES = ("sample", "balanced")
#: Values of ``Config.plan_combine``.
PLAN_COMBINES = ("best", "mean")


@dataclass
class Config(TrainConfig):
    """MF-Diffuser hyper-parameters (defaults sized for a CPU run of a few minutes)."""

    steps: int = 3000
    """Gradient steps."""
    stats_windows: int = 2048
    """Windows drawn once at the start to estimate normalisation statistics."""
    # ---- denoiser
    width: int = 64
    """Hidden channels of the denoiser (a multiple of 8: GroupNorm)."""
    depth: int = 3
    """(temporal res block, interaction) pairs."""
    kernel_size: int = 5
    """Temporal conv kernel along H (odd)."""
    interaction: str = "mean"
    """Particle interaction: "mean" (mean-pool, MF-Diffuser) | "none" | "attention"."""
    # ---- diffusion
    n_timesteps: int = 100
    """Training noise levels T."""
    schedule: str = "cosine"
    """Noise schedule: "cosine" | "linear"."""
    # ---- objective
    beta: float = 1.0
    """Value-weighting temperature β: w = softmax(β Â)·B; 0 = no value weighting."""
    w_max: float = 20.0
    """Clip of the value weights."""
    beta_agent: float = 0.0
    """Per-particle credit β_a: each particle's denoising error is also weighted by
    softmax(β_a Â_k) over its own discounted reward in the window relative to the window's
    other particles (objective.agent_weights); 0 = off (the window weight alone). The Ising
    config sets 2 (Ising-medium 99.1 vs 88.7 without); on Battle, whose per-agent rewards are
    sparse kills, it lost 30-45 points (docs/results/family_settings.md)."""
    lam_chaos: float = 0.1
    """λ of the chaotic-entropy (energy-distance) term; 0 = no chaos term."""
    value_hidden: int = 64
    """Width of the mean-field value net V(m) (advantage baseline)."""
    p_uncond: float = 0.0
    """Classifier-free guidance: probability that a window's return condition Â is replaced by
    the null token while training (0 = no null token, guidance_weight must stay 1). Off by
    default: guidance weights 0–4 changed nothing on Squeeze (docs/results/guidance.md)."""
    # ---- action head
    action_head: bool = True
    """Train the per-agent inverse-dynamics action head g(s_i, s*_i, m) (docs/method.md)."""
    head_hidden: int = 128
    """Width of the action head's two hidden layers."""
    head_noise: float = 0.0
    """Std of the Gaussian noise on the action head's inputs while training (normalised units;
    0 = none): a head robust to the plan's generation error (action_head.head_loss)."""
    head_noise_shared: bool = False
    """One ``head_noise`` draw for the state and its target while training, so the head reads
    the displacement exactly (a Battle move is 0.08-0.11 std of a position coordinate, under
    the √2 × 0.15 of two independent draws); False = independent draws (Squeeze's reason for
    the noise: the plan's error on the next state itself). Measured on Battle: the same score
    as independent draws (docs/results/battle_split.md); off by default."""
    head_beta: float = 0.0
    """Advantage weighting of the action head's pairs: each (s_t, s_{t+1}, m_t) -> a_t pair is
    weighted by softmax(β_h Â) over the batch, Â = the agent's own discounted reward from t to
    the window's end, standardised (action_head.pair_weights); 0 = plain cross-entropy. Where
    the planned transition leaves the action ambiguous, the head then picks the one that paid.
    The Battle config sets 1 (Battle-medium at N = 10²: 96.8 vs 74.1 in the grid of that time,
    docs/results/README.md; the sweep behind it: docs/results/battle_head.md)."""
    head_value: bool = False
    """A state baseline for ``head_beta``'s advantage: the head also regresses V(s_i, m, steps
    left) on the agent's reward-to-go in the window, and a pair's advantage is its
    reward-to-go less V instead of less the batch mean (action_head.head_value_loss). The
    motivation (not traced): a Battle agent far from the enemy earns nothing in its window
    whatever it does; against the batch mean all its moves weigh little. Measured on Battle
    with the head reading the whole plan: a small gain inside the CIs, not adopted; with the
    blind head (``head_blind``) it gives back Battle-mixed N = 10³ (104.9 vs 101.5, CIs
    disjoint; docs/results/battle_blind_1_2_9_hv.md): the Battle config's setting since the
    twenty-third update (docs/method.md (14)).
    Needs head_beta > 0; adds the baseline MLP to the head (ARCH). False = the head of earlier
    checkpoints."""
    head_ensemble: int = 1
    """Action heads trained side by side (own initial weights, own noise draws, own gradient
    clip); the planner acts on the mean of their distributions (action_head.HeadEnsemble).
    1 = one head (the module of earlier checkpoints). Why: a single head's decoding is a draw of
    its training (docs/method.md (18))."""
    head_plan_dropout: float = 0.0
    """Probability that a training pair's planned target is hidden from the action head (its
    target replaced by the agent's own state and a "no plan" flag channel set to 0), so that one
    head also learns g(s, m) = what to do without a plan: the plan-free reference that
    ``head_plan_weight`` guides against (docs/method.md (18)). 0 = no flag channel (the head of
    earlier checkpoints). Training only for the head: the diffusion model's weights do not
    depend on it."""
    head_neighbour: float = 0.0
    """Probability that a training pair's target is its nearest other agent's displacement
    applied to its own state (action_head.neighbour_targets) instead of its own next state:
    the head then trains on targets formed as the planner forms them at act time (agent i
    reads its particle's planned displacement, not its own). 0 = own next state (inverse
    dynamics; the head of earlier checkpoints). Training only for the head."""
    head_blind: tuple[int, ...] = ()
    """Observation features (indices) whose planned displacement the action head never reads:
    its target keeps the agent's own value of them, in training (s_{t+1} := s_t there) and at
    act time (the particle's displacement is zero there). Why: where the plans move a feature
    by the sampler's noise rather than by the dynamics — Battle's x, y (1, 2): the plans move a
    particle 4-5 cells per step at the median, the env 0 or 1 — a head trained to read it
    executes that noise (docs/method.md (18)). () = every feature read (earlier checkpoints).
    Training and acting: fixed at training, not a planning field. Measured on Battle with
    [1, 2]: every cell inside the config's CIs (docs/results/battle_blind.md); with [9]
    (enemy_in_range): medium N = 10^4 101.5 vs 99.4, the other cells inside the CIs or above
    (docs/results/battle_blind_9.md); with [1, 2, 9] 102.5, within BC's CI
    (docs/results/battle_blind_1_2_9.md): the Battle config's setting since the twenty-second
    update (configs/README.md; docs/results/grid.md)."""
    plan_deltas: bool = False
    """Diffuse each plan step's observation as its change from the step before (plan step 0
    stays the state, what the anchors are inpainted into), the change standardised by the
    data's per-step changes; the planner sums the changes back into states. Why: standardised
    as states, a one-cell Battle move is 3 % of the x feature's spread and the sampler's error
    is 4-5 cells per step at N = 10^4 (docs/method.md (18)), which the action head, trained on
    true transitions, executes; standardised as changes, a one-cell move is of unit size.
    False = states diffused directly (earlier checkpoints). Fixed at training (ARCH). Measured on
    Battle-medium: plans of 0.4 cells per step, but 93.3 at N = 10^4 against the config's 99.4
    (96.3 at head temperature 0.6; docs/results/battle_deltas.md); off."""
    train_inpaint: bool = False
    """Train as the sampler conditions: plan step 0's observation channels enter the noisy
    window clean (x_k's entries replaced by x_0's, as Diffuser trains) and are not scored, so
    the denoiser learns the law of a window given its first state. False = every entry noised
    and scored (earlier checkpoints): the model learns the unconditional law, and the anchor
    reaches it only through the sampler's replacement (docs/method.md (12)). Training only.
    Measured on Ising (the grid's seeds 0-2 and cells, fifty-sixth update): below the config
    on the mean in every cell, -0.4 to -1.8 (paired over evaluation seeds clear of 0 in two of
    six, over training seeds in none; docs/results/train_inpaint_ising_medium.md, _mixed.md); on
    Battle level with it in every cell (-0.13 to +0.64, every paired CI holding 0;
    docs/results/train_inpaint_battle_medium.md, _mixed.md); off."""
    value_warmup: int = 0
    """Gradient steps at the start of ``steps`` that fit the value net V(m) alone, before the
    diffusion model and the head train. 0 = all train from the first step. Why: the denoiser
    is conditioned on, and its windows weighted by, the advantage R − V(m); while V is still
    untrained that advantage is the raw return, and its meaning shifts under the denoiser as V
    learns. Measured (Ising-medium, 6 training seeds, 100 steps before the config's 400):
    level with none, the weak seeds as weak
    (docs/results/value_warmup_ising_medium_seeds404142434445_n1024.md); off in every config."""
    diffusion_steps: int | None = None
    """Gradient steps of the diffusion model and the value net; the rest of ``steps`` train the
    action head alone on the frozen diffusion weights (a head-only step skips the denoiser, so
    it costs a fraction of a full one). None = every step trains both. Why: on Battle the
    planner is best after a few hundred steps and worse after more, while the head's loss is
    still falling there (docs/method.md (18))."""
    head_own_plans: float = 0.0
    """Share of the windows of the head-only steps (after ``diffusion_steps``) whose targets are
    the diffusion model's own plans for them instead of the data's next states: each window's
    particles planned from their states at its start as the planner plans (``ddim_steps``,
    ``eta``, ``return_target``, ``guidance_weight``, one stage of K particles), and the pair
    (s_t, s_t + (ŝ_{t+1} − ŝ_t), m_t) -> a_t with the action the data took. Why: trained on true
    transitions, the head reads the plan's displacement as exact, and acts on generated ones;
    on its own plans it learns how far the planned displacement predicts what was done (the
    longer the head trains on true transitions, the worse Battle scored: 88.6 vs 100.6 at
    N = 10^2, docs/results/battle_head_steps.md). 0 = the data's next states (earlier
    checkpoints). Training only; costs ``ddim_steps`` denoiser passes per head step. Measured
    on Battle with p = 1, 400 head-only steps (docs/method.md (20),
    docs/results/battle_own_plans.md): above the config at medium N = 10^2 and both N = 10^4
    cells, level elsewhere; the Battle config since the thirty-third update (p = 1)."""
    # ---- optimisation
    lr: float = 3e-4
    """AdamW learning rate."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    # ---- planning
    ddim_steps: int = 10
    """Reverse DDIM steps per plan. More steps made better plans on Ising and Battle (Ising
    medium 95.3 with 20 vs 93.6 with 10, Battle medium 81.6 with 40 vs 73.8; none on Squeeze):
    their configs set 20 and 40 (configs/README.md, docs/results/planning_steps.md)."""
    eta: float = 1.0
    """DDIM stochasticity η (1 = ancestral-like; 0 = deterministic DDIM, which leaves the
    one-hot action channels ill-formed with few steps, see docs/method.md)."""
    k_schedule: tuple[int, ...] = (16, 64, 256)
    """Particle schedule K_0 < … < K_max of coarse-to-fine sampling (each divides the next)."""
    coarse_to_fine: bool = True
    """False = K_max particles at every reverse step (ablation)."""
    cap_particles: bool = False
    """Plan no more particles than live agents: below K_max agents, the schedule's entries under
    N and then N itself (sampler.capped_schedule), one particle anchored at each agent. Why:
    with K > N the balanced lifting gives each particle capacity 0 or 1, the units at random
    particles, so an agent is matched to another agent's plan; with K = N the matching is a
    permutation onto the agents' own particles. Measured on the grid's Ising checkpoints at
    N = 10^2 (docs/results/cap_particles.md, docs/method.md (19)): mixed 101.2 vs 99.2 (CIs
    disjoint; IQL 101.5), medium 99.8 vs 100.3 (inside the CIs), 4.7-4.8x less acting time;
    Battle and Squeeze at N = 10^2 inside the CIs. On in the Ising family config since the
    twenty-fifth update (docs/results/grid.md). Identical plans at N >= K_max. False = K_max
    particles at any N. A planning field."""
    stage_steps: tuple[int, ...] | None = None
    """DDIM steps at each level of ``k_schedule`` (one entry per level, summing to
    ``ddim_steps``); None splits them near-equally, later levels longer (sampler.stage_sizes).
    Where ``cap_particles`` merges the finest levels into N, the merged level gets their steps'
    sum. Why: the denoiser's cost a plan is Σ steps × K of the levels, so steps moved from K_max
    to coarser levels make large populations cheaper (docs/results/
    stage_steps_ising_8-8-4_medium.md, _mixed.md; the Ising family config's [8, 8, 4] since the
    fifty-eighth update). A planning field."""
    return_target: float = 1.5
    """Standardised advantage Â the plan is conditioned on (higher = greedier)."""
    guidance_weight: float = 1.0
    """Classifier-free guidance w: ε = ε_null + w (ε_Â − ε_null). 1 = plain conditional sampling
    (one denoiser call, what checkpoints without a null token do), 0 = unconditional on Â,
    > 1 = pushed past the data toward higher return. ≠ 1 needs a model trained with p_uncond > 0."""
    head_plan_weight: float = 1.0
    """Plan guidance of the action head, classifier-free style on its log-probabilities:
    log q = log q_noplan + w (log q_plan − log q_noplan). 1 = the planned head alone (one MLP
    call, what checkpoints without ``head_plan_dropout`` do), 0 = the plan ignored (the agent
    acts on its own state and the mean field), between = the plan as a bounded nudge, > 1 = the
    plan amplified. ≠ 1 needs a head trained with ``head_plan_dropout`` > 0."""
    head_data_range: bool = False
    """Clip the action head's inputs (the agent's observation, its planned next state and the
    mean field) to the per-feature range of the training data (recorded in the checkpoint's
    statistics, ``Stats.obs_low`` ...). Why: a planner that does better than its data leads
    the population into states the data never held (Ising-medium: the lattice ordered to
    |magnetisation| 0.9, the data's at most 0.75), and planned next states leave the
    observation space (a planned spin change of 2.9); on such inputs the head extrapolates
    differently from one training seed to the next — one seed's head stops correcting
    misaligned spins, another's does not (docs/method.md (21)). Clipped, the head reads the
    nearest state it trained on. Needs a checkpoint that recorded its data's range (trained
    since the sixty-fifth update). False = unclipped (earlier checkpoints); the Ising config
    sets it (Ising-medium, 12 training seeds: +1.62 [1.31, 1.92], docs/results/README.md)."""
    act_with: str = "auto"
    """How an agent picks its action: "head" (the action head on its own obs and its particle's
    planned displacement), "particle" (copy its particle's planned action), "auto" (head when
    the model has one, else particle). Head at temperature 0 beat particle actions on all four
    Squeeze/Ising cells at N = 10^3 (e.g. Squeeze-mixed 94.6 vs 73.1, Ising-medium 72.7 vs
    55.8; docs/results/acting_knobs.md)."""
    head_temperature: float = 0.3
    """Temperature of the action head's distribution (0 = argmax). 0.3 with balanced decoding
    is the default: on the grid's checkpoints (docs/results/acting_knobs.md, N = 10^3) it beat
    argmax on Squeeze (mixed 95.0 vs 94.6; medium 94.3 vs 93.8); on Ising argmax is better
    (medium 93.6 vs 91.0, mixed 97.6 vs 97.4; planning_steps.md) and its config sets 0; the
    Squeeze config sets 1 with ``head_remove_uniform`` (min-p 0.2 until the eleventh update).
    i.i.d. sampling at 1 lost 60 points on Squeeze-mixed."""
    head_decode: str = "balanced"
    """How actions are drawn from the head at ``head_temperature`` > 0: "balanced" (default:
    agents with identical observations take the group's expected action counts, rounded — no
    histogram noise, so a population that shares one observation can split between levels,
    which argmax cannot; action_head.balanced_actions) or "sample" (i.i.d. per agent). Where
    every agent's observation is its own (Battle: positions), a group is one agent and balanced
    decoding is the argmax; the Battle config samples (seed 0, N = 10^3, T = 0.3 with
    ``head_min_p`` 0.1: 105.3 vs 86.4 on medium data, 105.7 vs 83.4 on mixed;
    docs/results/battle_decode.md), at T = 0.4 with ``head_min_p`` 0.05 since the twenty-ninth
    update (less exploitable at N >= 10^3: docs/results/battle_head_temperature.md)."""
    head_min_p: float = 0.0
    """Before decoding, drop the head's actions less likely than ``head_min_p`` × its most
    likely one (min-p truncation; 0 = off). With balanced decoding at T = 1, 0.2 scored 97.4
    on Squeeze-mixed (the split the optimum needs) but 65.3 on Ising-medium (argmax 72.7):
    off by default (acting_knobs.md). The Squeeze config set 0.2 until the eleventh update
    (mixed 97.4 vs 95.0 at the default, medium unchanged; planning_steps.md) and now removes
    the uniform floor instead (``head_remove_uniform``); the Battle config sets 0.05 (0.1
    until the twenty-ninth update)."""
    head_remove_uniform: bool = False
    """Before decoding (and before ``head_min_p``), subtract from each row of the head's
    distribution its smallest probability and renormalise (action_head.remove_uniform): the
    floor that the behaviour data's uniform-random actions leave on every action. Unlike a
    min-p cut it keeps a minority mode at its own share however small. Set by the Squeeze
    config with ``head_min_p`` 0: min-p 0.2 dropped level 3 whenever the head gave it less than
    0.2 × level 2, and the population, reading its own all-level-2 histogram, stayed there.
    Grid checkpoints, 3 training × 5 evaluation seeds, N = 10³ (docs/results/squeeze_uniform.md):
    medium data 98.5 [98.0, 99.0] vs 95.2 with min-p 0.2 (gap to the optimum 1.5 % vs 4.8 %),
    mixed 99.8 vs 100.0. Off by default: with two actions (Ising) it is the argmax."""
    plan_samples: int = 1
    """Plans sampled per replan, as one batch. With M > 1 and ``plan_combine="best"`` the
    planner follows the plan whose planned mean fields (plan steps 1..H-1, from its particles'
    states) the value net rates highest on average: best-of-M selection by the value the
    objective already trains
    (docs/method.md, (15')). 1 = off (one plan, the random stream of earlier versions): on
    Battle 4 plans scored no better than one at ~4x the cost (planning_steps.md). With
    ``plan_combine="mean"`` (the Ising and Squeeze configs) it acts on all M instead:
    docs/method.md (17)."""
    plan_combine: str = "best"
    """What the planner does with ``plan_samples`` M > 1 plans. "best": follow the one the value
    net rates highest (above). "mean": act on all of them — each agent is lifted onto every
    plan's particles and takes the action of its action-head distribution averaged over the M
    plans (a mixture over plans, decoded as ``head_decode`` says), so an action that only one
    sampled plan asks for is not taken. Needs the action head (not ``act_with="particle"``).
    On Ising a single plan sometimes tells aligned agents to flip; see docs/method.md (17)."""
    replan_every: int = 4
    """Env steps between replans (≤ horizon − 1 when the action head acts, since it reads each
    agent's planned next state; ≤ horizon with particle actions); in between the plan is
    followed open loop, every
    agent re-lifted onto the plan's states each step. The best value depends on the game, so
    the per-family configs set it (configs/README.md): Ising replans every step (99.1 vs 89.0
    with every 4 on medium data at N = 1024, ~3.5x the cost per env step), Battle every 7
    (agents move: replanning every step scored 36.8 vs 71.0); docs/results/family_settings.md,
    planning_tradeoff.md."""
    lifting: str = "balanced"
    """How agents are matched to particles. "balanced": re-lifted from fresh observations at
    every step, each particle taking ⌊N/K⌋ or ⌈N/K⌉ agents (exact OT over distinct
    observation rows when they are few, warm-started Sinkhorn rounded to a balanced assignment
    otherwise; lifting.lift_balanced). "frozen": the first implementation (exact OT while
    N ≤ exact_ot_max_n, else each agent keeps its replan-time particle between replans).
    "nearest": re-lifted every step onto the nearest particle, not balanced
    (lifting.lift_nearest): for populations of distinct observations; on identical agents
    (Squeeze) it puts everyone on one particle."""
    exact_ot_max_n: int = 2000
    """Exact OT while (distinct observation rows) ≤ this (balanced), or N ≤ this (frozen)."""
    lift_warm_start: bool = True
    """Balanced lifting's Sinkhorn route (more than ``exact_ot_max_n`` distinct rows: Battle at
    N > 4000), between replans: start each step's potential from the last step's (10
    iterations) or, false, solve it cold as at a replan (ε-scaling, 42 iterations). Measured
    on a Battle episode's own lifts at 5000 and 10⁴ lifted agents, the warm start is 14-16 %
    above exact OT's transport cost (at most 38 %): the particles move between plan steps and
    10 iterations at the final ε do not recover; cold, 0.8-1.1 % (at most 2 %) in similar
    time, its better potential halving the rounding's rounds (docs/results/lifting_warm.md).
    true: what every table until the fifty-ninth update measured. The exact routes (Squeeze,
    Ising, fewer distinct rows) ignore it."""
    lift_sinkhorn_rows: int = 2048
    """Balanced lifting's Sinkhorn route: the most distinct observation rows its potential is
    fitted on (drawn in proportion to their counts; 0 = all); the rounding to a balanced
    assignment always sees every agent. The potential is K numbers, so a sample pins it down:
    on a Battle episode's own lifts at 5000 lifted agents, cold solves on 1024 rows are 1.1 %
    above exact OT's cost against 0.8 % on 2048, in two thirds of the time
    (docs/results/lifting_rows.md). 2048: what every table until the sixtieth update measured.
    The exact routes ignore it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.k_schedule, list):
            self.k_schedule = tuple(self.k_schedule)
        if isinstance(self.stage_steps, list):
            self.stage_steps = tuple(self.stage_steps)
        if isinstance(self.head_blind, list):
            self.head_blind = tuple(self.head_blind)
        if not isinstance(self.head_blind, tuple) or any(
            isinstance(f, bool) or not isinstance(f, int) or f < 0 for f in self.head_blind
        ) or len(set(self.head_blind)) != len(self.head_blind):
            raise ConfigError(
                "Config.head_blind must be distinct observation feature indices ≥ 0, "
                f"got {self.head_blind!r}"
            )
        for name in ("width", "depth", "ddim_steps", "replan_every", "n_timesteps",
                     "stats_windows", "plan_samples", "head_ensemble", "value_hidden",
                     "kernel_size"):
            check_positive_int("Config", name, getattr(self, name))
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"Config.kernel_size must be odd, got {self.kernel_size}")
        if self.batch_size < 2:
            # the advantage's running std is a std over the batch's windows: NaN for one
            raise ConfigError(
                f"Config.batch_size must be ≥ 2 (the advantage is standardised over the "
                f"batch's windows), got {self.batch_size}"
            )
        if not 0.0 <= self.eta <= 1.0:
            # η > 1 asks for σ² > 1 − ᾱ: the sampler's noise swamps the plan
            raise ConfigError(f"Config.eta must lie in [0, 1], got {self.eta}")
        for name in ("lr", "grad_clip", "w_max"):
            # lr = 0 or grad_clip = 0 never moves the weights, a negative clip flips the
            # gradient, w_max ≤ 0 zeroes or negates every window's weight
            check_finite("Config", name, getattr(self, name))
        check_finite("Config", "weight_decay", self.weight_decay, strict=False)
        check_decoupled_decay("Config", self.lr, self.weight_decay)
        if self.interaction not in INTERACTIONS:
            raise ConfigError(
                f"Config.interaction must be one of {sorted(INTERACTIONS)}, "
                f"got {self.interaction!r}"
            )
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"Config.schedule must be one of {sorted(SCHEDULES)}, got {self.schedule!r}"
            )
        if self.width % 8:
            raise ConfigError(f"Config.width must be a multiple of 8 (GroupNorm), got {self.width}")
        validate_schedule(self.k_schedule)
        if self.ddim_steps > self.n_timesteps:
            raise ConfigError(
                f"Config.ddim_steps ({self.ddim_steps}) > n_timesteps ({self.n_timesteps})"
            )
        if self.coarse_to_fine and self.ddim_steps < len(self.k_schedule):
            raise ConfigError(
                f"Config.ddim_steps ({self.ddim_steps}) must be ≥ the number of particle stages "
                f"({len(self.k_schedule)}) for coarse-to-fine sampling"
            )
        if self.stage_steps is not None:
            st = self.stage_steps
            if not isinstance(st, tuple) or any(
                isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in st
            ):
                raise ConfigError("Config.stage_steps must be null or a list of DDIM step counts "
                                  f"≥ 1, one per k_schedule level, got {st!r}")
            if len(st) != len(self.k_schedule) or sum(st) != self.ddim_steps:
                raise ConfigError(
                    f"Config.stage_steps {list(st)} must give each of the {len(self.k_schedule)} "
                    f"k_schedule levels {list(self.k_schedule)} its DDIM steps, "
                    f"{self.ddim_steps} (ddim_steps) in all; set both together "
                    "(stage_steps=null: the near-equal split)")
            if not self.coarse_to_fine:  # one stage of K_max: the split would be ignored
                raise ConfigError("Config.stage_steps splits coarse-to-fine sampling's steps: "
                                  "it needs coarse_to_fine=true (or stage_steps=null)")
        if self.replan_every > self.horizon:
            raise ConfigError(
                f"Config.replan_every ({self.replan_every}) must be ≤ horizon ({self.horizon})"
            )
        if self.action_head and self.act_with != "particle" and self.replan_every >= self.horizon:
            # the planner replanned at horizon - 1 anyway, so a table labelled replan_every =
            # horizon measured horizon - 1
            raise ConfigError(
                f"Config.replan_every ({self.replan_every}) must be ≤ horizon - 1 "
                f"({self.horizon - 1}) when the action head acts: it reads each agent's planned "
                "next state, which the plan's last step does not have (act_with=\"particle\" "
                "can follow the plan to its end)"
            )
        if self.lifting not in LIFTINGS:
            raise ConfigError(f"Config.lifting must be one of {LIFTINGS}, got {self.lifting!r}")
        if self.act_with not in ACT_WITH:
            raise ConfigError(f"Config.act_with must be one of {ACT_WITH}, got {self.act_with!r}")
        if self.act_with == "head" and not self.action_head:
            raise ConfigError('Config.act_with="head" needs a model with action_head=true')
        if self.plan_combine not in PLAN_COMBINES:
            raise ConfigError(
                f"Config.plan_combine must be one of {PLAN_COMBINES}, got {self.plan_combine!r}"
            )
        if self.plan_combine == "mean" and self.act_with == "particle":
            raise ConfigError(
                'Config.plan_combine="mean" averages the action head over plans: it needs '
                'act_with="auto" or "head", got act_with="particle" (particle actions follow '
                'one plan: set plan_combine="best" with them)'
            )
        if self.plan_combine == "mean" and not self.action_head:
            # act_with="auto" acts with particle actions without a head: nothing to average
            raise ConfigError(
                'Config.plan_combine="mean" averages the action head over plans: it needs '
                'action_head=true (without a head the particles\' actions follow one plan: set '
                'plan_combine="best")'
            )
        if self.exact_ot_max_n < 0:
            raise ConfigError(
                f"Config.exact_ot_max_n must be ≥ 0 (0: never exact), got {self.exact_ot_max_n}"
            )
        if self.head_decode not in HEAD_DECODES:
            raise ConfigError(
                f"Config.head_decode must be one of {HEAD_DECODES}, got {self.head_decode!r}"
            )
        if not 0.0 <= self.p_uncond < 1.0:
            raise ConfigError(f"Config.p_uncond must be in [0, 1), got {self.p_uncond}")
        if self.guidance_weight != 1.0 and self.p_uncond == 0.0:
            raise ConfigError(
                f"Config.guidance_weight={self.guidance_weight} needs a model trained with a null "
                "token (p_uncond > 0); this one has p_uncond=0, so only guidance_weight=1 works"
            )
        rows = self.lift_sinkhorn_rows
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise ConfigError(
                "Config.lift_sinkhorn_rows must be an integer ≥ 0 (0: every distinct row), got "
                f"{self.lift_sinkhorn_rows!r}"
            )
        if 0 < rows < max(self.k_schedule):  # K potentials fitted on fewer rows than K
            raise ConfigError(
                f"Config.lift_sinkhorn_rows={rows} is below the {max(self.k_schedule)} particles "
                "of k_schedule: the potential would be fitted on fewer rows than particles "
                "(0: every distinct row)"
            )
        if not isinstance(self.lift_warm_start, bool):
            raise ConfigError(
                f"Config.lift_warm_start must be true or false, got {self.lift_warm_start!r}"
            )
        if not isinstance(self.head_remove_uniform, bool):
            raise ConfigError(
                f"Config.head_remove_uniform must be true or false, got "
                f"{self.head_remove_uniform!r}"
            )
        if not 0.0 <= self.head_min_p < 1.0:
            raise ConfigError(f"Config.head_min_p must be in [0, 1), got {self.head_min_p}")
        if self.guidance_weight < 0 or self.head_temperature < 0:
            raise ConfigError(
                f"Config.guidance_weight and head_temperature must be ≥ 0, got "
                f"{self.guidance_weight}, {self.head_temperature}"
            )
        if not 0.0 <= self.head_plan_dropout < 1.0:
            raise ConfigError(
                f"Config.head_plan_dropout must be in [0, 1), got {self.head_plan_dropout}"
            )
        if not isinstance(self.head_value, bool):
            raise ConfigError(f"Config.head_value must be true or false, got {self.head_value!r}")
        if not isinstance(self.train_inpaint, bool):
            raise ConfigError(
                f"Config.train_inpaint must be true or false, got {self.train_inpaint!r}")
        if not isinstance(self.plan_deltas, bool):
            raise ConfigError(
                f"Config.plan_deltas must be true or false, got {self.plan_deltas!r}")
        if self.head_value and (self.head_beta <= 0 or not self.action_head):
            raise ConfigError(
                "Config.head_value is the baseline of the head's advantage weights: it needs "
                f"action_head=true and head_beta > 0 (got action_head={self.action_head}, "
                f"head_beta={self.head_beta})"
            )
        if not 0.0 <= self.head_neighbour <= 1.0:
            raise ConfigError(
                f"Config.head_neighbour must be in [0, 1], got {self.head_neighbour}"
            )
        if not (self.head_plan_weight >= 0 and math.isfinite(self.head_plan_weight)):
            raise ConfigError(
                f"Config.head_plan_weight must be a finite number ≥ 0, got {self.head_plan_weight}"
            )
        if self.head_plan_weight != 1.0 and self.head_plan_dropout == 0.0:
            raise ConfigError(
                f"Config.head_plan_weight={self.head_plan_weight} needs an action head trained "
                "with plan dropout (head_plan_dropout > 0); this one has head_plan_dropout=0, so "
                "only head_plan_weight=1 works"
            )
        if self.head_plan_weight != 1.0 and (self.act_with == "particle" or not self.action_head):
            raise ConfigError(
                f"Config.head_plan_weight={self.head_plan_weight} guides the action head: it "
                'needs action_head=true and act_with="auto" or "head"'
            )
        if isinstance(self.value_warmup, bool) or not isinstance(self.value_warmup, int) or not (
                0 <= self.value_warmup < self.steps):
            raise ConfigError(f"Config.value_warmup must be an int in [0, steps={self.steps}), "
                              f"got {self.value_warmup!r}")
        if self.diffusion_steps is not None and (
                self.value_warmup + self.diffusion_steps > self.steps):
            raise ConfigError(
                f"Config.value_warmup ({self.value_warmup}) + diffusion_steps "
                f"({self.diffusion_steps}) must be ≤ steps ({self.steps}): the value net's "
                "steps come before the diffusion model's")
        if self.diffusion_steps is not None:
            check_positive_int("Config", "diffusion_steps", self.diffusion_steps)
            if self.diffusion_steps > self.steps:
                raise ConfigError(
                    f"Config.diffusion_steps ({self.diffusion_steps}) must be ≤ steps "
                    f"({self.steps}): the gradient steps that train the diffusion model, of "
                    "steps in all (the head trains alone after them); a family config sets it, "
                    f"so with a smaller budget give both, e.g. --set steps={self.steps} "
                    f"--set diffusion_steps="
                    f"{max(1, self.steps // 2) if self.action_head else self.steps}"
                )
            if self.diffusion_steps < self.steps and not self.action_head:
                raise ConfigError(
                    f"Config.diffusion_steps ({self.diffusion_steps}) < steps ({self.steps}) "
                    "trains the action head alone after it: it needs action_head=true"
                )
        if not 0.0 <= float(self.head_own_plans) <= 1.0:
            raise ConfigError(
                f"Config.head_own_plans must lie in [0, 1], got {self.head_own_plans}"
            )
        if self.head_own_plans > 0 and (
            self.diffusion_steps is None or self.diffusion_steps >= self.steps
        ):
            raise ConfigError(
                f"Config.head_own_plans={self.head_own_plans} trains the head on the diffusion "
                "model's plans in the head-only steps: set diffusion_steps < steps"
            )
        check_positive_int("Config", "head_hidden", self.head_hidden)
        if not (self.head_noise >= 0 and math.isfinite(self.head_noise)):
            raise ConfigError(
                f"Config.head_noise must be a finite number ≥ 0, got {self.head_noise}"
            )
        if not (self.head_beta >= 0 and math.isfinite(self.head_beta)):
            raise ConfigError(
                f"Config.head_beta must be a finite number ≥ 0, got {self.head_beta}"
            )
        if self.beta < 0 or self.lam_chaos < 0 or self.beta_agent < 0:
            raise ConfigError(
                f"Config.beta, beta_agent and lam_chaos must be ≥ 0, got {self.beta}, "
                f"{self.beta_agent}, {self.lam_chaos}"
            )


#: Config fields that fix the network / data shapes (cannot change on resume or at load).
ARCH_FIELDS = (
    "horizon",
    "width",
    "depth",
    "kernel_size",
    "interaction",
    "n_timesteps",
    "schedule",
    "value_hidden",
    "p_uncond",  # > 0 adds the null-token flag channel to the condition
    "action_head",
    "head_hidden",
    "head_plan_dropout",  # > 0 adds the head's "plan given" flag channel
    "head_ensemble",
    "head_value",  # adds the head's value baseline
    "plan_deltas",  # adds the per-step change statistics (buffers) and changes what x holds
)

#: Config fields that only change how a trained model plans and acts (may be overridden at load:
#: ``mfdiff eval --set``; the module docstring).
PLANNING_FIELDS = (
    "ddim_steps",
    "eta",
    "k_schedule",
    "stage_steps",
    "coarse_to_fine",
    "cap_particles",
    "return_target",
    "guidance_weight",
    "plan_samples",
    "plan_combine",
    "replan_every",
    "lifting",
    "exact_ot_max_n",
    "lift_warm_start",
    "lift_sinkhorn_rows",
    "act_with",
    "head_temperature",
    "head_decode",
    "head_min_p",
    "head_remove_uniform",
    "head_plan_weight",
    "head_data_range",
)

#: Values of fields for checkpoints written before the fields existed: their config.json lacks
#: the key, and the current defaults would describe other weights (p_uncond, action_head) or
#: act differently from how they were evaluated (head_decode: those sampled i.i.d.).
LEGACY_DEFAULTS = {"p_uncond": 0.0, "action_head": False, "head_decode": "sample",
                   # a run saved before the field resumes as it trained: refused with it on
                   "train_inpaint": False}
