"""``render_mode="human"``: a pygame window showing the core's RGB picture (as magent2 does).

pygame is imported on the first frame only, so the env packages import without it; the window
is dropped on pickling/copying (a copy opens its own window when it first renders).
Headless runs (CI) set ``SDL_VIDEODRIVER=dummy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


class HumanWindow:
    """A pygame window that shows RGB frames [H, W, 3] at most ``fps`` times per second."""

    def __init__(self, title: str, fps: int) -> None:
        self.title = title
        self.fps = fps
        self._screen: Any = None
        self._clock: Any = None

    def show(self, frame: NDArray[np.uint8]) -> None:
        """Draw ``frame`` and process window events (so the window stays responsive)."""
        try:
            import pygame
        except ImportError as e:  # pragma: no cover - pygame ships with the magent extra
            raise ImportError(
                "render_mode='human' needs pygame: pip install pygame-ce "
                "(or use render_mode='rgb_array')"
            ) from e
        h, w = frame.shape[:2]
        if self._screen is None or self._screen.get_size() != (w, h):
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode((w, h))
            self._clock = pygame.time.Clock()
        # surfarray is indexed [x, y]; frames are [y, x]
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        self._screen.blit(surface, (0, 0))
        pygame.event.pump()
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        """Close the window (if one was opened)."""
        if self._screen is not None:
            import pygame

            pygame.display.quit()
            self._screen = self._clock = None

    def __getstate__(self) -> dict[str, Any]:
        # pygame surfaces cannot be pickled; the copy reopens a window on its first frame
        return {"title": self.title, "fps": self.fps, "_screen": None, "_clock": None}
