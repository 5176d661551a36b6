"""kubeplan: a Kubernetes architecture planning assistant.

The public surface is small and re-exported here: ``Assistant``, ``Settings``, the
answer models, the error hierarchy, and the test doubles (``FakeEmbedder``, and
``ChromaStore.ephemeral()`` with ``counting_calls()``).
"""

from assistant.chain.answer_stream import (
    CardEvent,
    DoneEvent,
    PlanEvent,
    RetrievedEvent,
    SourcesEvent,
    SummaryEvent,
    TokenEvent,
)
from assistant.chain.api import Assistant
from assistant.config import Settings, load_settings
from assistant.errors import (
    BackendError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigError,
    CorpusError,
    InputError,
    KubeplanError,
    ModelMissingError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
)
from assistant.index.embedding import FakeEmbedder
from assistant.index.store import ChromaStore
from assistant.schemas import (
    AnswerEvent,
    Chunk,
    CollectionStats,
    Decision,
    IngestReport,
    PlanAnswer,
    PlanningProfile,
    ProfileChange,
    Recommendation,
    Source,
    Turn,
)
from assistant.version import __version__

__all__ = [
    "AnswerEvent",
    "Assistant",
    "BackendError",
    "BackendUnavailableError",
    "CardEvent",
    "ChromaStore",
    "Chunk",
    "CollectionNotFoundError",
    "CollectionStats",
    "ConfigError",
    "CorpusError",
    "Decision",
    "DoneEvent",
    "FakeEmbedder",
    "IngestReport",
    "InputError",
    "KubeplanError",
    "ModelMissingError",
    "PlanAnswer",
    "PlanEvent",
    "PlanningProfile",
    "ProfileChange",
    "Recommendation",
    "RetrievedEvent",
    "Settings",
    "Source",
    "SourcesEvent",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "SummaryEvent",
    "TokenEvent",
    "Turn",
    "__version__",
    "load_settings",
]
