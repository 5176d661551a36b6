"""Fit the decision engine's weights on the development split and write ``weights.json``.

    python -m assistant.evaluation.fit [--cases evals/cases.yaml] [--suites evals/suites]

Needs the bundled corpus ingested (``kubeplan ingest``) in ``KUBEPLAN_DATA_DIR``. Every
dev case is analysed once; each candidate decision becomes one row (label 1 when it is in
one of the case's ``must`` groups). A logistic regression with an L2 penalty is fitted
by L-BFGS on the log-loss; then the selection thresholds, the confidence cut points and
the abstention margins are chosen on the same cases by grid search. The feature matrix
is saved beside the weights (``fit_data.npz``) so ``tests`` can refit and compare.
Never point it at ``evals/heldout``: that split judges the result.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assistant.generation import GenerationRequest
from assistant.generation.engine import Analysis, analyse, select
from assistant.generation.scoring import AGAINST, DEPENDENCE, FEATURES, Weights
from assistant.ingest.catalogue import Catalogue
from assistant.schemas import AnswerEvent, PlanAnswer, PlanningProfile, Turn

L2 = 1.0
#: Weight of a row whose card the case lists under ``must_not`` (5.0 was tried with the
#: negation features: dev negation passes fell from 18 to 17 of 26).
MUST_NOT_WEIGHT = 1.0
# The fitted files live beside the engine that reads them.
#: Candidate floors for an asking aspect's own best card (``aspect_floor``), lowest first.
ASPECT_FLOORS: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 1.01)
HERE = Path(__file__).resolve().parent.parent / "generation"
#: Candidate values of ``negated_rank_max`` (engine.ruled_out_by_user): how near to what
#: the user negated a refuted card must be to be left out; 0 switches the rule off.
NEGATED_RANKS: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 5.0)
def negation_frames() -> tuple[str, ...]:
    """How the training-only augmentation says a situation does not hold (one frame per
    case, in turn): data, ``vocabularies/negation_frames.yaml``."""
    from importlib import resources

    raw = resources.files("assistant").joinpath("vocabularies/negation_frames.yaml")
    frames = yaml.safe_load(raw.read_text(encoding="utf-8"))["frames"]
    return tuple(str(f) for f in frames)


#: Weight of an augmentation row against a dev row.
AUGMENT_WEIGHT = 1.0


@dataclass
class DevCase:
    id: str
    question: str
    history: list[Turn]
    profile: PlanningProfile | None
    status: str
    must: list[list[str]]
    must_not: list[str]
    tags: tuple[str, ...] = ()


def read_cases(paths: Sequence[Path]) -> list[DevCase]:
    out: list[DevCase] = []
    for path in paths:
        if "heldout" in path.parts:
            raise SystemExit(f"refusing to fit on held-out data: {path}")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("cases", data if isinstance(data, list) else []):
            out.append(DevCase(
                id=str(item["id"]),
                question=str(item["question"]),
                history=[Turn.model_validate(t) for t in item.get("history") or []],
                profile=PlanningProfile.model_validate(item["profile"])
                if item.get("profile") else None,
                status=str(item.get("expect_status", "answered")),
                must=[list(g) for g in item.get("must") or []],
                must_not=list(item.get("must_not") or []),
                tags=tuple(str(t) for t in item.get("tags") or ()),
            ))
    return out


def negation_augmentation(
    catalogue: Catalogue, embed: Callable[[Sequence[str]], Any]
) -> list[DevCase]:
    """Training-only cases made from the catalogue itself, for the features that measure
    how much a card's match depends on what the user negated (``scoring.DEPENDENCE``):
    for each card B and each alternative A of it, "We have no <B's situation>. <one of
    A's ``asked_as``>" wants A and rules B out. B's situation is the item of its ``when``
    that A's does not name and that is nearest in meaning (``embed``: texts to
    L2-normalised vectors) to B's title: the situation the card is for. Dev has few
    negation cases; these teach that a card matched through a negated situation is the
    wrong one. Never made from evaluation cases."""
    import re

    import numpy as np

    out: list[DevCase] = []
    frames = negation_frames()
    decisions = catalogue.by_topic()
    for b in decisions:
        for a_id in b.alternatives:
            a = catalogue.get(a_id)
            if a is None or not a.asked_as:
                continue
            theirs = {w.lower() for w in a.when}
            own = [w for w in b.when if w.lower() not in theirs]
            if not own:
                continue
            n = len(out)
            vectors = np.asarray(embed([b.title, *own]), dtype=np.float64)
            nearest = own[int(np.argmax(vectors[1:] @ vectors[0]))]
            situation = re.sub(r"\s*\(.*?\)?$", "", nearest).strip()
            frame = frames[n % len(frames)]
            said = frame.format(situation)
            question = f"{said[0].upper()}{said[1:]} {a.asked_as[n % len(a.asked_as)]}"
            out.append(DevCase(id=f"augment-{b.id}-{a.id}", question=question, history=[],
                               profile=None, status="answered", must=[[a.id]],
                               must_not=[b.id], tags=("augmentation",)))
    return out


def fit_dependence(
    x: Any, y: Any, offset: Any, sample_weight: Any, l2: float = L2
) -> Any:
    """Coefficients (each ≤ 0) of the columns ``x`` added to a fixed ``offset`` (the
    first fit's log-odds without them), minimising row-weighted log-loss + l2/2n·|w|²."""
    import numpy as np
    from scipy.optimize import minimize

    n, k = x.shape
    if n == 0:
        return np.zeros(k)

    def loss(w: Any) -> tuple[float, Any]:
        z = offset + x @ w
        value = (float(np.sum(sample_weight * (np.logaddexp(0.0, z) - y * z))) / n
                 + l2 / (2 * n) * float(w @ w))
        r = sample_weight * (1.0 / (1.0 + np.exp(-z)) - y)
        return value, x.T @ r / n + l2 / n * w

    result = minimize(loss, np.zeros(k), jac=True, method="L-BFGS-B",
                      bounds=[(None, 0.0)] * k, options={"maxiter": 2000, "gtol": 1e-9})
    return result.x


def refit_dependence(
    coef: Any, bias: float, x: Any, y: Any, sw: Any, xa: Any, ya: Any, swa: Any
) -> Any:
    """``coef`` with the dependence features (``scoring.DEPENDENCE``) refitted on the dev
    rows plus the augmentation rows (``xa``, weighted ``AUGMENT_WEIGHT``), every other
    coefficient and the bias held."""
    import numpy as np

    x_all = np.vstack([x, xa]) if len(ya) else x
    y_all = np.concatenate([y, ya])
    sw_all = np.concatenate([sw, AUGMENT_WEIGHT * swa])
    cols = [FEATURES.index(f) for f in DEPENDENCE]
    rest = [i for i in range(len(FEATURES)) if i not in cols]
    out = np.array(coef, dtype=np.float64)
    offset = x_all[:, rest] @ out[rest] + bias
    out[cols] = fit_dependence(x_all[:, cols], y_all, offset, sw_all)
    return out


def fit_logistic(
    x: Any, y: Any, l2: float = L2, nonpositive: Sequence[int] = (),
    sample_weight: Any = None,
) -> tuple[Any, float]:
    """Coefficients and bias minimising mean (row-weighted) log-loss + l2/2n·|w|² (bias
    unpenalised); the coefficients at ``nonpositive`` are kept ≤ 0."""
    import numpy as np
    from scipy.optimize import minimize

    n, k = x.shape
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

    def loss(theta: Any) -> tuple[float, Any]:
        w, b = theta[:k], theta[k]
        z = x @ w + b
        # log(1+e^z) - y z, computed stably
        value = (float(np.sum(sw * (np.logaddexp(0.0, z) - y * z))) / n
                 + l2 / (2 * n) * float(w @ w))
        r = sw * (1.0 / (1.0 + np.exp(-z)) - y)
        grad_w = x.T @ r / n + l2 / n * w
        grad_b = float(np.sum(r)) / n
        return value, np.append(grad_w, grad_b)

    bounds = [(None, 0.0) if i in nonpositive else (None, None) for i in range(k + 1)]
    result = minimize(loss, np.zeros(k + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 2000, "gtol": 1e-9})
    return result.x[:k], float(result.x[k])


def feature_means(x: Any) -> dict[str, float]:
    """Each feature's mean over the fit's rows (``Weights.means``: the neutral value of a
    feature switched off by an ablation, ``scoring.NEUTRAL_WHEN_ABLATED``)."""
    return {f: round(float(v), 6) for f, v in zip(FEATURES, x.mean(axis=0), strict=True)}


def nonpositive_columns() -> list[int]:
    """Columns of the features that may only count against a card (``scoring.AGAINST``)."""
    return [FEATURES.index(f) for f in AGAINST]


class _Capture:
    """A backend that keeps the request instead of answering (fitting needs the
    engine's features, not the answer)."""

    name = "capture"

    def __init__(self) -> None:
        self.request: GenerationRequest | None = None

    def generate(self, request: GenerationRequest) -> PlanAnswer:
        self.request = request
        return PlanAnswer(question=request.question, status="insufficient_evidence",
                          summary="captured", profile=request.profile, backend=self.name)

    def stream(self, request: GenerationRequest) -> Iterator[AnswerEvent]:
        yield AnswerEvent(kind="answer", answer=self.generate(request))


def _passes(chosen_ids: set[str], case: DevCase) -> bool:
    return all(set(g) & chosen_ids for g in case.must) and not (chosen_ids & set(case.must_not))


def main(argv: Sequence[str] | None = None) -> None:
    import numpy as np

    from assistant.chain.api import Assistant

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, default=Path("evals/cases.yaml"))
    parser.add_argument("--suites", type=Path, default=Path("evals/suites"))
    parser.add_argument("--out", type=Path, default=HERE / "weights.json")
    args = parser.parse_args(argv)
    files = [args.cases] + (sorted(args.suites.glob("*.yaml")) if args.suites.is_dir() else [])
    cases = read_cases(files)
    assistant = Assistant()
    capture = _Capture()
    assistant._generators["capture"] = capture
    neutral = Weights(coef={}, bias=0.0, settings={}, embedder=assistant.embedder.name)

    def run(batch: Sequence[DevCase]) -> list[tuple[DevCase, Analysis | None,
                                                    GenerationRequest | None]]:
        found: list[tuple[DevCase, Analysis | None, GenerationRequest | None]] = []
        for case in batch:
            capture.request = None
            answer = assistant.ask(case.question, history=case.history or None,
                                   profile=case.profile, backend="capture")
            request = capture.request
            if request is None or answer.status == "out_of_scope":
                found.append((case, None, None))
                continue
            found.append((case, analyse(request, neutral), request))
        return found

    analysed = run(cases)
    x, y, sw = _rows(analysed)
    coef, bias = fit_logistic(x, y, nonpositive=nonpositive_columns(), sample_weight=sw)
    # The dependence features, refitted on dev plus the catalogue augmentation with every
    # other coefficient held: the augmentation speaks only to how much a match through a
    # negated stretch counts against the card.
    augmented = negation_augmentation(assistant.load_catalogue(),
                                      assistant.embedder.embed_documents)
    xa, ya, swa = _rows(run(augmented))
    coef = refit_dependence(coef, bias, x, y, sw, xa, ya, swa)
    print(f"augmentation: {len(augmented)} cases, {len(ya)} rows; dependence "
          + ", ".join(f"{f}={coef[FEATURES.index(f)]:.3f}" for f in DEPENDENCE))
    np.savez_compressed(args.out.with_name("fit_data.npz"), x=x, y=y, w=sw,
                        xa=xa, ya=ya, wa=swa)
    weights = Weights(coef=dict(zip(FEATURES, coef.tolist(), strict=True)), bias=bias,
                      settings={}, embedder=assistant.embedder.name)
    for _, analysis, _ in analysed:
        if analysis is not None:
            for cand in analysis.candidates:
                cand.probability = weights.probability(cand.features)
            ordered = sorted(analysis.candidates, key=lambda c: (-c.probability, c.decision.id))
            object.__setattr__(analysis, "candidates", tuple(ordered))
            pools = []
            for index, pool in analysis.aspect_pools:
                for cand in pool:
                    cand.probability = weights.probability(cand.features)
                pools.append((index, tuple(sorted(
                    pool, key=lambda c: (-c.probability, c.decision.id)))))
            object.__setattr__(analysis, "aspect_pools", tuple(pools))
    settings = tune(analysed, weights)
    payload = {
        "about": "Fitted by `python -m assistant.evaluation.fit` on the dev split "
                 "(evals/cases.yaml + evals/suites/*.yaml); do not edit by hand.",
        "cases": len(cases),
        "rows": len(y),
        "positives": int(y.sum()),
        "l2": L2,
        "must_not_weight": MUST_NOT_WEIGHT,
        "augmentation_cases": len(augmented),
        "augment_weight": AUGMENT_WEIGHT,
        "embedder": assistant.embedder.name,
        "features": list(FEATURES),
        "coef": {f: round(float(c), 6) for f, c in zip(FEATURES, coef, strict=True)},
        "bias": round(bias, 6),
        "means": feature_means(x),
        "settings": settings,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(payload, indent=2))


