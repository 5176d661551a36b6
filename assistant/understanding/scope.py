"""Is a question kubeplan's business? Prompt injection and off-topic detection.

The patterns and the infrastructure vocabulary are data
(``assistant/generation/prompts/scope.yaml``); this module only applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from assistant.index.keyword import stem, tokenize

#: Below this best dense similarity, a question without infrastructure words is off-topic.
WEAK_RETRIEVAL = 0.35


@dataclass(frozen=True)
class ScopeRules:
    injection: tuple[re.Pattern[str], ...]
    vocabulary: frozenset[str]
    #: Instruction-like text in documents (question patterns plus document-only ones).
    document_injection: tuple[re.Pattern[str], ...] = ()


@cache
def scope_rules() -> ScopeRules:
    text = resources.files("assistant.generation").joinpath("prompts/scope.yaml").read_text(
        encoding="utf-8"
    )
    data = yaml.safe_load(text)
    patterns = tuple(re.compile(p, re.IGNORECASE) for p in data["injection"])
    words = frozenset(stem(w) for w in str(data["vocabulary"]).lower().split())
    document = tuple(
        re.compile(p, re.IGNORECASE | re.MULTILINE)
        for p in data.get("document_injection") or []
    )
    return ScopeRules(injection=patterns, vocabulary=words, document_injection=document)


def is_injection(text: str) -> bool:
    """Attempts to change kubeplan's instructions or to make it reveal its prompt."""
    return any(p.search(text) for p in scope_rules().injection)


def infrastructure_terms(text: str) -> list[str]:
    """The question's words that belong to the infrastructure vocabulary."""
    vocab = scope_rules().vocabulary
    tokens = tokenize(text, keep_stopwords=True)
    found = [t for t in tokens if t in vocab]
    # Hyphenated terms ("air-gapped", "on-prem") are single vocabulary entries.
    lowered = text.lower()
    found += [w for w in vocab if "-" in w and w in lowered]
    return list(dict.fromkeys(found))


def is_off_topic(text: str, best_similarity: float | None) -> bool:
    """No infrastructure vocabulary and nothing in the knowledge base close to it."""
    if infrastructure_terms(text):
        return False
    return best_similarity is None or best_similarity < WEAK_RETRIEVAL


SCOPE_SUMMARY = (
    "kubeplan answers questions about planning and running Kubernetes infrastructure: "
    "managed or self-managed clusters, capacity and sizing, hosting, node pools (Windows, "
    "GPU, Arm), edge clusters, runtimes and registries, secrets, availability, tenancy, "
    "multi-cluster, networking and ingress, access and identity, configuration and GitOps, "
    "observability, security and workloads."
)
