"""kubeplan: a Kubernetes architecture planning assistant.

The public surface is small and re-exported here: ``Assistant``, ``Settings``, the
answer models, the error hierarchy, and the test doubles (``FakeEmbedder``).
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

__version__ = "0.1.0"

__all__ = [
    "AnswerEvent",
    "Assistant",
    "BackendError",
    "BackendUnavailableError",
    "CardEvent",
    "Chunk",
    "CollectionNotFoundError",
    "CollectionStats",
    "ConfigError",
    "CorpusError",
    "Decision",
    "DoneEvent",
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
    "load_settings",
]