def _rows(
    analysed: Sequence[tuple[DevCase, Analysis | None, GenerationRequest | None]],
) -> tuple[Any, Any, Any]:
    """Features, labels (1: in a ``must`` group) and row weights of every candidate."""
    import numpy as np

    rows, labels, row_weights = [], [], []
    for case, analysis, _ in analysed:
        if analysis is None or case.status != "answered" or not case.must:
            continue
        wanted = {d for g in case.must for d in g}
        for cand in analysis.candidates:
            rows.append([cand.features[f] for f in FEATURES])
            labels.append(1.0 if cand.decision.id in wanted else 0.0)
            # A card the case names as wrong is a surer negative than one merely not named.
            row_weights.append(MUST_NOT_WEIGHT if cand.decision.id in case.must_not else 1.0)
    x = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    return x, np.asarray(labels, dtype=np.float64), np.asarray(row_weights, dtype=np.float64)


def tune(
    analysed: Sequence[tuple[DevCase, Analysis | None, GenerationRequest | None]],
    weights: Weights,
) -> dict[str, float]:
    """Selection thresholds by dev pass rate, then confidence cut points and abstention
    margins from what the chosen settings recommend."""
    best: tuple[float, dict[str, float]] | None = None
    answered = [(c, a, r) for c, a, r in analysed if a is not None and r is not None
                and c.status == "answered" and c.must]
    def key(s: dict[str, float]) -> float:
        w = Weights(weights.coef, weights.bias, s)
        passed = 0.0
        shown = 0
        for case, analysis, request in answered:
            assert analysis is not None and request is not None
            assert request.cards is not None
            ids = {c.decision.id for c, _ in select(analysis, request.cards, frozenset(), w)}
            passed += _passes(ids, case)
            shown += len(ids)
        # Among equal pass counts, the smaller plans (precision).
        return passed - shown / (100.0 * len(answered))

    for p_min in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5):
        for p_leader in (0.05, 0.1, 0.2, 0.3):
            for narrow in (1.0, 2.0, 3.0, 4.0):
                for base in (1.0, 2.0):
                    s = {"p_min": p_min, "p_leader": p_leader, "limit_narrow": narrow,
                         "limit_base": base, "limit_max": 8.0, "p_answer": 0.0,
                         "aspect_floor": ASPECT_FLOORS[0], "negated_rank_max": 0.0}
                    found = key(s)
                    if best is None or found > best[0]:
                        best = (found, s)
    assert best is not None
    # The floor an asking aspect's own best card must clear to get a slot, with the
    # other settings fixed: the one that meets the most dev cases' aspects, the higher
    # (fewer forced slots, precision) on ties. 1.01 switches the slots off.
    for floor in ASPECT_FLOORS:
        s = {**best[1], "aspect_floor": floor}
        found = key(s)
        if found > best[0] or (found == best[0] and floor > best[1]["aspect_floor"]):
            best = (found, s)
    # How near a refuted card must be to what the user negated to be left out, the
    # others fixed: the most dev passes, the smaller (fewer cards left out) on ties.
    for rank_max in NEGATED_RANKS:
        s = {**best[1], "negated_rank_max": rank_max}
        found = key(s)
        if found > best[0] or (found == best[0] and rank_max < best[1].get(
                "negated_rank_max", math.inf)):
            best = (found, s)
    settings = dict(best[1])
    print(f"selection: {settings} passes {int(best[0] + 1)}/{len(answered)}")
    settings.update(confidence_cuts(answered, Weights(weights.coef, weights.bias, settings)))
    settings.update(abstention(analysed, Weights(weights.coef, weights.bias, settings)))
    return settings


