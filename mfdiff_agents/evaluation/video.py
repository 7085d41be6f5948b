"""Record an episode as an animated GIF, the way Gymnasium's ``RecordVideo`` records one: a frame
of ``core.render_rgb()`` before every action and one after the last step. Pillow (a matplotlib
dependency) writes the file, so no video codec is needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.rollout import RolloutResult, rollout

if TYPE_CHECKING:
    from mfdiff_envs.core import VectorCore


class _Recorder:
    """Wraps a policy: grabs the frame the policy is about to act on."""

    def __init__(self, policy: Any, core: VectorCore) -> None:
        self.policy, self.core, self.frames = policy, core, []

    def reset(self, seed: int | None = None) -> None:
        self.frames = []
        self.policy.reset(seed)

    def act_batch(self, obs: NDArray[np.floating], mask: NDArray[np.bool_]) -> Any:
        self.frames.append(self.core.render_rgb())
        return self.policy.act_batch(obs, mask)


def record_episode(
    policy: Any, core: VectorCore, path: str | Path, *, seed: int = 0, fps: int = 8, scale: int = 2
) -> tuple[Path, RolloutResult]:
    """Play one episode of ``policy`` on ``core`` and write it to ``path`` (a .gif)."""
    from PIL import Image

    rec = _Recorder(policy, core)
    result = rollout(core, rec, seed=seed)
    frames = [*rec.frames, core.render_rgb()]
    images = [Image.fromarray(np.asarray(f, np.uint8)).resize(
        (f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(p, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return p, result
