"""The fitted abstention model: ``abstain.json`` is what the fit gives on its saved dev
features, the softmax fit recovers known coefficients, the decision rule, the name-shape
feature, and on the real corpus and model an invented product declines where the same
question about a real one is answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import assistant.generation as generation
from assistant import Assistant
from assistant.evaluation.fit_abstain import fit, fit_softmax, model_payload, p_answered
from assistant.generation.abstain import CLASSES, FEATURES, AbstainModel, coined, load_abstain

HERE = Path(generation.__file__).resolve().parent


def _saved() -> tuple[dict[str, Any], np.ndarray, np.ndarray, str, int]:
    saved = json.loads((HERE / "abstain.json").read_text(encoding="utf-8"))
    with np.load(HERE / "abstain_data.npz") as data:
        return saved, data["x"], data["y"], str(data["embedder"]), int(data["cases"])


def test_abstain_json_is_the_fit_of_the_saved_dev_features() -> None:
    saved, x, y, embedder, cases = _saved()
    assert x.shape == (saved["rows"], len(FEATURES)) and saved["features"] == list(FEATURES)
    refit = model_payload(x, y, embedder, cases)
    assert np.allclose(refit["coef"], saved["coef"], atol=1e-3)
    assert np.allclose(refit["bias"], saved["bias"], atol=1e-3)
    assert abs(refit["threshold"] - saved["threshold"]) < 1e-3
    assert refit["dev_trade_off_cross_validated"] == saved["dev_trade_off_cross_validated"]


def test_threshold_refuses_no_answerable_dev_question_and_some_declines() -> None:
    saved, x, y, _, _ = _saved()
    mean, scale, w, b = fit(x, y, float(saved["l2"]))
    p = p_answered(x, mean, scale, w, b)
    threshold = float(saved["threshold"])
    assert (p[y == 0] >= threshold).all()
    assert (p[y != 0] < threshold).sum() >= 5
    # The loaded model gives the same probabilities as the fit's arrays.
    model = load_abstain()
    row = dict(zip(FEATURES, x[0].tolist(), strict=True))
    assert abs(model.probabilities(row)["answered"] - p[0]) < 1e-3


def test_softmax_fit_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6000, 2))
    true_w = np.array([[0.0, 2.0, -1.0], [0.0, -1.0, 1.5]])
    z = x @ true_w + np.array([0.0, -0.5, 0.3])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    w, b = fit_softmax(x, y, 3, l2=0.0)
    # Softmax coefficients are defined up to a shift per feature: compare differences.
    assert np.allclose(w - w[:, :1], true_w, atol=0.2)
    assert np.allclose(b - b[0], [0.0, -0.5, 0.3], atol=0.15)


def test_model_declines_below_threshold_with_the_likelier_decline_class() -> None:
    model = AbstainModel(
        features=("a",), classes=CLASSES, mean=(0.0,), scale=(1.0,),
        coef=((0.0, 1.0, -1.0),), bias=(0.0, 0.0, 0.0), threshold=0.3,
    )
    assert model.decide({"a": 0.0}) is None  # equal logits: P(answered) = 1/3
    found = model.decide({"a": 3.0})
    assert found is not None and found[0] == "insufficient_evidence" and found[1] < 0.3
    found = model.decide({"a": -3.0})
    assert found is not None and found[0] == "out_of_scope"


def test_coined_names_are_product_shapes_not_places_or_acronyms() -> None:
    for name in ("KubeWidget", "flexScheduling", "XR42", "m5x.9large"):
        assert coined(name), name
    for name in ("Tuesday", "Singapore", "CISO", "B2B", "us-east-1", "Asia-Pacific"):
        assert not coined(name), name


@pytest.mark.parametrize(
    ("invented", "real"),
    [
        ("Which NebulaMesh Enterprise edition should we buy for our service mesh?",
         "Which Istio setup should we use for our service mesh?"),
        ("How do we enable StratoScale autoscaling in Kubernetes 1.32?",
         "How do we enable cluster autoscaling in Kubernetes 1.32?"),
    ],
)
def test_an_invented_product_declines_where_a_real_one_is_answered(
    corpus_assistant: Assistant, invented: str, real: str
) -> None:
    assert corpus_assistant.ask(real).status == "answered"
    assert corpus_assistant.ask(invented).status == "insufficient_evidence"
    # The abstention component is what declines it.
    without = corpus_assistant.with_ablations(["abstention"])
    assert without.ask(invented).status == "answered"