def confidence_cuts(
    answered: Sequence[tuple[DevCase, Analysis | None, GenerationRequest | None]],
    w: Weights,
    high_precision: float = 0.85,
    medium_precision: float = 0.5,
) -> dict[str, float]:
    """``high``: the lowest cut whose recommendations above it are right at least 85% of
    the time on dev; ``medium``: the lowest below it keeping 50% right in between."""
    recs: list[tuple[float, bool]] = []
    for case, analysis, request in answered:
        assert analysis is not None and request is not None and request.cards is not None
        wanted = {d for g in case.must for d in g}
        for cand, _ in select(analysis, request.cards, frozenset(), w):
            recs.append((cand.probability, cand.decision.id in wanted))
    grid = [i / 100 for i in range(5, 100)]

    def precision(lo: float, hi: float) -> float:
        inside = [ok for p, ok in recs if lo <= p < hi]
        return sum(inside) / len(inside) if len(inside) >= 5 else 0.0

    high = next((c for c in grid if precision(c, 1.01) >= high_precision), 0.95)
    medium = next((c for c in grid if c < high and precision(c, high) >= medium_precision),
                  high)
    print(f"confidence: high >= {high} (precision {precision(high, 1.01):.2f}), "
          f"medium >= {medium} (precision {precision(medium, high):.2f})")
    return {"confidence_high": high, "confidence_medium": medium}


