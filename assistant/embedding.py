"""Embedding backends behind the small ``Embedder`` protocol.

(Contract, written first: the ingestion work implements ``SentenceTransformerEmbedder``
and ``make_embedder``; ``FakeEmbedder`` is public API for tests.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of a fixed dimension."""

    @property
    def name(self) -> str:
        """Identifies the model; stored with the collection so mixing models is caught."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Most tokens (special tokens excluded) the model reads before truncating."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own tokenizer, special tokens excluded."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...
