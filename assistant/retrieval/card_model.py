"""A card model learned from the catalogue's own text: which card a question asks for.

Cosine with one card text, title or phrasing is a weak matcher over 185 cards: a question
shares few words with any single text of its card. Every card has many texts, though:
its ``asked_as`` phrasings, title, recommendation, ``when``/``avoid_when`` items,
trade-offs and the sentences of the corpus section that explains it. Those pseudo-queries
(label = the card) train a softmax classifier over the embeddings:

    logit_j(q) = tau * (q . c_j) + q . V_j + b_j

``c_j`` is the card's centroid (the mean of its texts' unit vectors, normalised), so with
``V = 0`` the model is plain nearest-centroid cosine; ``V`` (dim x cards) learns what
separates cards that read alike, pulled to zero by an L2 penalty. The penalty is chosen by
holding out every card's ``asked_as`` phrasings (the texts most like real questions) and
predicting them from the rest. Nothing here reads an eval case. Pure numpy/scipy on
arrays; embedding and caching live in ``cards.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.ingest.catalogue import Catalogue
from assistant.schemas import Decision

#: Bump when the training texts or the model change, so cached fits are not reused.
MODEL_VERSION = "1"
#: The penalty on ``V`` fitted at build time: the best of ``L2_GRID`` at predicting the
#: held-out ``asked_as`` phrasings (``python -m assistant.retrieval.card_model`` prints the table).
L2 = 0.0001
#: Smaller penalties keep gaining a little (mean log-probability -1.206 at 3e-5 against
#: -1.228 at 1e-4) but L-BFGS then needs twice the iterations: the grid stops at 1e-4.
L2_GRID: tuple[float, ...] = (0.0001, 0.0003, 0.001, 0.003)
#: Kinds of training text; ``asked`` is what the penalty check holds out.
KINDS: tuple[str, ...] = ("asked", "title", "recommendation", "when", "avoid", "tradeoff",
                          "section")
#: A ``when``/``avoid_when`` item shorter than this says too little alone ("AWS").
MIN_CONDITION_WORDS = 3

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class TrainingText:
    text: str
    card: int
    kind: str


def section_texts(catalogue: Catalogue) -> dict[str, str]:
    """Per card, the corpus text under the heading that carries its title (and that
    heading's subsections): the section the chunker marks as the card's own."""
    out: dict[str, list[str]] = {}
    for doc in catalogue.documents.values():
        titles = {d.title: d.id for d in doc.meta.decisions}
        stack: list[tuple[int, str]] = []
        for line in doc.body.splitlines():
            m = _HEADING.match(line)
            if m:
                level = len(m.group(1))
                stack = [(lv, h) for lv, h in stack if lv < level] + [(level, m.group(2))]
                continue
            owner = next((titles[h] for _, h in reversed(stack) if h in titles), None)
            if owner is not None:
                out.setdefault(owner, []).append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def training_texts(
    catalogue: Catalogue, decisions: Sequence[Decision], split: Any
) -> list[TrainingText]:
    """The pseudo-queries of every card, deduplicated per card. ``split`` cuts a section
    into sentences (``cards.sentences``, passed in so this module stays below cards)."""
    sections = section_texts(catalogue)
    out: list[TrainingText] = []
    for j, d in enumerate(decisions):
        items: list[tuple[str, str]] = [(p, "asked") for p in d.asked_as]
        items += [(d.title, "title"), (d.recommendation, "recommendation")]
        items += [(w, "when") for w in d.when if len(w.split()) >= MIN_CONDITION_WORDS]
        items += [(w, "avoid") for w in d.avoid_when if len(w.split()) >= MIN_CONDITION_WORDS]
        items += [(t, "tradeoff") for t in d.tradeoffs]
        for paragraph in sections.get(d.id, "").split("\n\n"):
            items += [(s, "section") for s in split(paragraph)]
        seen: set[str] = set()
        for text, kind in items:
            key = text.strip().lower()
            if key and key not in seen:
                seen.add(key)
                out.append(TrainingText(text.strip(), j, kind))
    return out


@dataclass(frozen=True)
class CardModel:
    """Fitted parameters: ``centroids`` [cards, dim], ``adapter`` [dim, cards],
    ``bias`` [cards], ``tau`` and the penalty it was fitted with."""

    centroids: Any
    adapter: Any
    bias: Any
    tau: float
    l2: float

    def logits(self, query_vector: Any) -> Any:
        import numpy as np

        q = np.asarray(query_vector, dtype=np.float32)
        return self.tau * (self.centroids @ q) + q @ self.adapter + self.bias

    def log_proba(self, query_vector: Any) -> Any:
        """Log-probability of every card given one (unit) query vector."""
        import numpy as np

        z = self.logits(query_vector).astype(np.float64)
        z -= z.max()
        return z - np.log(np.exp(z).sum())

    def arrays(self) -> dict[str, Any]:
        import numpy as np

        return {"centroids": self.centroids, "adapter": self.adapter, "bias": self.bias,
                "tau": np.asarray([self.tau, self.l2])}

    @classmethod
    def from_arrays(cls, data: Any) -> CardModel:
        tau, l2 = (float(v) for v in data["tau"])
        return cls(data["centroids"], data["adapter"], data["bias"], tau, l2)


def centroids(x: Any, y: Any, n_cards: int) -> Any:
    import numpy as np

    c = np.zeros((n_cards, x.shape[1]), dtype=np.float64)
    np.add.at(c, y, x)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    return c / np.where(norms > 0, norms, 1.0)


def fit(x: Any, y: Any, n_cards: int, l2: float, init: Any = None,
        max_iter: int = 300) -> CardModel:
    """Softmax regression (mean log-loss + l2/2 |V|^2, ``tau`` and ``b`` unpenalised) by
    L-BFGS from ``V = 0``: deterministic for the same rows."""
    import numpy as np
    from scipy.optimize import minimize

    # The two big products run in float32 (half the time); sums and the optimiser's
    # state stay float64.
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    n, dim = x.shape
    c = centroids(x.astype(np.float64), y, n_cards)
    s = x.astype(np.float64) @ c.T  # cosine with each centroid, fixed
    onehot = np.zeros((n, n_cards))
    onehot[np.arange(n), y] = 1.0
    size = dim * n_cards

    def loss(theta: Any) -> tuple[float, Any]:
        v = theta[:size].reshape(dim, n_cards)
        b = theta[size:size + n_cards]
        tau = theta[-1]
        z = tau * s + (x @ v.astype(np.float32)) + b
        z -= z.max(axis=1, keepdims=True)
        ez = np.exp(z)
        total = ez.sum(axis=1, keepdims=True)
        logp = z - np.log(total)
        value = -float(np.sum(logp[np.arange(n), y])) / n + 0.5 * l2 * float(np.sum(v * v))
        r = (ez / total - onehot) / n
        grad_v = (x.T @ r.astype(np.float32)).astype(np.float64) + l2 * v
        grad_b = r.sum(axis=0)
        grad_tau = float(np.sum(r * s))
        return value, np.concatenate([grad_v.ravel(), grad_b, [grad_tau]])

    theta0 = np.zeros(size + n_cards + 1) if init is None else np.asarray(init)
    if init is None:
        theta0[-1] = 10.0  # a cosine gap of 0.1 is a factor e between two cards
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "gtol": 1e-6})
    theta = result.x
    return CardModel(
        centroids=c.astype(np.float32),
        adapter=theta[:size].reshape(dim, n_cards).astype(np.float32),
        bias=theta[size:size + n_cards].astype(np.float32),
        tau=float(theta[-1]),
        l2=l2,
    )


def held_out_log_proba(x: Any, y: Any, kinds: Sequence[str], n_cards: int,
                       l2: float) -> tuple[Any, Any]:
    """Per held-out ``asked`` text: the log-probability of its card and the card's rank
    (0 = first) under the model fitted on every other text."""
    import numpy as np

    held = np.asarray([k == "asked" for k in kinds])
    if not held.any() or held.all():
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    model = fit(x[~held], y[~held], n_cards, l2)
    logp = np.stack([model.log_proba(q) for q in x[held]])
    right = logp[np.arange(len(logp)), y[held]]
    return right, (logp > right[:, None]).sum(axis=1)


def choose_l2(scores: dict[float, float]) -> float:
    """The penalty with the best held-out score (ties: the stronger penalty)."""
    return max(sorted(scores, reverse=True), key=lambda l2: scores[l2])
