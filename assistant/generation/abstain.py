"""Earned abstention: whether the knowledge base can answer a question at all.

A small multinomial logistic model over features that carry meaning, not phrases:

- ``card``/``card_spread``: MiniLM cosine of the question with its best decision card, and
  how far that card stands out from the tenth best (a real planning question has a card
  that fits; a look-alike is equally far from all);
- ``passage``: the best dense cosine among the retrieved passages;
- ``off_topic``/``private``/``live``: the mean cosine of the question with the
  ``NEIGHBOURS`` nearest exemplars of each prototype class (``prompts/prototypes.yaml``)
  minus the best card's; a vote of several exemplars moves less with the wording than the
  single nearest one;
- ``p_private``/``p_live``/``p_off_topic``: what the question asks for, read by the
  *prototype classifier*: a softmax over the embedding, fitted (``fit_abstain``) to tell
  the cards' own texts and phrasings (answerable planning choices) from the exemplars of
  each prototype class (the user's own records, facts only a vendor or the moment knows,
  other subjects, harmful intent). It is fitted on those data files, never on eval cases;
- ``ground_gap``: the grounding check: the IDF-weighted share of the question's content
  words (misspellings mapped to the knowledge base's word first) that neither the
  retrieved passages nor the cards the engine would recommend use. A named thing found
  nowhere weighs most;
- ``unknown_share``: the share of the question's content words the knowledge base never
  uses (the BM25 vocabulary of the store and the cards, typos forgiven);
- ``unknown_names``: names of the question (capitalised, CamelCase, versioned) the
  knowledge base never uses; ``unknown_coined``: those of them shaped like a coined product
  or feature name or a model code (an inner capital as in ``KubeWidget``, letters and digits
  run together as in ``XR42``), not a plain proper noun (a place, a weekday) or an acronym;
- ``infra_share``: the share of content words from the infrastructure vocabulary
  (``prompts/scope.yaml``).

Harmful intent is not the softmax model's job: the fitted margin over the ``harmful``
prototypes (``weights.json``) or the prototype classifier's P(harmful) at or above its
fitted ``harmful_threshold`` (the highest any answerable dev question reached, plus a
slack) refuses it, and the fit leaves the dev cases tagged ``harmful`` out. With five such
cases the model learnt to refuse short security questions ("what protects our clusters
from ransomware?") that sit near the harmful exemplars.

The card model's probability is left out on purpose: with it the dev fit declined fewer
questions at zero false refusals (cross-validated), and without it a refit of
``weights.json`` does not move this model.

Classes: ``answered``, ``insufficient_evidence``, ``out_of_scope``. A question declines
when P(answered) falls below the fitted ``threshold``, with the more probable decline
class. Parameters live in ``abstain.json``, written by
``python -m assistant.evaluation.fit_abstain`` on the dev split; this module only applies
them (pure functions, numpy imported lazily). The ``abstention-meaning`` ablation sets the
classifier and grounding features (``MEANING``) to their dev mean, so they say nothing,
and turns the classifier's harmful check off.
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

from assistant.index.keyword import tokenize
from assistant.retrieval.cards import CardIndex, nearest_word
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
    "p_private",
    "p_live",
    "p_off_topic",
    "ground_gap",
)
#: The features the ``abstention-meaning`` ablation silences.
MEANING: tuple[str, ...] = ("p_private", "p_live", "p_off_topic", "ground_gap")
#: Exemplars per prototype class whose cosines are averaged.
NEIGHBOURS = 3
#: Retrieved passages and recommended cards whose words ground a question.
GROUNDING_PASSAGES = 5
GROUNDING_CARDS = 3
CLASSES: tuple[str, ...] = ("answered", "insufficient_evidence", "out_of_scope")
PROTOTYPE_CLASSES = ("off_topic", "private", "live")

Status = Literal["insufficient_evidence", "out_of_scope"]


@dataclass(frozen=True)
class PrototypeClassifier:
    """Softmax over a query embedding: ``answered`` (the cards' own texts) or a prototype
    class. Fitted by ``fit_abstain.fit_prototype_classifier``."""

    classes: tuple[str, ...]
    #: One row per embedding dimension, one column per class.
    coef: Any
    bias: Any

    def probabilities(self, vector: Any) -> dict[str, float]:
        import numpy as np

        z = np.asarray(vector, dtype=np.float64) @ self.coef + self.bias
        e = np.exp(z - z.max())
        return {c: float(v) for c, v in zip(self.classes, e / e.sum(), strict=True)}


def grounding_gap(
    question: str,
    cards: CardIndex,
    passages: Sequence[Passage],
    recommended: Sequence[str],
) -> float:
    """IDF-weighted share of the question's content words that the top retrieved passages
    and the recommended cards never use; misspellings count as the word they misspell."""
    words = {nearest_word(w, cards.vocabulary) or w for w in content(question)}
    if not words:
        return 0.0
    covered: set[str] = set()
    for p in passages[:GROUNDING_PASSAGES]:
        covered.update(tokenize(p.chunk.text))
    for decision_id in recommended[:GROUNDING_CARDS]:
        covered |= cards.card_terms(decision_id)
    total = len(cards.ids)
    weight = {w: math.log((total + 1) / (cards.card_frequency(w) + 1)) + 1e-6 for w in words}
    return sum(weight[w] for w in words if w not in covered) / sum(weight.values())


def features(
    question: str,
    query_vector: Any,
    cards: CardIndex,
    passages: Sequence[Passage],
    prototype_vector: Any,
    unknown: Sequence[str],
    known: Callable[[str], bool],
    recommended: Sequence[str] = (),
    classifier: PrototypeClassifier | None = None,
) -> dict[str, float]:
    """The model's inputs for one question (see the module docstring).
    ``prototype_vector`` embeds the whole question (negated stretches included: "without
    anyone noticing" is intent), ``query_vector`` what cards are matched against."""
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
        "ground_gap": grounding_gap(question, cards, passages, recommended),
    }
    near = cards.prototype_neighbours(prototype_vector, NEIGHBOURS)
    best_proto = float(np.max(np.asarray(cards.dense(prototype_vector)))) if len(dense) else 0.0
    for name in PROTOTYPE_CLASSES:
        # A class without exemplars is as far as it can be.
        out[name] = near.get(name, -1.0) - best_proto
    p = classifier.probabilities(prototype_vector) if classifier is not None else {}
    for name in PROTOTYPE_CLASSES:
        out[f"p_{name}"] = p.get(name, 0.0)
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
    classifier: PrototypeClassifier | None = None
    #: P(harmful) of the prototype classifier at or above which a question is refused.
    harmful_threshold: float = 1.01

    def probabilities(
        self, values: dict[str, float], neutral: Sequence[str] = ()
    ) -> dict[str, float]:
        """P(class); the features in ``neutral`` are taken at their dev mean."""
        z = list(self.bias)
        for i, name in enumerate(self.features):
            if name in neutral:
                continue
            x = (values.get(name, 0.0) - self.mean[i]) / self.scale[i]
            for j in range(len(z)):
                z[j] += x * self.coef[i][j]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return {c: v / total for c, v in zip(self.classes, e, strict=True)}

    def decide(
        self, values: dict[str, float], neutral: Sequence[str] = ()
    ) -> tuple[Status, float] | None:
        """The decline class and P(answered), or ``None`` when the question is answered."""
        p = self.probabilities(values, neutral)
        if p["answered"] >= self.threshold:
            return None
        status: Status = ("out_of_scope" if p["out_of_scope"] > p["insufficient_evidence"]
                          else "insufficient_evidence")
        return status, p["answered"]


def classifier_from(data: dict[str, Any] | None) -> PrototypeClassifier | None:
    if not data:
        return None
    import numpy as np

    return PrototypeClassifier(
        classes=tuple(data["classes"]),
        coef=np.asarray(data["coef"], dtype=np.float64),
        bias=np.asarray(data["bias"], dtype=np.float64),
    )


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
        classifier=classifier_from(data.get("prototype_classifier")),
        harmful_threshold=float(data.get("harmful_threshold", 1.01)),
    )


def asks_for_own_records(model: AbstainModel, vector: Any, embedder: str) -> bool:
    """Whether the prototype classifier reads the question as asking for the user's own
    records (bills, incidents, current state): ``private`` holds most of the probability
    (a mere plurality let "print every document in your corpus" through).
    Such a question, refused as off-topic before the engine for lack of infrastructure
    words, is a gap of the knowledge base, not a foreign subject."""
    if model.classifier is None or model.embedder != embedder:
        return False
    return model.classifier.probabilities(vector).get("private", 0.0) > 0.5


def abstain_path() -> Any:
    return resources.files("assistant.generation").joinpath("abstain.json")


@cache
def load_abstain() -> AbstainModel:
    return model_from(json.loads(abstain_path().read_text(encoding="utf-8")))
