"""kubeplan's error hierarchy.

Every error says what is wrong and how to fix it. The CLI and the UI translate
``KubeplanError`` once, at the edge; nothing below them prints or exits.
"""

from __future__ import annotations


class KubeplanError(Exception):
    """Base of every error kubeplan raises on purpose.

    ``problem`` names what is wrong, ``fix`` says what the user can do about it.
    """

    exit_code = 1

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem} Fix: {fix}")


class ConfigError(KubeplanError):
    """A setting is invalid or contradicts another one."""

    exit_code = 2


class InputError(KubeplanError):
    """A path, file, question or profile given by the user cannot be used."""

    exit_code = 2


class CorpusError(InputError):
    """A knowledge-base document or its front matter is invalid."""


class ModelMissingError(KubeplanError):
    """The embedding model (or its package) is not installed."""


class StoreError(KubeplanError):
    """The vector store cannot be reached or is in an unusable state."""


class StoreUnavailableError(StoreError):
    """A Chroma server is not reachable at the configured URL."""


class StoreLockedError(StoreError):
    """Another process is writing the same embedded store."""


class StoreDamagedError(StoreError):
    """The store's own files are unreadable (empty or corrupt database, broken pointer)."""


class CollectionNotFoundError(StoreError):
    """The collection asked for does not exist (nothing was ingested into it)."""


class AnswerTimeoutError(KubeplanError):
    """Answering a question took longer than its time budget."""


class BackendError(KubeplanError):
    """An answer backend cannot be used (unknown name, missing key, server down)."""


class BackendUnavailableError(BackendError):
    """An LLM backend lacks its provider package, key or server."""


__all__ = [
    "AnswerTimeoutError",
    "BackendError",
    "BackendUnavailableError",
    "CollectionNotFoundError",
    "ConfigError",
    "CorpusError",
    "InputError",
    "KubeplanError",
    "ModelMissingError",
    "StoreDamagedError",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
]
