"""kubeplan: a Kubernetes architecture planning assistant.

The public surface is small and re-exported here: ``Assistant``, ``Settings``, the
answer models, the error hierarchy, and the test doubles (``FakeEmbedder``).
"""

from .api import Assistant
from .config import Settings, load_settings
from .errors import (
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
from .schemas import (
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
    "Chunk",
    "CollectionNotFoundError",
    "CollectionStats",
    "ConfigError",
    "CorpusError",
    "Decision",
    "IngestReport",
    "InputError",
    "KubeplanError",
    "ModelMissingError",
    "PlanAnswer",
    "PlanningProfile",
    "ProfileChange",
    "Recommendation",
    "Settings",
    "Source",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "Turn",
    "load_settings",
]
