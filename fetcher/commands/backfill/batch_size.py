"""How many PRs a GraphQL batch query asks for: adapted to what GitHub manages to answer."""

from __future__ import annotations

CALM_BATCHES = 2  # successful batches in a row before the batch grows again


class BatchSize:
    """Halve on a timeout; after CALM_BATCHES good batches in a row grow by half, never again to
    a size that timed out recently."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.size = self.maximum
        self.ceiling = self.maximum
        self.calm = 0
        self.shrinks = 0
        self.history: list[int] = []

    def shrink(self) -> None:
        self.ceiling = max(1, self.size - 1)
        self.size = max(1, self.size // 2)
        self.calm = 0
        self.shrinks += 1
        self.history.append(self.size)

    def succeeded(self) -> None:
        self.calm += 1
        if self.calm >= CALM_BATCHES and self.size < self.ceiling:
            self.size = min(self.ceiling, self.size + max(1, self.size // 2))
            self.calm = 0
            self.history.append(self.size)
        if self.calm >= 10 * CALM_BATCHES:
            self.ceiling = self.maximum  # a long calm: the big size may work again
