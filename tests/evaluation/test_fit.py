"""The fitted weights: ``weights.json`` is what the fit gives on its saved feature matrix,
and the logistic fit recovers known coefficients."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import assistant.generation as generation
from assistant.evaluation.fit import (
    feature_means,
    fit_dependence,
    fit_logistic,
    nonpositive_columns,
    refit_dependence,
)
from assistant.generation.scoring import FEATURES, load_weights

HERE = Path(generation.__file__).resolve().parent


def test_weights_json_is_the_fit_of_the_saved_dev_features() -> None:
    saved = json.loads((HERE / "weights.json").read_text(encoding="utf-8"))
    with np.load(HERE / "fit_data.npz") as data:
        x, y, w = data["x"], data["y"], data["w"]
        xa, ya, wa = data["xa"], data["ya"], data["wa"]
    assert x.shape == (saved["rows"], len(FEATURES)) and int(y.sum()) == saved["positives"]
    coef, bias = fit_logistic(x, y, saved["l2"], nonpositive_columns(), sample_weight=w)
    # The dependence features: refitted on dev plus the catalogue augmentation.
    coef = refit_dependence(coef, bias, x, y, w, xa, ya, wa)
    assert saved["features"] == list(FEATURES)
    for name, value in zip(FEATURES, coef, strict=True):
        assert abs(saved["coef"][name] - value) < 1e-3, name
    assert abs(saved["bias"] - bias) < 1e-3
    assert saved["means"] == feature_means(x)


def test_logistic_fit_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(1.5 * x[:, 0] - 2.0 * x[:, 1] + 0.5)))
    y = (rng.random(4000) < p).astype(float)
    coef, bias = fit_logistic(x, y, l2=0.0)
    assert np.allclose(coef, [1.5, -2.0], atol=0.2) and abs(bias - 0.5) < 0.15


def test_features_that_only_count_against_a_card_fit_no_positive_weight() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(1.5 * x[:, 0] + 2.0 * x[:, 1])))
    y = (rng.random(4000) < p).astype(float)
    free, _ = fit_logistic(x, y, l2=0.0)
    bounded, _ = fit_logistic(x, y, l2=0.0, nonpositive=[1])
    assert free[1] > 1.0 and bounded[1] <= 0.0 and bounded[0] > 0.5


def test_loaded_weights_cover_every_feature_and_give_probabilities() -> None:
    w = load_weights()
    assert set(w.coef) == set(FEATURES)
    assert 0.0 < w.probability(dict.fromkeys(FEATURES, 0.0)) < 1.0
    # Equal cuts are an empty "medium" band: no probability range below "high" where at
    # least half the dev recommendations are right (the fit measures it, see confidence_cuts).
    assert 0.0 < w.get("confidence_medium", 1.0) <= w.get("confidence_high", 0.0) <= 1.0


def test_dependence_refit_holds_the_rest_and_keeps_its_weights_against() -> None:
    rng = np.random.default_rng(3)
    x = rng.random(size=(3000, 1))
    # Rows high on the feature are mostly wrong cards: a negative weight fits them.
    y = (rng.random(3000) < 1 / (1 + np.exp(-(1.0 - 3.0 * x[:, 0])))).astype(float)
    (found,) = fit_dependence(x, y, np.full(3000, 1.0), np.ones(3000))
    assert -4.0 < found < -2.0
    # Rows where the feature marks right cards: the bound keeps it at zero.
    (bounded,) = fit_dependence(x, 1.0 - y, np.full(3000, -1.0), np.ones(3000))
    assert bounded == 0.0
    coef = np.arange(len(FEATURES), dtype=np.float64)
    empty = np.zeros((0, len(FEATURES)))
    out = refit_dependence(coef, 0.0, empty, np.zeros(0), np.zeros(0), empty, np.zeros(0),
                           np.zeros(0))
    held = [i for i, f in enumerate(FEATURES) if not f.startswith("negated_")]
    assert np.array_equal(out[held], coef[held])


def test_the_negation_augmentation_is_made_from_the_catalogue_with_the_data_frames() -> None:
    """Each training-only case negates a situation of card B in one of the data file's
    frames, then asks in the words of an alternative A: it wants A and rules B out."""
    import zlib

    from assistant.evaluation.fit import negation_augmentation, negation_frames
    from assistant.ingest.catalogue import load_catalogue

    frames = negation_frames()
    assert len(frames) >= 2 and all(f.count("{}") == 1 for f in frames)

    def embed(texts: Sequence[str]) -> Any:  # deterministic unit vectors, no model
        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=8) for t in texts]
        return np.asarray([r / np.linalg.norm(r) for r in rows])

    catalogue = load_catalogue(Path(__file__).resolve().parents[2] / "corpus")
    cases = negation_augmentation(catalogue, embed)
    assert cases and len({c.id for c in cases}) == len(cases)
    for case in cases:
        ((want,),), (ruled_out,) = case.must, case.must_not
        a, b = catalogue.get(want), catalogue.get(ruled_out)
        assert a is not None and b is not None and want in b.alternatives
        # It opens by denying one of B's own situations, in one of the frames.
        denials = {f.format(w.split(" (")[0].strip()).lower() for f in frames for w in b.when}
        assert any(case.question.lower().startswith(d) for d in denials), case.question
        assert any(phrase in case.question for phrase in a.asked_as)
        assert case.tags == ("augmentation",)
