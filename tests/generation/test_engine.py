"""The shared decision engine: plan selection (diversity, alternatives, comparisons),
confidence from probability, abstention thresholds, unknown terms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.generation.engine import Analysis, _decline, confidence_label, select
from assistant.generation.scoring import (
    Candidate,
    Query,
    Weights,
    assess_conditions,
    option_cards,
    unknown_terms,
)
from assistant.index.keyword import tokenize
from assistant.retrieval.cards import CardIndex
from assistant.retrieval.passages import Passage
from assistant.schemas import Chunk, Decision
from assistant.understanding.aspects import Comparison

SETTINGS = {"p_min": 0.5, "p_leader": 0.3, "limit_narrow": 3.0, "limit_base": 2.0,
            "limit_max": 8.0, "duplicate": 0.9, "p_answer": 0.2, "aspect_min": 0.45,
            "confidence_high": 0.7, "confidence_medium": 0.4, "margin_harmful": 0.05,
            "margin_off_topic": 0.05, "margin_private": 0.05, "p_unknown": 0.6}
W = Weights(coef={}, bias=0.0, settings=SETTINGS, embedder="model")


def decision(did: str, when: Sequence[str] = ("small team",), alternatives: Sequence[str] = (),
             avoid: Sequence[str] = ()) -> Decision:
    return Decision(
        id=did, title=f"Title of {did}", recommendation="Do the thing that fits the case.",
        when=list(when), avoid_when=list(avoid), tradeoffs=["t"],
        alternatives=list(alternatives), sources=["https://example.org/x"],
        topic=did.split(".")[0],
    )


def index(decisions: list[Decision], vectors: list[list[float]]) -> CardIndex:
    v = np.asarray(vectors, dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return CardIndex(
        ids=[d.id for d in decisions], decisions=decisions, vectors=v,
        phrase_vectors=np.zeros((0, v.shape[1]), dtype=np.float32),
        phrase_owner=np.zeros(0, dtype=np.int64), sentence_vectors={},
        prototype_labels=["harmful", "private", "off_topic"],
        prototype_vectors=np.eye(v.shape[1], dtype=np.float32)[:3],
        vocabulary=frozenset({"etcd", "kubernet"}), embedder="model",
    )


def cand(d: Decision, p: float, matched: Sequence[str] = (), option: int | None = None,
         conflicts: Sequence[str] = ()) -> Candidate:
    chunk = Chunk(id=d.id, text="t", collection="c", path="p", title="T", content_hash=d.id,
                  decision_ids=[d.id])
    return Candidate(decision=d, probability=p, matched=list(matched), option_of=option,
                     conflicts=list(conflicts), aspect_scores=[1.0],
                     passages=[(Passage(chunk=chunk, score=1.0), 1.0)])


def analysis(cands: list[Candidate], narrow: bool = True,
             compared: Comparison | None = None) -> Analysis:
    vector = np.zeros(4, dtype=np.float32)
    query = Query(text="q", vector=vector, aspects=("q",), aspect_vectors=(vector,),
                  comparison=compared)
    return Analysis(query=query, candidates=tuple(cands), conditions={}, decline=None,
                    unknown=(), prototypes={}, narrow=narrow)


def chosen_ids(chosen: Sequence[tuple[Candidate, object]]) -> list[str]:
    return [c.decision.id for c, _ in chosen]


def test_near_duplicate_cards_are_not_recommended_together() -> None:
    a, b, c = decision("capacity.a"), decision("capacity.b"), decision("capacity.c")
    cards = index([a, b, c], [[1, 0.05, 0, 0], [1, 0, 0.05, 0], [0, 0, 0, 1]])
    plan = analysis([cand(a, 0.9), cand(b, 0.85), cand(c, 0.8)])
    assert chosen_ids(select(plan, cards, weights=W)) == ["capacity.a", "capacity.c"]
    # The ablation switch turns MMR off: the duplicate comes back.
    undiverse = select(plan, cards, frozenset({"diversity"}), weights=W)
    assert chosen_ids(undiverse) == ["capacity.a", "capacity.b", "capacity.c"]


def test_alternatives_need_a_separating_condition() -> None:
    a = decision("tenancy.a", ["small team"], ["tenancy.b"])
    b = decision("tenancy.b", ["small team"], ["tenancy.a"])
    c = decision("tenancy.c", ["strong isolation"], ["tenancy.a"])
    cards = index([a, b, c], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    plan = analysis([cand(a, 0.9, ["small team"]), cand(b, 0.8, ["small team"])])
    assert chosen_ids(select(plan, cards, weights=W)) == ["tenancy.a"]
    plan = analysis([cand(a, 0.9, ["small team"]), cand(c, 0.8, ["strong isolation"])])
    chosen = select(plan, cards, weights=W)
    assert chosen_ids(chosen) == ["tenancy.a", "tenancy.c"]
    assert chosen[1][1][0][1] == ["strong isolation"]


def test_comparison_returns_every_named_option_whatever_the_order() -> None:
    a = decision("gitops.argo", ["many clusters"], ["gitops.flux"])
    b = decision("gitops.flux", ["small team"], ["gitops.argo"])
    cards = index([a, b], [[1, 0, 0, 0], [0, 1, 0, 0]])
    for first, second in [(0, 1), (1, 0)]:
        plan = analysis([cand(a, 0.7, option=first), cand(b, 0.3, option=second)],
                        narrow=False, compared=Comparison(("x", "y")))
        chosen = select(plan, cards, weights=W)
        assert sorted(chosen_ids(chosen)) == ["gitops.argo", "gitops.flux"]
        assert chosen_ids(chosen)[0] == "gitops.argo"  # the more probable option leads


def test_profile_settles_a_comparison() -> None:
    a = decision("platform.managed", ["small team"], ["platform.diy"])
    b = decision("platform.diy", ["large platform team"], ["platform.managed"],
                 avoid=["small team"])
    cards = index([a, b], [[1, 0, 0, 0], [0, 1, 0, 0]])
    plan = analysis(
        [cand(a, 0.8, ["small team"], option=0),
         cand(b, 0.6, option=1, conflicts=["small team"])],
        narrow=False, compared=Comparison(("managed", "diy")),
    )
    assert chosen_ids(select(plan, cards, weights=W)) == ["platform.managed"]


def test_a_card_whose_every_situation_is_ruled_out_is_not_recommended() -> None:
    single = decision("availability.single", ["best-effort availability", "edge sites"])
    three = decision("availability.three", ["high availability target", "on-prem"])
    high_on_prem: dict[str, bool | None] = {"best-effort availability": False,
                                            "edge sites": False,
                    "high availability target": True, "on-prem": True}
    ruled, fits = cand(single, 0.6), cand(three, 0.6)
    assess_conditions(ruled, high_on_prem, set())
    assess_conditions(fits, high_on_prem, set())
    assert ruled.ruled_out and not ruled.matched
    assert not fits.ruled_out and fits.matched
    # One situation unknown (None) is not a ruling: the card may still fit.
    unknown = cand(single, 0.6)
    assess_conditions(unknown, {"best-effort availability": False}, set())
    assert not unknown.ruled_out
    cards = index([single, three], [[1, 0, 0, 0], [0, 1, 0, 0]])
    assert chosen_ids(select(analysis([ruled, fits]), cards, weights=W)) == [
        "availability.three"]
    # Below p_min only the fallback answers: with the card the profile speaks for.
    ruled.probability, fits.probability = 0.45, 0.25
    assert chosen_ids(select(analysis([ruled, fits]), cards, weights=W)) == [
        "availability.three"]
    # Nothing else supported: the best card still answers rather than none.
    assert chosen_ids(select(analysis([ruled]), cards, weights=W)) == ["availability.single"]


def test_narrow_questions_get_few_recommendations() -> None:
    ds = [decision(f"capacity.d{i}") for i in range(6)]
    cards = index(ds, [[1.0 if j == i % 4 else 0.01 * i for j in range(4)] for i in range(6)])
    plan = analysis([cand(d, 0.9 - 0.01 * i) for i, d in enumerate(ds)])
    assert len(select(plan, cards, weights=W, ablations=frozenset({"diversity"}))) == 3


def test_confidence_label_follows_probability_cut_points() -> None:
    assert confidence_label(0.95, W) == "high"
    assert confidence_label(0.7, W) == "high"
    assert confidence_label(0.5, W) == "medium"
    assert confidence_label(0.1, W) == "low"


class _Request:
    def __init__(self, cards: CardIndex) -> None:
        self.cards = cards
        self.passages: tuple[Passage, ...] = ()
        self.standalone_question = "q"


def test_abstention_thresholds() -> None:
    d = decision("availability.etcd")
    cards = index([d], [[0, 0, 0, 1]])
    good = [cand(d, 0.9)]
    request = _Request(cards)
    near = {"cards": 0.5, "harmful": 0.3, "private": 0.3, "off_topic": 0.3}

    def verdict(protos: dict[str, float], cands: list[Candidate] = good,
                unknown: Sequence[str] = ()) -> str | None:
        found = _decline(request, cands, protos, unknown, W)  # type: ignore[arg-type]
        return found[0] if found else None

    assert verdict(near) is None
    assert verdict({**near, "harmful": 0.56}) == "out_of_scope"
    assert verdict({**near, "off_topic": 0.56}) == "out_of_scope"
    assert verdict({**near, "private": 0.56}) == "insufficient_evidence"
    assert verdict({**near, "private": 0.54}) is None  # inside the margin
    assert verdict(near, unknown=["KubeQuantum"]) is None  # a strong card still answers
    assert verdict(near, [cand(d, 0.5)], ["KubeQuantum"]) == "insufficient_evidence"
    assert verdict(near, [cand(d, 0.1)]) == "insufficient_evidence"
    # Margins fitted for one model do not apply to another's cosines.
    other = Weights(coef={}, bias=0.0, settings=SETTINGS, embedder="another-model")
    found = _decline(request, good, {**near, "harmful": 0.9}, (), other)  # type: ignore[arg-type]
    assert found is None


def test_unknown_terms_are_names_the_knowledge_base_never_uses() -> None:
    known = set(tokenize("etcd kubernetes eks aws members")).__contains__
    assert unknown_terms("Does EKS support KubeQuantum autoscaling?", known) == ["KubeQuantum"]
    assert unknown_terms("How many etcd members for Kubernetes on AWS?", known) == []
    assert unknown_terms("Should we run z/OS workloads?", known) == ["z/OS"]


def test_a_card_whose_situation_the_user_ruled_out_is_refuted() -> None:
    fleet = cand(decision("multicluster.fleet", when=("many clusters", "GCP")), 0.9)
    single = cand(decision("multicluster.single", when=("single cluster",)), 0.5)
    refuted = frozenset({"many clusters"})
    conditions: dict[str, bool | None] = {"many clusters": False, "single cluster": True}
    assess_conditions(fleet, conditions, set(), refuted)
    assess_conditions(single, conditions, set(), refuted)
    assert fleet.refuted == ["many clusters"]
    assert single.refuted == []
    # A condition merely false (another value named) refutes nothing.
    assess_conditions(fleet, conditions, set())
    assert fleet.refuted == []
def _with_aspects(c: Candidate, n: int = 2) -> Candidate:
    c.aspect_scores = [0.0] * n
    return c


def test_each_asked_aspect_gets_a_slot_before_the_global_fill() -> None:
    ctx = [decision(f"hosting.c{i}") for i in range(3)]
    asked = decision("secrets.store")
    cards = index([*ctx, asked], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    vector = np.zeros(4, dtype=np.float32)
    query = Query(text="q", vector=vector, aspects=("on AWS, team of 3", "where secrets live"),
                  aspect_vectors=(vector, vector))
    main = [_with_aspects(cand(d, p)) for d, p in zip(ctx, (0.9, 0.85, 0.8), strict=True)]
    low = _with_aspects(cand(asked, 0.05))  # the whole question hardly points at it
    settings = {**SETTINGS, "limit_base": 0.0, "aspect_floor": 0.5}
    w = Weights(coef={}, bias=0.0, settings=settings, embedder="model")

    def plan(local_p: float) -> Analysis:
        local = cand(asked, local_p)  # the aspect, scored on its own, points at it
        return Analysis(query=query, candidates=(*main, low), conditions={}, decline=None,
                        unknown=(), prototypes={}, narrow=False,
                        aspect_pools=((1, (local,)),), asks=(False, True))

    chosen = select(plan(0.7), cards, weights=w)
    assert "secrets.store" in chosen_ids(chosen) and len(chosen) == 2
    # The slot holds the question-wide candidate (its probability, its features).
    assert next(c for c, _ in chosen if c.decision.id == "secrets.store") is low
    # Below the fitted floor the aspect's best card earns no slot: the global fill rules.
    assert chosen_ids(select(plan(0.3), cards, weights=w)) == ["hosting.c0", "hosting.c1"]


def test_alternatives_leading_different_aspects_are_both_kept() -> None:
    sso = decision("identity.sso", alternatives=["identity.no-certs"])
    certs = decision("identity.no-certs", alternatives=["identity.sso"])
    cards = index([sso, certs], [[1, 0, 0, 0], [0, 1, 0, 0]])
    vector = np.zeros(4, dtype=np.float32)
    query = Query(text="q", vector=vector, aspects=("sign in", "client certificates"),
                  aspect_vectors=(vector, vector))
    a, b = _with_aspects(cand(sso, 0.8)), _with_aspects(cand(certs, 0.7))
    w = Weights(coef={}, bias=0.0, settings={**SETTINGS, "aspect_floor": 0.5},
                embedder="model")
    plan = Analysis(query=query, candidates=(a, b), conditions={}, decline=None, unknown=(),
                    prototypes={}, narrow=False,
                    aspect_pools=((0, (cand(sso, 0.8),)), (1, (cand(certs, 0.7),))),
                    asks=(True, True))
    assert sorted(chosen_ids(select(plan, cards, weights=w))) == [
        "identity.no-certs", "identity.sso"]
    # Without the aspect slots the pair needs a separating condition, which it lacks.
    bare = Analysis(query=query, candidates=(a, b), conditions={}, decline=None, unknown=(),
                    prototypes={}, narrow=False)
    assert chosen_ids(select(bare, cards, weights=w)) == ["identity.sso"]


def _titled(did: str, title: str, alternatives: Sequence[str] = ()) -> Decision:
    return decision(did, alternatives=alternatives).model_copy(update={"title": title})


def test_options_map_to_the_cards_that_recommend_them_whatever_the_order() -> None:
    access = _titled("access.mappings", "Map cloud identities with EKS access entries")
    managed = _titled("platform.managed", "Use a managed Kubernetes service (EKS, AKS, GKE)",
                      ["platform.kubeadm"])
    diy = _titled("platform.kubeadm", "Self-manage clusters with kubeadm", ["platform.managed"])
    cards = index([access, managed, diy],
                  [[1, 0, 0, 0], [0.9, 0.436, 0, 0], [0, 0, 1, 0]])
    eks = np.asarray([1, 0.2, 0, 0], dtype=np.float32)
    eks /= np.linalg.norm(eks)
    kubeadm = np.asarray([0, 0, 1, 0], dtype=np.float32)
    zero = np.zeros(4, dtype=np.float32)

    def mapped(options: tuple[str, ...], vectors: tuple[np.ndarray, ...]) -> dict[str, str]:
        query = Query(text="q", vector=zero, aspects=("q",), aspect_vectors=(zero,),
                      comparison=Comparison(options), option_vectors=vectors)
        found = option_cards(query, cards, 0.5)
        return {o: f for o, f in zip(options, found, strict=True) if f is not None}

    # "EKS" alone is nearest the access card, which only mentions it ...
    assert mapped(("EKS", "x"), (eks, zero)) == {"EKS": "access.mappings"}
    # ... weighed against kubeadm it is the managed service, the card recommending it.
    both = {"EKS": "platform.managed", "kubeadm": "platform.kubeadm"}
    assert mapped(("EKS", "kubeadm"), (eks, kubeadm)) == both
    assert mapped(("kubeadm", "EKS"), (kubeadm, eks)) == both


def _dependence_query(negated: str) -> tuple[CardIndex, Query]:
    """Two cards on two axes; the kept question points at the first, the negated stretch
    at the second."""
    from assistant.generation.scoring import make_query

    cards = index([decision("a.kept"), decision("b.negated")],
                  [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    vectors = {"keep": [1.0, 0.0, 0.2], "neg": [0.0, 1.0, 0.2]}

    def embed(text: str) -> np.ndarray:
        v = np.zeros(3)
        for word in text.split():
            v += np.asarray(vectors.get(word, [0.0, 0.0, 0.1]))
        return v / np.linalg.norm(v)

    return cards, make_query("keep", ["keep"], None, embed, negated)


def test_dependence_counts_what_a_match_owes_to_the_negated_stretch() -> None:
    from assistant.generation.scoring import negation_dependence

    cards, query = _dependence_query("neg")
    assert query.full_text == "keep neg"
    dense = cards.dense(query.vector)
    learned = cards.learned_log_proba(query.vector)
    found = negation_dependence(query, cards, dense, cards.keyword(query.text), learned)
    # Putting the negated words back lifts the card they name, not the kept one.
    assert found["negated_lift"][1] > 0.3 and found["negated_lift"][0] == 0.0
    # The card nearest the negated stretch ranks first under it.
    assert found["negated_nearest"][1] > found["negated_nearest"][0]
    for values in found.values():
        assert (values >= 0.0).all()


def test_dependence_is_zero_without_a_negated_stretch() -> None:
    from assistant.generation.scoring import negation_dependence

    cards, query = _dependence_query("")
    assert query.full_vector is None
    found = negation_dependence(query, cards, cards.dense(query.vector),
                                cards.keyword(query.text),
                                cards.learned_log_proba(query.vector))
    assert all(not values.any() for values in found.values())


def test_a_card_the_user_ruled_out_is_not_recommended() -> None:
    from assistant.generation.engine import ruled_out_by_user

    windows = decision("nodes.windows", ["Windows workloads", "Azure"])
    general = decision("nodes.per-class", ["mixed workloads", "Windows workloads"])
    said: dict[str, bool | None] = {"azure": True, "windows workloads": False}
    refuted = frozenset({"windows workloads"})
    ruled, fits = cand(windows, 0.8), cand(general, 0.6)
    assess_conditions(ruled, said, set(), refuted)
    assess_conditions(fits, said, set(), refuted)
    # Both name the refuted situation; hosting alone speaks for the Windows card.
    assert ruled.refuted and fits.refuted and ruled.matched and not ruled.backed
    ruled.negated_rank, fits.negated_rank = 0.0, 7.0
    assert ruled_out_by_user(ruled, 2.0) and not ruled_out_by_user(fits, 2.0)
    # Rank 0 is off: the rule leaves every card alone.
    assert not ruled_out_by_user(ruled, 0.0)
    cards = index([windows, general], [[1, 0, 0, 0], [0, 1, 0, 0]])
    on = Weights(coef={}, bias=0.0, settings={**SETTINGS, "negated_rank_max": 2.0},
                 embedder="model")
    assert chosen_ids(select(analysis([ruled, fits]), cards, weights=on)) == [
        "nodes.per-class"]
    assert "nodes.windows" in chosen_ids(select(analysis([ruled, fits]), cards, weights=W))
    assert "nodes.windows" in chosen_ids(select(analysis([ruled, fits]), cards,
                                                frozenset({"negation-ruled-out"}), on))
    # A condition beyond hosting that speaks for it (another part asks for it) keeps it.
    backed = cand(windows, 0.8)
    assess_conditions(backed, {**said, "windows workloads": True}, set(), refuted)
    backed.negated_rank = 0.0
    assert backed.backed and not ruled_out_by_user(backed, 2.0)


def test_under_another_model_a_retrieved_passage_of_any_candidate_is_enough() -> None:
    """Two identical passages are kept once, from either document: the best card's own
    passage may be the one dropped. Its section is cited by lookup, so that alone is no
    reason to decline; no candidate with a retrieved passage is."""
    a, b = decision("capacity.spot"), decision("capacity.spot-pools")
    cards = index([a, b], [[1, 0, 0, 0], [0.9, 0.1, 0, 0]])
    other = Weights(coef={}, bias=0.0, settings=SETTINGS, embedder="another-model")
    protos = {"cards": 0.5, "harmful": 0.0, "private": 0.0, "off_topic": 0.0}
    best_unretrieved = cand(a, 0.8)
    best_unretrieved.passages.clear()
    found = _decline(_Request(cards), [best_unretrieved, cand(b, 0.7)], protos, (),  # type: ignore[arg-type]
                     other)
    assert found is None
    nothing = cand(b, 0.7)
    nothing.passages.clear()
    found = _decline(_Request(cards), [best_unretrieved, nothing], protos, (),  # type: ignore[arg-type]
                     other)
    assert found is not None and found[0] == "insufficient_evidence"