def abstention(
    analysed: Sequence[tuple[DevCase, Analysis | None, GenerationRequest | None]],
    w: Weights,
) -> dict[str, float]:
    """Margins over the best card for each prototype class and the probability below
    which an unknown term declines: the loosest values that refuse no answered dev case,
    then as many declines as that allows."""
    rows = [(c, a) for c, a, _ in analysed if a is not None]
    settings: dict[str, float] = {}
    for name in ("harmful", "off_topic", "private"):
        answered = [a.prototypes.get(name, -1.0) - a.prototypes["cards"]
                    for c, a in rows if c.status == "answered"]
        # Just above the nearest an answered question came: no dev false refusal.
        # Never below zero: a question nearer to some card than to the class is answered.
        settings[f"margin_{name}"] = round(max(max(answered, default=0.0) + 0.02, 0.0), 4)
    top_answered = sorted(a.candidates[0].probability for c, a in rows
                          if c.status == "answered" and a.unknown and a.candidates)
    settings["p_unknown"] = round(max(0.0, (top_answered[0] if top_answered else 0.5) - 0.01), 4)
    lowest = min((a.candidates[0].probability for c, a in rows
                  if c.status == "answered" and a.candidates), default=0.0)
    settings["p_answer"] = round(max(0.0, lowest - 0.01), 4)
    print(f"abstention: {settings}")
    return settings


if __name__ == "__main__":
    main()
