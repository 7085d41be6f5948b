"""Offline mean-field Q-learning (Yang et al. 2018) with a conservative (CQL) penalty.

Q_θ(s_i, m_t, ā_{t-1}) -> [A]: a shared per-agent network of the agent's own observation s_i,
the population's mean-field summary m_t (mean_field_summary over all N) and the mean action
ā_{t-1} — the population's action histogram at the previous step (zeros at the first step of an
episode). Using the *previous* step's histogram makes the input known at decision time (actions
are simultaneous); Yang et al. likewise condition on the last observed mean action.

Training data (a WindowSampler window of K agents × H steps): ā is estimated by the K sampled
agents' action histogram (alive ones), an unbiased estimate of the all-N histogram. The first
step of a window whose t0 > 0 has no previous histogram and is left out. Transition
(x_t, a_t, r_t, x_{t+1}) with x_{t+1} = (s_{t+1}, m_{t+1}, ā_t); the last step uses the window's
``next_obs`` / ``next_mean_field`` and is terminal when the episode ends (``done``) or the agent
dies at t0+H (``next_alive``; before the forty-ninth update bootstrapped: Battle only).

Loss per transition (mean over alive agents), with a Polyak-averaged target network Q̄:

    V̄(x') = Σ_a' softmax(Q̄(x')/T')_a' Q̄(x', a')     (mean-field Boltzmann value, T' =
                                                    ``target_temperature``; T' = 0: max)
    L = Huber(Q(x, a) − r − γ (1 − term) V̄(x')) + α [logsumexp_a Q(x, a) − Q(x, a_data)]

Acting: Boltzmann, a ~ softmax(Q(x)/T) with the policy's seeded generator, T = ``temperature``
(0: greedy argmax, the policy of discrete-action CQL; Kumar et al. 2020). The default T = 0.1
is near-greedy; the Boltzmann draw only breaks ties between agents with identical inputs.

Why not T = α (the default before 2026-11-29, which scored 6 on Squeeze medium): the idea that
CQL learns Q ≈ Q^β + α log π_β, so that softmax(Q/α) ≈ π_β tilted by the advantage, is wrong
here. The TD term of each action is weighted by how often the data holds it (π_β(a)), so where
the Bellman target y is flat in a — every Squeeze state at N = 1000, where one agent's level
moves its reward by ~0.002 — the fixed point of the loss (squared TD) is
Q_a = y + α (1 − softmax(Q)_a / π_β(a)): the spread of Q over actions is bounded by ~1.4 α, and
softmax(Q/α) is much *flatter* than π_β (medium data: 0.068 on each rare level instead of
0.035), so the policy plays higher levels than the data (mean 3.8 vs 3.0; optimum 2.22).
docs/results/baselines.md has the derivation, the measured Q and the temperature sweep.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from mfdiff_agents.baselines.common import (
    live_scores,
    mlp,
    next_step,
    population_features,
    sample_categorical,
)
from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.config import ConfigError, TrainConfig, check_finite
from mfdiff_agents.data import arrays_to_torch
from mfdiff_agents.trained import TrainedPolicy
from mfdiff_agents.training import Learner, train

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import Windows, WindowSampler


@dataclasses.dataclass
class Config(TrainConfig):
    """Mean-field CQL hyper-parameters."""

    steps: int = 3000
    """Gradient steps."""
    batch_size: int = 16
    """Windows per batch."""
    lr: float = 3e-4
    """Adam learning rate."""
    hidden: int = 128
    """MLP width."""
    depth: int = 2
    """Hidden layers."""
    cql_alpha: float = 1.0
    """Weight α of the conservative penalty logsumexp Q − Q(data action)."""
    tau: float = 0.005
    """Polyak rate of the target network."""
    temperature: float = 0.1
    """Acting temperature T: a ~ softmax(Q/T) (T ≤ 0: greedy). Not α: see the module docstring;
    measured in docs/results/baselines.md (T = 1 scored 6 on Squeeze medium, T = 0.1 scored 95).
    The grid acts at configs/mfq/<family>.json's (Squeeze / Ising / Battle: 0.3 / 0 / 0.3;
    docs/results/baseline_temp_<family>.md)."""
    target_temperature: float = 1.0
    """Boltzmann temperature of the bootstrapped value V̄(x') = E_softmax(Q̄/T')[Q̄] (T' ≤ 0:
    the max)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before the TD target."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < float(self.tau) <= 1.0:
            # tau = 0 leaves the target network at its random init; > 1 overshoots
            raise ConfigError(f"Config.tau must lie in (0, 1], got {self.tau}")
        if not float(self.cql_alpha) >= 0:
            # α < 0 rewards out-of-data actions; 0 is plain offline mean-field Q-learning
            raise ConfigError(f"Config.cql_alpha must be ≥ 0, got {self.cql_alpha}")
        for name in ("lr", "reward_scale"):  # lr = 0 never trains; a scale ≤ 0 drops or
            check_finite("Config", name, getattr(self, name))  # flips the rewards


def _boltzmann_value(q: torch.Tensor, temperature: float) -> torch.Tensor:
    if temperature <= 0:
        return q.max(-1).values
    return (torch.softmax(q / temperature, -1) * q).sum(-1)


