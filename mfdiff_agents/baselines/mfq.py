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
``next_obs`` / ``next_mean_field`` and is terminal when the episode ends (``done``).

Loss per transition (mean over alive agents), with a Polyak-averaged target network Q̄:

    V̄(x') = Σ_a' softmax(Q̄(x')/T)_a' Q̄(x', a')              (mean-field Boltzmann value; T=0: max)
    L = Huber(Q(x, a) − r − γ (1 − term) V̄(x')) + α [logsumexp_a Q(x, a) − Q(x, a_data)]

Acting: Boltzmann, a ~ softmax(Q(x)/T) with the policy's seeded generator (``temperature=0``:
greedy). With CQL the learnt Q ≈ Q^β + α log π_β + const, so T = α samples close to the data's
action distribution tilted by the advantage; a greedy argmax would send every agent of Gaussian
Squeeze (identical observations) to the same level.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from tqdm.auto import tqdm

from mfdiff_agents.baselines.common import (
    config_from_dict,
    config_to_dict,
    load_checkpoint,
    mlp,
    pick_device,
    population_features,
    sample_categorical,
    save_checkpoint,
)
from mfdiff_agents.policy import Policy

METHOD = "mfq"


@dataclasses.dataclass
class Config:
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
    gamma: float = 0.99
    """Discount."""
    cql_alpha: float = 1.0
    """Weight α of the conservative penalty logsumexp Q − Q(data action)."""
    tau: float = 0.005
    """Polyak rate of the target network."""
    temperature: float = 1.0
    """Boltzmann temperature T for acting and for the target value (0 = greedy / max)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before the TD target."""
    seed: int = 0
    """Torch init seed."""
    device: str = "auto"
    """"auto" | "cpu" | "cuda"."""


class MFQNet(nn.Module):
    """Q [..., A] = MLP([s, m, ā])."""

    def __init__(self, *, obs_dim: int, n_actions: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.net = mlp(3 * obs_dim + 1 + n_actions, hidden, n_actions, depth=depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _boltzmann_value(q: torch.Tensor, temperature: float) -> torch.Tensor:
    if temperature <= 0:
        return q.max(-1).values
    return (torch.softmax(q / temperature, -1) * q).sum(-1)


class MFQPolicy(Policy):
    """Boltzmann policy over the mean-field Q network (see module docstring).

    Keeps the population's action histogram of its previous call as ā; :meth:`reset` clears it.
    """

    def __init__(self, net: MFQNet, cfg: Config, *, obs_dim: int, n_actions: int,
                 seed: int | None = None) -> None:
        super().__init__(obs_dim=obs_dim, n_actions=n_actions, seed=seed)
        self.net = net.eval()
        self.cfg = cfg
        self.device = next(net.parameters()).device
        self._prev_hist = np.zeros(n_actions, np.float32)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._prev_hist = np.zeros(self.n_actions, np.float32)

    @torch.no_grad()
    def q_values(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> torch.Tensor:
        feats = population_features(obs, mask)
        hist = np.broadcast_to(self._prev_hist, (obs.shape[0], self.n_actions))
        x = torch.from_numpy(np.concatenate([feats, hist], -1).astype(np.float32)).to(self.device)
        return self.net(x)

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        q = self.q_values(obs, mask)
        if self.cfg.temperature <= 0:
            acts = q.argmax(-1).cpu().numpy()
        else:
            acts = sample_categorical(q / self.cfg.temperature, self.rng)
        if mask.any():
            self._prev_hist = (np.bincount(acts[mask], minlength=self.n_actions)
                               / mask.sum()).astype(np.float32)
        return acts

    def save(self, directory: str | Path) -> Path:
        return save_checkpoint(directory, method=METHOD, module=self.net, meta={
            "obs_dim": self.obs_dim, "n_actions": self.n_actions,
            "config": config_to_dict(self.cfg)})

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str = "cpu") -> MFQPolicy:
        meta, state = load_checkpoint(directory, method=METHOD)
        cfg = config_from_dict(Config, meta["config"])
        net = MFQNet(obs_dim=meta["obs_dim"], n_actions=meta["n_actions"], hidden=cfg.hidden,
                     depth=cfg.depth)
        net.load_state_dict(state)
        return cls(net.to(pick_device(device)), cfg, obs_dim=meta["obs_dim"],
                   n_actions=meta["n_actions"])


def window_transitions(w: Any, n_actions: int) -> dict[str, NDArray]:
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
    # next-step inputs
    obs_n = np.concatenate([obs[:, :, 1:], np.asarray(w.next_obs, np.float32)[:, :, None]], 2)
    mf_n = np.concatenate([mf[:, 1:], np.asarray(w.next_mean_field, np.float32)[:, None]], 1)
    alive_n = np.concatenate([alive[:, :, 1:], np.ones((b, k, 1), bool)], 2)
    term = ~alive_n
    term[:, :, -1] |= np.asarray(w.done, bool)[:, None]

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


def fit(sampler: Any, cfg: Config, *, out_dir: Path | None = None,
        progress: bool = True) -> MFQPolicy:
    """Train mean-field CQL on windows from ``sampler``; saves to ``out_dir`` if given."""
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    d, a = int(sampler.obs_dim), int(sampler.n_actions)
    net = MFQNet(obs_dim=d, n_actions=a, hidden=cfg.hidden, depth=cfg.depth).to(device)
    target = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    bar = tqdm(range(cfg.steps), desc="mfq", disable=not progress, leave=False)
    t_start, info = time.perf_counter(), {}
    for _ in bar:
        tr = {k: torch.from_numpy(v).to(device)
              for k, v in window_transitions(sampler.sample(cfg.batch_size), a).items()}
        valid = tr["valid"].float()
        n = valid.sum().clamp_min(1)
        q = net(tr["x"])  # [M, A]
        q_a = q.gather(-1, tr["a"][:, None]).squeeze(-1)
        with torch.no_grad():
            v_next = _boltzmann_value(target(tr["x_next"]), cfg.temperature)
            y = cfg.reward_scale * tr["r"] + cfg.gamma * (~tr["term"]).float() * v_next
        td = (nn.functional.smooth_l1_loss(q_a, y, reduction="none") * valid).sum() / n
        cql = ((torch.logsumexp(q, -1) - q_a) * valid).sum() / n
        loss = td + cfg.cql_alpha * cql
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p, pt in zip(net.parameters(), target.parameters()):
                pt.lerp_(p, cfg.tau)
        info = {"td": float(td.detach()), "cql": float(cql.detach())}
        bar.set_postfix(td=f"{info['td']:.3f}", cql=f"{info['cql']:.3f}")
    policy = MFQPolicy(net, cfg, obs_dim=d, n_actions=a, seed=cfg.seed)
    policy.train_info = {**info, "train_seconds": time.perf_counter() - t_start}
    if out_dir is not None:
        policy.save(out_dir)
    return policy
