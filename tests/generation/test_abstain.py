"""The fitted abstention model: ``abstain.json`` is what the fit gives on its saved dev
features, the softmax fit recovers known coefficients (row weights act as repeated rows),
the prototype classifier weighs its classes equally, the decision rule (and the neutral
features of the ``abstention-meaning`` ablation), the name-shape feature, the grounding
check (a misspelling is no unknown word, an invented name is), and on the real corpus and
model an invented product declines where the same question about a real one is answered,
and the classifier reads what a question asks for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import assistant.generation as generation
from assistant import Assistant
from assistant.evaluation.fit_abstain import (
    fit,
    fit_prototype_classifier,
    fit_softmax,
    model_payload,
    p_answered,
)
from assistant.generation.abstain import (
    CLASSES,
    FEATURES,
    MEANING,
    AbstainModel,
    classifier_from,
    coined,
    grounding_gap,
    load_abstain,
)

HERE = Path(generation.__file__).resolve().parent


def _saved() -> tuple[dict[str, Any], np.ndarray, np.ndarray, str, int]:
    saved = json.loads((HERE / "abstain.json").read_text(encoding="utf-8"))
    with np.load(HERE / "abstain_data.npz") as data:
        return saved, data["x"], data["y"], str(data["embedder"]), int(data["cases"])


def test_abstain_json_is_the_fit_of_the_saved_dev_features() -> None:
    saved, x, y, embedder, cases = _saved()
    assert x.shape == (saved["rows"], len(FEATURES)) and saved["features"] == list(FEATURES)
    with np.load(HERE / "abstain_data.npz") as data:
        p_harmful = data["p_harmful"]
    refit = model_payload(x, y, embedder, cases, None, p_harmful)
    assert np.allclose(refit["coef"], saved["coef"], atol=1e-3)
    assert np.allclose(refit["bias"], saved["bias"], atol=1e-3)
    assert abs(refit["threshold"] - saved["threshold"]) < 1e-3
    assert refit["dev_trade_off_cross_validated"] == saved["dev_trade_off_cross_validated"]
    # The harmful threshold is above every answerable dev question's P(harmful).
    assert refit["harmful_threshold"] == saved["harmful_threshold"]
    assert (p_harmful[y == 0] < saved["harmful_threshold"]).all()
    assert saved["prototype_classifier"]["classes"][0] == "answered"


def test_row_weights_act_as_repeated_rows() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3))
    y = rng.integers(0, 3, size=200)
    weight = rng.integers(1, 4, size=200).astype(float)
    w1, b1 = fit_softmax(x, y, 3, l2=1.0, sample_weight=weight)
    rows = np.repeat(np.arange(200), weight.astype(int))
    # Both losses are (sum of row losses + l2/2·|W|²) divided by their row count.
    w2, b2 = fit_softmax(x[rows], y[rows], 3, l2=1.0, sample_weight=None)
    assert np.allclose(w1 - w1[:, :1], w2 - w2[:, :1], atol=1e-3)
    assert np.allclose(b1 - b1[0], b2 - b2[0], atol=1e-3)


def test_prototype_classifier_weighs_a_small_class_like_a_large_one() -> None:
    rng = np.random.default_rng(11)
    centre = np.eye(8)
    cards = centre[0] + 0.3 * rng.normal(size=(400, 8))
    labels = ["private"] * 6 + ["live"] * 6
    protos = np.vstack([centre[1] + 0.3 * rng.normal(size=(6, 8)),
                        centre[2] + 0.3 * rng.normal(size=(6, 8))])
    c = fit_prototype_classifier(cards, labels, protos)
    assert c.classes == ("answered", "private", "live")
    assert max(c.probabilities(centre[1]).items(), key=lambda kv: kv[1])[0] == "private"
    assert max(c.probabilities(centre[2]).items(), key=lambda kv: kv[1])[0] == "live"
    assert c.probabilities(centre[0])["answered"] > 0.8
    assert abs(sum(c.probabilities(centre[3]).values()) - 1.0) < 1e-9
    # What the fit writes reads back as the same classifier.
    from assistant.evaluation.fit_abstain import classifier_payload

    back = classifier_from(classifier_payload(c))
    assert back is not None
    p_back, p_fit = back.probabilities(centre[1]), c.probabilities(centre[1])
    assert abs(p_back["private"] - p_fit["private"]) < 1e-3


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


def test_neutral_features_say_nothing() -> None:
    model = AbstainModel(
        features=("a", "p_live"), classes=CLASSES, mean=(0.0, 0.2), scale=(1.0, 0.1),
        coef=((0.0, 1.0, -1.0), (0.0, 3.0, 0.0)), bias=(0.0, 0.0, 0.0), threshold=0.3,
    )
    values = {"a": 0.0, "p_live": 0.9}
    assert model.decide(values) is not None  # a vendor's live fact: declined
    assert model.decide(values, neutral=MEANING) is None  # the feature silenced
    assert model.probabilities(values, MEANING) == model.probabilities({"a": 0.0, "p_live": 0.2})


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


def test_grounding_a_misspelling_is_no_unknown_word_but_an_invented_name_is(
    corpus_assistant: Assistant,
) -> None:
    cards = corpus_assistant.card_index()
    recommended = ["availability.etcd-odd-members"]
    plain = grounding_gap("how many etcd members should the cluster run", cards, [], recommended)
    typo = grounding_gap("how many etcd membres should the clsuter run", cards, [], recommended)
    coined_name = grounding_gap("how many etcd members should the Zorblax cluster run",
                                cards, [], recommended)
    assert typo == pytest.approx(plain)
    assert coined_name > plain + 0.1
    assert grounding_gap("", cards, [], recommended) == 0.0


@pytest.mark.parametrize(
    ("question", "asks_for"),
    [
        ("Should we run one cluster per environment or share one between staging and prod?",
         "answered"),
        ("How much did our data team spend on cloud compute in October?", "private"),
        ("Which storage engine does a big observability vendor use internally for metrics?",
         "live"),
        ("How do I get my banjo strings to stay in tune?", "off_topic"),
        ("How can I run my deployment past the admission policies so the security team "
         "never sees it?", "harmful"),
    ],
)
def test_the_prototype_classifier_reads_what_a_question_asks_for(
    corpus_assistant: Assistant, question: str, asks_for: str
) -> None:
    model = load_abstain()
    assert model.classifier is not None
    p = model.classifier.probabilities(corpus_assistant.query_embedder.embed_query(question))
    assert max(p.items(), key=lambda kv: kv[1])[0] == asks_for, p


@pytest.mark.parametrize(
    ("question", "status"),
    [
        # No infrastructure word and little retrieved: off-topic, unless it asks for the
        # user's own records, which the knowledge base cannot hold.
        ("Why did our online shop go down during the sale last Saturday?",
         "insufficient_evidence"),
        ("Which houseplants survive in a dark office corner?", "out_of_scope"),
    ],
)
def test_own_records_are_a_gap_not_a_foreign_subject(
    corpus_assistant: Assistant, question: str, status: str
) -> None:
    assert corpus_assistant.ask(question).status == status
    if status == "insufficient_evidence":
        off = corpus_assistant.with_ablations(["abstention-meaning"]).ask(question)
        assert off.status == "out_of_scope"
