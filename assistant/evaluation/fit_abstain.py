"""Fit the abstention model on the development split and write ``abstain.json``.

    python -m assistant.evaluation.fit_abstain [--cases evals/cases.yaml] [--suites evals/suites]
    python -m assistant.evaluation.fit_abstain --refit   # from the saved abstain_data.npz

Needs the bundled corpus ingested (``kubeplan ingest``) in ``KUBEPLAN_DATA_DIR``. Every
dev case that reaches the engine (instruction injection and plain off-topic questions are
refused before it), except those tagged ``harmful``, gives one row of
``abstain.FEATURES``, labelled with its ``expect_status``. A multinomial logistic
regression with an L2 penalty on standardised features is fitted by L-BFGS. The
operating threshold on P(answered) is the highest that declines no answerable dev case,
read from cross-validated probabilities (each case scored by a model that never saw it)
and from the final model's own; the lower of the two is kept, so that what holds on dev
is not an artefact of the fit memorising its cases. The feature matrix is saved beside
the model (``abstain_data.npz``) so tests can refit and compare. Never point it at
``evals/heldout``: that split judges the result.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.generation.abstain import CLASSES, FEATURES

L2 = 5.0
#: Cases with this tag are left out of the fit (see ``abstain.py``).
HARMFUL_TAG = "harmful"
FOLDS = 10
#: The threshold sits this far (in probability) below the most doubtful answerable case.
SLACK = 0.02
HERE = Path(__file__).resolve().parent


def fit_softmax(x: Any, y: Any, classes: int, l2: float = L2) -> tuple[Any, Any]:
    """Coefficients [features, classes] and biases minimising mean cross-entropy +
    l2/2n·|W|² (biases unpenalised)."""
    import numpy as np
    from scipy.optimize import minimize

    n, k = x.shape
    onehot = np.eye(classes)[y.astype(int)]

    def loss(theta: Any) -> tuple[float, Any]:
        w = theta[: k * classes].reshape(k, classes)
        b = theta[k * classes:]
        z = x @ w + b
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -float((onehot * log_p).sum()) / n + l2 / (2 * n) * float((w * w).sum())
        d = (np.exp(log_p) - onehot) / n
        grad_w = x.T @ d + l2 / n * w
        return value, np.concatenate([grad_w.ravel(), d.sum(axis=0)])

    result = minimize(loss, np.zeros(k * classes + classes), jac=True, method="L-BFGS-B",
                      options={"maxiter": 5000, "gtol": 1e-10})
    return result.x[: k * classes].reshape(k, classes), result.x[k * classes:]


def standardise(x: Any) -> tuple[Any, Any]:
    import numpy as np

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def p_answered(x: Any, mean: Any, scale: Any, w: Any, b: Any) -> Any:
    import numpy as np

    z = ((x - mean) / scale) @ w + b
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True))[:, 0]


def fit(x: Any, y: Any, l2: float = L2) -> tuple[Any, Any, Any, Any]:
    mean, scale = standardise(x)
    w, b = fit_softmax((x - mean) / scale, y, len(CLASSES), l2)
    return mean, scale, w, b


def cross_validated(x: Any, y: Any, l2: float = L2, folds: int = FOLDS) -> Any:
    """P(answered) of every row from a model fitted without its fold (folds stratified
    by class, assigned in row order so the result is deterministic)."""
    import numpy as np

    fold = np.zeros(len(y), dtype=int)
    for c in range(len(CLASSES)):
        rows = np.flatnonzero(y == c)
        fold[rows] = np.arange(len(rows)) % folds
    out = np.zeros(len(y))
    for f in range(folds):
        held = fold == f
        mean, scale, w, b = fit(x[~held], y[~held], l2)
        out[held] = p_answered(x[held], mean, scale, w, b)
    return out


def threshold_for(p: Any, y: Any, slack: float = SLACK) -> float:
    """Just below the least confident answerable row: no dev false refusal."""
    return max(float(p[y == 0].min()) - slack, 0.0)


def trade_off(p: Any, y: Any, grid: Sequence[float]) -> list[dict[str, float]]:
    """Declined share of the decline rows and of the answerable rows at each threshold."""
    rows = []
    for t in grid:
        declined = p < t
        rows.append({
            "threshold": round(float(t), 4),
            "decline_recall": round(float(declined[y != 0].mean()), 4),
            "false_refusals": int(declined[y == 0].sum()),
        })
    return rows


def model_payload(x: Any, y: Any, embedder: str, cases: int) -> dict[str, Any]:
    import numpy as np

    mean, scale, w, b = fit(x, y)
    own = p_answered(x, mean, scale, w, b)
    cv = cross_validated(x, y)
    threshold = min(threshold_for(own, y), threshold_for(cv, y))
    grid = sorted({round(v, 2) for v in np.linspace(0.05, 0.95, 19)} | {round(threshold, 4)})
    return {
        "about": "Fitted by `python -m assistant.evaluation.fit_abstain` on the dev split "
                 "(evals/cases.yaml + evals/suites/*.yaml); do not edit by hand.",
        "cases": cases,
        "rows": len(y),
        "per_class": {c: int((y == i).sum()) for i, c in enumerate(CLASSES)},
        "l2": L2,
        "slack": SLACK,
        "embedder": embedder,
        "features": list(FEATURES),
        "classes": list(CLASSES),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [[round(float(v), 6) for v in row] for row in w],
        "bias": [round(float(v), 6) for v in b],
        "threshold": round(threshold, 4),
        "dev_trade_off_cross_validated": trade_off(cv, y, grid),
        "dev_trade_off_in_sample": trade_off(own, y, grid),
    }


def collect(cases_path: Path, suites: Path) -> tuple[Any, Any, list[str], str, int]:
    """One feature row per dev case that reaches the engine, with its class index."""
    import numpy as np

    from assistant.chain.api import Assistant
    from assistant.evaluation.fit import _Capture, read_cases
    from assistant.generation.abstain import features
    from assistant.generation.engine import analyse

    files = [cases_path] + (sorted(suites.glob("*.yaml")) if suites.is_dir() else [])
    cases = read_cases(files)
    # The verdict is what is being fitted: the engine must not reach for it.
    assistant = Assistant().with_ablations(["abstention"])
    capture = _Capture()
    assistant._generators["capture"] = capture
    rows: list[list[float]] = []
    labels: list[int] = []
    ids: list[str] = []
    for case in cases:
        if HARMFUL_TAG in case.tags:
            continue  # harmful intent is the fitted prototype margin's job (see abstain.py)
        capture.request = None
        assistant.ask(case.question, history=case.history or None, profile=case.profile,
                      backend="capture")
        request = capture.request
        if request is None or request.cards is None:
            continue  # refused before the engine (injection, plain off-topic)
        analysis = analyse(request)
        values = features(request.question, analysis.query.vector, request.cards,
                          request.passages, analysis.prototypes, analysis.unknown,
                          request.known)
        rows.append([values[f] for f in FEATURES])
        labels.append(CLASSES.index(case.status))
        ids.append(case.id)
    x = np.asarray(rows, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    return x, y, ids, assistant.embedder.name, len(cases)


def main(argv: Sequence[str] | None = None) -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cases", type=Path, default=Path("evals/cases.yaml"))
    parser.add_argument("--suites", type=Path, default=Path("evals/suites"))
    parser.add_argument("--out", type=Path, default=HERE / "abstain.json")
    parser.add_argument("--refit", action="store_true",
                        help="fit from the saved abstain_data.npz instead of the dev cases")
    args = parser.parse_args(argv)
    data_path = args.out.with_name("abstain_data.npz")
    if args.refit:
        with np.load(data_path) as data:
            x, y, ids = data["x"], data["y"], [str(i) for i in data["ids"]]
            embedder, cases = str(data["embedder"]), int(data["cases"])
    else:
        x, y, ids, embedder, cases = collect(args.cases, args.suites)
        np.savez_compressed(data_path, x=x, y=y, ids=np.asarray(ids), embedder=embedder,
                            cases=cases)
    payload = model_payload(x, y, embedder, cases)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in payload.items()
                      if k not in ("mean", "scale", "coef", "bias")}, indent=1))


if __name__ == "__main__":
    main()
