"""Battle core: two teams fight on a grid (MAgent battle rules, vectorised numpy).

Rules follow MAgent2's ``battle_v4``: hp 10 (max), damage 2 per attack, attack range 1.5 (the
8-neighbourhood), hp recovery 0.1 per step, rewards step -0.005, kill +5, death -0.1,
attack -0.1, hit on an enemy +0.2. The map keeps battle_v4's density (162 agents on 45 x 45,
8 %), so its side grows as sqrt(N); each team starts as a block at spacing 2, facing the
other across a gap of 3 cells, on randomly chosen (seeded) slots of the block.

Every step is whole-array work: attacks look up an id grid at 8 offsets, moves are resolved
with one ``np.unique`` over the claimed cells, local counts come from an integral image and the
nearest enemy of every agent from one Euclidean distance transform per team (O(map)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from mfdiff_envs.core import VectorCore, check_int_range, check_positive_int

HP_MAX = 10.0
DAMAGE = 2.0
HP_RECOVER = 0.1
STEP_REWARD = -0.005
KILL_REWARD = 5.0
DEAD_PENALTY = -0.1
ATTACK_PENALTY = -0.1
HIT_REWARD = 0.2
#: Agents per cell of battle_v4's default map (162 on 45 x 45).
DENSITY = 162 / 45**2
#: Side of the coarse blocks behind the local counts (3 x 3 blocks = a 9 x 9 window, aligned
#: to the block grid) and the nearest-enemy search.
BLOCK = 3

#: Action -> (dx, dy): 0 stay, 1 up, 2 down, 3 left, 4 right; 5 = attack (no move).
MOVES = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0], [0, 0]], dtype=np.int64)
ATTACK = 5
#: Attack offsets, the 4 orthogonal (distance 1) before the 4 diagonal (1.41): the first enemy
#: found in this order is the target, i.e. the nearest one with a fixed tie order.
ATTACK_OFFSETS = np.array(
    [[0, -1], [0, 1], [-1, 0], [1, 0], [-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.int64
)
OPPONENTS = ("random", "medium", "expert")
#: Largest map side: the id grids hold map_size^2 int64 (10 000^2 = 0.8 GB).
MAX_MAP_SIZE = 10_000

OBS_NAMES = (
    "hp",
    "x",
    "y",
    "team",
    "allies_9x9",
    "enemies_9x9",
    "enemy_dx",
    "enemy_dy",
    "enemy_dist",
    "enemy_in_range",
    "own_alive",
    "enemy_alive",
    "time",
)


def default_map_size(n_total: int) -> int:
    """Side of the square map that keeps battle_v4's density for ``n_total`` agents (>= 12)."""
    return max(12, round(math.sqrt(n_total / DENSITY)))