class MFQPolicy(TrainedPolicy):
    """Boltzmann policy over the mean-field Q network (see module docstring).

    Keeps the population's action histogram of its previous call as ā; :meth:`reset` clears it.
    """

    METHOD = "mfq"
    CONFIG = Config
    stateful = True  # the previous call's action histogram
    ARCH_FIELDS = ("hidden", "depth")
    ACTING_FIELDS = ("temperature",)

    def __init__(self, model: nn.Module, cfg: Config, **kw: Any) -> None:
        super().__init__(model, cfg, **kw)
        self._prev_hist = np.zeros(self.n_actions, np.float32)

    @classmethod
    def build_model(cls, cfg: Config, env: EnvFacts) -> nn.Module:
        """Q [..., A] = MLP([s, m, ā]) with m the mean field (2d + 1) and ā the mean action."""
        return mlp(3 * env.obs_dim + 1 + env.n_actions, cfg.hidden, env.n_actions,
                   depth=cfg.depth)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._prev_hist = np.zeros(self.n_actions, np.float32)

    @torch.no_grad()
    def q_values(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> torch.Tensor:
        """Q(o_i, ā, ·) ``[N, A]``: each agent's action values against the previous step's
        mean action (the population's action histogram)."""
        feats = population_features(obs, mask)
        hist = np.broadcast_to(self._prev_hist, (obs.shape[0], self.n_actions))
        x = torch.from_numpy(np.concatenate([feats, hist], -1).astype(np.float32)).to(self.device)
        return self.model(x)

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        q = live_scores(self.q_values(obs, mask), mask, "MFQ's Q-values")
        if self.cfg.temperature <= 0:
            acts = q.argmax(-1).cpu().numpy()
        else:
            acts = sample_categorical(q, self.rng, self.cfg.temperature)
        if mask.any():
            self._prev_hist = (np.bincount(acts[mask], minlength=self.n_actions)
                               / mask.sum()).astype(np.float32)
        return acts


def window_transitions(w: Windows, n_actions: int) -> dict[str, NDArray]:
    """Flatten a Windows batch into per-agent transitions (see module docstring).

    Returns x [M, F], a [M], r [M], x_next [M, F], term [M], valid [M] (M = B·K·H),
    F = 3d + 1 + A.
    """
    obs = np.asarray(w.obs, np.float32)  # [B,K,H,d]
    b, k, h, _ = obs.shape
    acts = np.asarray(w.actions, np.int64)
    alive = np.asarray(w.alive, bool)
    mf = np.asarray(w.mean_field, np.float32)  # [B,H,m]
    onehot = np.eye(n_actions, dtype=np.float32)[acts] * alive[..., None]  # [B,K,H,A]
    hist = onehot.sum(1) / np.maximum(alive.sum(1), 1)[..., None]  # [B,H,A] particle histogram
    t0 = np.asarray(w.t0)
    prev = np.zeros_like(hist)
    prev[:, 1:] = hist[:, :-1]
    has_prev = np.ones((b, h), bool)
    has_prev[:, 0] = t0 == 0  # first window step: known only at the episode start (zeros)
    obs_n, mf_n, _, term = next_step(w)

    def feats(o: NDArray, m: NDArray, hh: NDArray) -> NDArray:
        m_b = np.broadcast_to(m[:, None], (b, k, h, m.shape[-1]))
        hh_b = np.broadcast_to(hh[:, None], (b, k, h, n_actions))
        return np.concatenate([o, m_b, hh_b], -1).reshape(b * k * h, -1).astype(np.float32)

    return {
        "x": feats(obs, mf, prev),
        "a": acts.reshape(-1),
        "r": np.asarray(w.rewards, np.float32).reshape(-1),
        "x_next": feats(obs_n, mf_n, hist),
        "term": term.reshape(-1),
        "valid": (alive & has_prev[:, None]).reshape(-1),
    }


class MFQLearner(Learner):
    """TD (Huber, Boltzmann target) + CQL penalty, with a Polyak-averaged target network."""

    POLICY = MFQPolicy
    LOG_KEYS = ("loss", "td", "cql")

    def __init__(self, sampler: WindowSampler, cfg: Config, device: torch.device) -> None:
        super().__init__(sampler, cfg, device)
        self.net = MFQPolicy.build_model(cfg, self.env).to(device)
        self.target = copy.deepcopy(self.net).requires_grad_(False)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)

    @property
    def model(self) -> nn.Module:
        return self.net

    def update(self, w: Windows) -> dict[str, float]:
        cfg = self.cfg
        tr = arrays_to_torch(window_transitions(w, self.env.n_actions), self.device)
        valid = tr["valid"].float()
        n = valid.sum().clamp_min(1)
        q = self.net(tr["x"])  # [M, A]
        q_a = q.gather(-1, tr["a"][:, None]).squeeze(-1)
        with torch.no_grad():
            v_next = _boltzmann_value(self.target(tr["x_next"]), cfg.target_temperature)
            y = cfg.reward_scale * tr["r"] + cfg.gamma * (~tr["term"]).float() * v_next
        td = (nn.functional.smooth_l1_loss(q_a, y, reduction="none") * valid).sum() / n
        cql = ((torch.logsumexp(q, -1) - q_a) * valid).sum() / n
        loss = td + cfg.cql_alpha * cql
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            for p, pt in zip(self.net.parameters(), self.target.parameters()):
                pt.lerp_(p, cfg.tau)
        return {"loss": float(loss.detach()), "td": float(td.detach()),
                "cql": float(cql.detach())}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "target": self.target.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.target.load_state_dict(state["target"])


def fit(
    sampler: WindowSampler, cfg: Config, *, out_dir: str | Path | None = None, **kw: Any
) -> MFQPolicy:
    """Train mean-field CQL on ``sampler``'s windows (see :func:`mfdiff_agents.training.train`)."""
    return train(MFQLearner, sampler, cfg, out_dir=out_dir, **kw)
