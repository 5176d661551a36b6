"""Earned abstention: whether the knowledge base can answer a question at all.

A small multinomial logistic model over features that carry meaning, not phrases:

- ``card``/``card_spread``: MiniLM cosine of the question with its best decision card, and
  how far that card stands out from the tenth best (a real planning question has a card
  that fits; a look-alike is equally far from all);
- ``passage``: the best dense cosine among the retrieved passages;
- ``off_topic``/``private``/``live``: the best cosine with each prototype
  class (``prompts/prototypes.yaml``) minus the best card's;
- ``unknown_share``: the share of the question's content words the knowledge base never
  uses (the BM25 vocabulary of the store and the cards, typos forgiven);
- ``unknown_names``: names of the question (capitalised, CamelCase, versioned) the
  knowledge base never uses; ``unknown_coined``: those of them shaped like a coined product
  or feature name or a model code (an inner capital as in ``KubeWidget``, letters and digits
  run together as in ``XR42``), not a plain proper noun (a place, a weekday) or an acronym;
- ``infra_share``: the share of content words from the infrastructure vocabulary
  (``prompts/scope.yaml``).

Harmful intent is not this model's job: the fitted margin over the ``harmful`` prototypes
(``weights.json``) refuses it, and the fit leaves the dev cases tagged ``harmful`` out. With
five such cases the model learnt to refuse short security questions ("what protects our
clusters from ransomware?") that sit near the harmful exemplars.

The card model's probability is left out on purpose: with it the dev fit declined fewer
questions at zero false refusals (cross-validated), and without it a refit of
``weights.json`` does not move this model.

Classes: ``answered``, ``insufficient_evidence``, ``out_of_scope``. A question declines
when P(answered) falls below the fitted ``threshold``, with the more probable decline
class. Parameters live in ``abstain.json``, written by
``python -m assistant.evaluation.fit_abstain`` on the dev split; this module only applies
them (pure functions, numpy imported lazily).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from assistant.retrieval.cards import CardIndex
from assistant.retrieval.passages import Passage
from assistant.understanding.aspects import content
from assistant.understanding.scope import infrastructure_terms

FEATURES: tuple[str, ...] = (
    "card",
    "card_spread",
    "passage",
    "off_topic",
    "private",
    "live",
    "unknown_share",
    "unknown_names",
    "unknown_coined",
    "infra_share",
)
CLASSES: tuple[str, ...] = ("answered", "insufficient_evidence", "out_of_scope")
PROTOTYPE_CLASSES = ("off_topic", "private", "live")

Status = Literal["insufficient_evidence", "out_of_scope"]


def features(
    question: str,
    query_vector: Any,
    cards: CardIndex,
    passages: Sequence[Passage],
    prototypes: dict[str, float],
    unknown: Sequence[str],
    known: Callable[[str], bool],
) -> dict[str, float]:
    """The model's inputs for one question (see the module docstring)."""
    import numpy as np

    dense = np.sort(np.asarray(cards.dense(query_vector), dtype=np.float64))[::-1]
    best = float(dense[0]) if len(dense) else 0.0
    tenth = float(dense[min(9, len(dense) - 1)]) if len(dense) else 0.0
    words = content(question)
    infra = set(infrastructure_terms(question))
    out = {
        "card": best,
        "card_spread": best - tenth,
        "passage": max((x.dense for x in passages if x.dense is not None), default=0.0),
        "unknown_share": sum(1 for w in words if not known(w)) / len(words) if words else 0.0,
        "unknown_names": float(min(len(unknown), 2)),
        "unknown_coined": float(min(sum(1 for u in unknown if coined(u)), 2)),
        "infra_share": len(words & infra) / len(words) if words else 0.0,
    }
    for name in PROTOTYPE_CLASSES:
        # A class without exemplars is as far as it can be.
        out[name] = prototypes.get(name, -1.0) - prototypes.get("cards", best)
    return {k: out[k] for k in FEATURES}


_INNER_CAPITAL = re.compile(r"[a-z][A-Z]")
#: A model code: letters then two digits or more (XR42), or a digit then a lower-case
#: letter (bx2.4x16); not an acronym with one digit (B2B) nor a region (us-east-1).
_CODE = re.compile(r"[A-Za-z]\d{2,}|\d[a-z]")


def coined(name: str) -> bool:
    """Shaped like a made-up product/feature name or a model code rather than a word."""
    return bool(_INNER_CAPITAL.search(name)) or (
        "-" not in name and bool(_CODE.search(name))
    )


@dataclass(frozen=True)
class AbstainModel:
    """Standardised features -> softmax over ``CLASSES``; decline below ``threshold``."""

    features: tuple[str, ...]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    #: One row per feature, one column per class.
    coef: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]
    threshold: float
    #: The embedding model the cosine features were fitted with.
    embedder: str = ""

    def probabilities(self, values: dict[str, float]) -> dict[str, float]:
        z = list(self.bias)
        for i, name in enumerate(self.features):
            x = (values.get(name, 0.0) - self.mean[i]) / self.scale[i]
            for j in range(len(z)):
                z[j] += x * self.coef[i][j]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return {c: v / total for c, v in zip(self.classes, e, strict=True)}

    def decide(self, values: dict[str, float]) -> tuple[Status, float] | None:
        """The decline class and P(answered), or ``None`` when the question is answered."""
        p = self.probabilities(values)
        if p["answered"] >= self.threshold:
            return None
        status: Status = ("out_of_scope" if p["out_of_scope"] > p["insufficient_evidence"]
                          else "insufficient_evidence")
        return status, p["answered"]


def model_from(data: dict[str, Any]) -> AbstainModel:
    return AbstainModel(
        features=tuple(data["features"]),
        classes=tuple(data["classes"]),
        mean=tuple(float(v) for v in data["mean"]),
        scale=tuple(float(v) for v in data["scale"]),
        coef=tuple(tuple(float(v) for v in row) for row in data["coef"]),
        bias=tuple(float(v) for v in data["bias"]),
        threshold=float(data["threshold"]),
        embedder=str(data.get("embedder", "")),
    )


def abstain_path() -> Any:
    return resources.files("assistant.generation").joinpath("abstain.json")


@cache
def load_abstain() -> AbstainModel:
    return model_from(json.loads(abstain_path().read_text(encoding="utf-8")))