def block_slots(n_team: int, map_size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Candidate start cells [k*k, 2] (x, y) of the red and the blue block.

    battle_v4's layout (spacing 2, gap 3 between the blocks) when it fits, else denser blocks
    and a smaller gap (small maps)."""
    k = math.ceil(math.sqrt(n_team))
    for spacing, gap in ((2, 3), (1, 3), (1, 1)):
        width = spacing * k
        if 2 * width + 2 * gap <= map_size - 2:
            break
    else:
        # the densest layout (spacing 1, gap 1) needs 2k + 2 cells inside a 1-cell border
        raise ValueError(
            f"map_size {map_size} is too small for two teams of {n_team} agents: the smallest "
            f"that fits them is {2 * k + 4} (the default for N = {2 * n_team}: "
            f"{default_map_size(2 * n_team)})"
        )
    mid = map_size // 2
    ys = (map_size - width) // 2 + spacing * np.arange(k)
    red_x = mid - gap - width + spacing * np.arange(k)
    blue_x = mid + gap + spacing * np.arange(k)
    red = np.stack(np.meshgrid(red_x, ys, indexing="ij"), -1).reshape(-1, 2)
    blue = np.stack(np.meshgrid(blue_x, ys, indexing="ij"), -1).reshape(-1, 2)
    return red.astype(np.int64), blue.astype(np.int64)


class BattleCore(VectorCore):
    """Vectorised two-team battle.

    Args:
        n_agents: total population (both teams), even; team size n_agents / 2.
        opponent: ``None``: the core controls both teams (``red_*`` then ``blue_*``). ``"random"``,
            ``"medium"`` or ``"expert"``: blue is driven inside the core by the scripted behaviour
            policy of that tier (:mod:`mfdiff_envs.policies`) and the core's ``n_agents``,
            ``agent_names``, observations, actions, rewards and ``alive`` cover red only.
        map_size: side of the square map, at most 10 000; ``None`` keeps battle_v4's density
            (8 %).
        max_cycles: steps per episode.

    Attributes:
        n_total: agents on the map (both teams); ``n_agents`` is the controlled part.
        n_team: agents per team.
    """

    family = "battle"
    obs_names = OBS_NAMES

    def __init__(
        self,
        n_agents: int = 162,
        *,
        opponent: str | None = "expert",
        map_size: int | None = None,
        max_cycles: int = 300,
    ) -> None:
        n_total = check_positive_int("n_agents", n_agents)
        if n_total % 2:
            raise ValueError(f"n_agents (both teams together) must be even, got {n_total}")
        if opponent is not None and not isinstance(opponent, str):
            raise TypeError(f"opponent must be None or a str, got {type(opponent).__name__}")
        if opponent is not None and opponent not in OPPONENTS:
            raise ValueError(f"opponent must be None or one of {OPPONENTS}, got {opponent!r}")
        self.opponent = opponent
        self.n_total = n_total
        self.n_team = n_total // 2
        self.map_size = (
            default_map_size(n_total)
            if map_size is None
            else check_int_range("map_size", map_size, 1, MAX_MAP_SIZE)
        )
        self._slots = block_slots(self.n_team, self.map_size)  # validates the map size
        self.max_cycles = check_positive_int("max_cycles", max_cycles)
        self.n_agents = n_total if opponent is None else self.n_team
        self.n_actions = 6
        self.obs_dim = len(OBS_NAMES)
        self.team = np.repeat(np.array([0, 1], dtype=np.int64), self.n_team)
        self.pos = np.zeros((n_total, 2), dtype=np.int64)
        self.hp = np.full(n_total, HP_MAX, dtype=np.float32)
        self.alive_all = np.ones(n_total, dtype=bool)
        # Id grid with a border of walls (-2), so look-ups next to the edge need no bounds checks;
        # ``grid`` [y, x] -> agent id or -1 is the inner view (a property, see there).
        self._pgrid = np.full((self.map_size + 2, self.map_size + 2), -2, dtype=np.int64)
        self._obs_all = np.zeros((n_total, self.obs_dim), dtype=np.float32)
        self._attack_dir = np.zeros(n_total, dtype=np.int64)
        self._opp_policy = None
        if opponent is not None:
            from mfdiff_envs.policies import TIER_SKILL, make_behaviour_policy

            self._opp_policy = make_behaviour_policy(self, TIER_SKILL[self.family][opponent])
        super().__init__()

    @property
    def grid(self) -> NDArray[np.int64]:
        """[y, x] -> agent id, or -1 for an empty cell: the inner part of the walled grid.

        A view made on each access, never stored: a stored view becomes a separate array after
        ``copy.deepcopy``/pickling, and attacks (read from the walled grid) then never land.
        """
        return self._pgrid[1:-1, 1:-1]

    # ---------------------------------------------------------------- features
    def _features(self) -> NDArray[np.float32]:
        S, nt, b = self.map_size, self.n_team, BLOCK
        Sc = -(-S // b)
        alive = self.alive_all
        obs = self._obs_all
        obs[:] = 0.0  # dead agents see zeros
        idx = np.flatnonzero(alive)
        x, y, tm = self.pos[idx, 0], self.pos[idx, 1], self.team[idx]
        et = 1 - tm
        n_alive = np.bincount(tm, minlength=2)
        # Enemy in attack range: one [n, 8] look-up in a padded team grid (-1 = empty).
        tgrid = np.full((S + 2, S + 2), -1, dtype=np.int8)
        tgrid[y + 1, x + 1] = tm
        around = tgrid[
            (y + 1)[:, None] + ATTACK_OFFSETS[:, 1], (x + 1)[:, None] + ATTACK_OFFSETS[:, 0]
        ]
        enemy_near = around == et[:, None]
        in_range = enemy_near.any(1)
        self._attack_dir[idx] = enemy_near.argmax(1)  # first enemy offset (used by MAgentBattle)
        # Coarse b x b blocks: per-team counts and coordinate sums in O(N) with bincount, so the
        # window counts and the nearest-enemy search cost O(N + (S / b)^2) instead of O(S^2).
        cell = (y // b) * Sc + x // b
        key = tm * (Sc * Sc) + cell
        n_key = 2 * Sc * Sc
        cnt = np.bincount(key, minlength=n_key).reshape(2, Sc, Sc)
        pad = np.zeros((2, Sc + 2, Sc + 2), dtype=np.int64)
        pad[:, 1:-1, 1:-1] = cnt
        win = pad[:, :-2] + pad[:, 1:-1] + pad[:, 2:]
        win = (win[:, :, :-2] + win[:, :, 1:-1] + win[:, :, 2:]).reshape(2, -1)
        w = (3 * b) ** 2
        f = np.zeros((idx.size, self.obs_dim), dtype=np.float32)
        f[:, 0] = self.hp[idx] * (1.0 / HP_MAX)
        f[:, 1] = x * (1.0 / (S - 1))
        f[:, 2] = y * (1.0 / (S - 1))
        f[:, 3] = tm
        f[:, 4] = (win[tm, cell] - 1) * (1.0 / (w - 1))
        f[:, 5] = win[et, cell] * (1.0 / w)
        f[:, 9] = in_range
        f[:, 10] = n_alive[tm] * (1.0 / nt)
        f[:, 11] = n_alive[et] * (1.0 / nt)
        f[:, 12] = self.t / self.max_cycles
        sxy = np.stack(
            [
                np.bincount(key, weights=x, minlength=n_key),
                np.bincount(key, weights=y, minlength=n_key),
            ]
        ).reshape(2, 2, -1)
        # Nearest block holding enemies, for every block of each team's map, in one O((S / b)^2)
        # distance transform per team; the target is the enemies' centroid in that block: the
        # nearest enemy, to block size. near: [team, (row, col), Sc, Sc].
        near = np.zeros((2, 2, Sc, Sc), dtype=np.int64)  # stays 0 for a team with no enemy left
        for t in (0, 1):
            if n_alive[1 - t]:
                near[t] = ndimage.distance_transform_edt(cnt[1 - t] == 0, return_indices=True)[1]
        flat = near.reshape(2, 2, -1)
        nb = flat[tm, 0, cell] * Sc + flat[tm, 1, cell]
        k = cnt.reshape(2, -1)[et, nb]
        has = k > 0  # False only when the enemy team is gone
        d = sxy[:, et, nb] / np.maximum(k, 1) - self.pos[idx].T
        d[:, ~has] = 0.0
        dist = np.hypot(d[0], d[1])
        f[:, 6:8] = (d / np.maximum(dist, 1.0)).T
        f[:, 8] = dist * (1.0 / S)
        obs[idx] = f
        return obs

    def _split(self, obs_all: NDArray[np.float32]) -> NDArray[np.float32]:
        return obs_all[: self.n_agents].copy()

    # ---------------------------------------------------------------- dynamics
    def _place(self) -> None:
        """Seeded start: each team on random slots of its block, full hp, opponent re-seeded."""
        nt = self.n_team
        red, blue = self._slots
        self.pos[:nt] = red[self.rng.choice(len(red), nt, replace=False)]
        self.pos[nt:] = blue[self.rng.choice(len(blue), nt, replace=False)]
        self.hp[:] = HP_MAX
        self.alive_all[:] = True
        self.alive = self.alive_all[: self.n_agents].copy()
        if self._opp_policy is not None:
            self._opp_policy.reset(int(self.rng.integers(2**31 - 1)))

    def _all_actions(self, actions: NDArray[np.int64]) -> NDArray[np.int64]:
        """Actions of the whole population: the caller's, then the in-core opponent's."""
        nt = self.n_team
        if self._opp_policy is not None:
            acts = np.concatenate(
                [actions, self._opp_policy(self._obs_all[nt:], self.alive_all[nt:])]
            )
        else:
            acts = actions.copy()
        acts[~self.alive_all] = 0
        return acts

    def _finish(self, rewards: NDArray) -> tuple:
        """Post-step features, controlled slices and the termination rule (a team eliminated)."""
        nt, n = self.n_team, self.n_agents
        self.t += 1  # features carry the post-step time; the base class re-counts
        obs_all = self._features()
        self.t -= 1
        alive = self.alive_all
        self.alive = alive[:n].copy()
        over = not alive[:nt].any() or not alive[nt:].any()
        terminated = np.ones(n, dtype=bool) if over else ~self.alive
        return self._split(obs_all), rewards[:n].astype(np.float32), terminated, self.metrics()

    def _agent_names(self) -> list[str]:
        red = [f"red_{i}" for i in range(self.n_team)]
        return red + ([f"blue_{i}" for i in range(self.n_team)] if self.opponent is None else [])

    def _reset(self) -> tuple[NDArray[np.float32], dict[str, Any]]:
        self._place()
        self.grid[:] = -1
        self.grid[self.pos[:, 1], self.pos[:, 0]] = np.arange(self.n_total)
        return self._split(self._features()), self.metrics()

    def _step(self, actions: NDArray[np.int64]):
        S, M = self.map_size, self.n_total
        acts = self._all_actions(actions)
        alive = self.alive_all
        rewards = np.where(alive, STEP_REWARD, 0.0)

        # Attacks (simultaneous, on the hp before this step).
        att = np.flatnonzero(acts == ATTACK)
        rewards[att] += ATTACK_PENALTY
        pp = self.pos + 1  # coordinates in the walled grid
        occ = self._pgrid[  # [n_att, 8] ids around each attacker (-1 empty, -2 wall)
            pp[att, 1, None] + ATTACK_OFFSETS[:, 1], pp[att, 0, None] + ATTACK_OFFSETS[:, 0]
        ]
        enemy = (occ >= 0) & (self.team[np.maximum(occ, 0)] != self.team[att, None])
        has = enemy.any(1)
        target = occ[np.flatnonzero(has), enemy[has].argmax(1)]
        attackers = att[has]
        rewards[attackers] += HIT_REWARD
        self.hp -= DAMAGE * np.bincount(target, minlength=M).astype(np.float32)
        killed = alive & (self.hp <= 0)
        if killed.any():
            # Kill credit to the lowest-index attacker of each killed target (att is sorted).
            uniq, first = np.unique(target, return_index=True)
            k = killed[uniq]
            rewards[attackers[first[k]]] += KILL_REWARD
            rewards[killed] += DEAD_PENALTY
            alive[killed] = False
            self.grid[self.pos[killed, 1], self.pos[killed, 0]] = -1

        # Moves: only into cells free before the move and claimed by exactly one mover
        # (no swaps, no chains), decided for everyone at once by counting claims per cell.
        mv = np.flatnonzero(alive & (acts >= 1) & (acts <= 4))
        new = self.pos[mv] + MOVES[acts[mv]]
        free = self._pgrid[new[:, 1] + 1, new[:, 0] + 1] == -1  # walls (-2) are never free
        mv, new = mv[free], new[free]
        lin = new[:, 1] * S + new[:, 0]
        single = np.bincount(lin, minlength=S * S)[lin] == 1
        mv, new = mv[single], new[single]
        self.grid[self.pos[mv, 1], self.pos[mv, 0]] = -1
        self.grid[new[:, 1], new[:, 0]] = mv
        self.pos[mv] = new

        self.hp[alive] = np.minimum(self.hp[alive] + HP_RECOVER, HP_MAX)
        self.hp[~alive] = 0.0
        return self._finish(rewards)

    def obs_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Every feature in [0, 1] but the unit direction to the nearest enemy (dx, dy in
        [-1, 1]) and its distance over the map side (< sqrt 2: both ends lie on the map)."""
        low = np.zeros(self.obs_dim, dtype=np.float32)
        high = np.ones(self.obs_dim, dtype=np.float32)
        dx, dy, dist = (OBS_NAMES.index(k) for k in ("enemy_dx", "enemy_dy", "enemy_dist"))
        low[[dx, dy]] = -1.0
        high[dist] = np.float32(math.sqrt(2.0))
        return low, high

    @property
    def state_dim(self) -> int:
        """4 * n_total + 1 (both teams, also when blue is played by the core)."""
        return 4 * self.n_total + 1

    def state(self) -> NDArray[np.float32]:
        """Every agent on the map (red then blue, by index): alive flag, hp / 10, x / (S - 1),
        y / (S - 1) (zeros for a dead agent), flattened agent-major, then t / max_cycles.
        In [0, 1]."""
        S, M = self.map_size, self.n_total
        out = np.zeros(4 * M + 1, dtype=np.float32)
        per = out[:-1].reshape(M, 4)
        alive = self.alive_all
        per[:, 0] = alive
        per[:, 1] = self.hp * (1.0 / HP_MAX)
        per[:, 2:4] = self.pos * (1.0 / (S - 1))
        per[~alive] = 0.0
        out[-1] = self.t / self.max_cycles
        return out

    # ---------------------------------------------------------------- reporting
    def metrics(self) -> dict[str, float]:
        """``red_alive``/``blue_alive``: alive fractions; ``win``: 1 if red has more agents alive
        than blue (in particular if blue is eliminated), 0.5 on a tie, 0 otherwise."""
        nt = self.n_team
        red = np.count_nonzero(self.alive_all[:nt]) / nt
        blue = np.count_nonzero(self.alive_all[nt:]) / nt
        return {
            "red_alive": red,
            "blue_alive": blue,
            "win": 1.0 if red > blue else 0.5 if red == blue else 0.0,
        }

    def kwargs(self) -> dict[str, Any]:
        return {
            "n_agents": self.n_total,
            "opponent": self.opponent,
            "map_size": self.map_size,
            "max_cycles": self.max_cycles,
        }

    def render_rgb(self) -> NDArray[np.uint8]:
        """Map picture: red and blue agents (darker with less hp) on white."""
        S = self.map_size
        scale = max(1, 256 // S)
        img = np.full((S, S, 3), 255, dtype=np.uint8)
        idx = np.flatnonzero(self.alive_all)
        shade = (0.4 + 0.6 * self.hp[idx] / HP_MAX)[:, None]
        colour = np.where(self.team[idx, None] == 0, [[230, 30, 30]], [[30, 60, 230]])
        img[self.pos[idx, 1], self.pos[idx, 0]] = (colour * shade).astype(np.uint8)
        return np.repeat(np.repeat(img, scale, 0), scale, 1)
