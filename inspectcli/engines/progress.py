"""The progress protocol engines report through; the CLI draws it, notebooks may ignore it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class NullProgress:
    """Reports nowhere."""

    def start(self, total: int, description: str) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None
