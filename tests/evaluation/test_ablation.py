"""The ablation contract: component names, Assistant.with_ablations, engine switches, and
the harness's ablation rows."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest

from assistant import Assistant
from assistant.chain.ablation import COMPONENTS, checked
from assistant.errors import InputError
from assistant.evaluation import Case
from assistant.evaluation.ablate import ablation_row, resolve, run_ablations
from assistant.evaluation.metrics import MetricSummary
from assistant.evaluation.results import BackendSummary, SplitSummary
from assistant.index.embedding import FakeEmbedder
from assistant.index.indexer import run_ingest
from assistant.index.store import ChromaStore
from assistant.schemas import PlanAnswer, PlanningProfile
from tests.chain_support import FIXTURE_CORPUS, fixture_assistant, fixture_settings


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return fixture_assistant(tmp_path_factory.mktemp("ablation"))


@pytest.fixture(scope="module")
def duplicated(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The fixture corpus plus a card that repeats the spot card under another id (and
    names no alternative): only diversity keeps the two apart."""
    tmp = tmp_path_factory.mktemp("duplicated")
    corpus = tmp / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    text = (corpus / "capacity" / "spot.md").read_text(encoding="utf-8")
    head, _, rest = text.partition("  - id: capacity.on-demand-for-critical")
    head = (head.replace("id: spot-capacity", "id: spot-pools")
            .replace("id: capacity.spot-for-interruptible", "id: capacity.spot-node-pools")
            .replace("alternatives: [capacity.on-demand-for-critical]", "alternatives: []"))
    body = rest.partition("---\n")[2]
    (corpus / "capacity" / "pools.md").write_text(f"{head}---\n{body}", encoding="utf-8")
    settings = fixture_settings(tmp / "data", corpus_dir=corpus, collection="duplicated")
    store = ChromaStore.ephemeral()
    run_ingest([corpus], settings=settings, store=store, embedder=FakeEmbedder())
    return Assistant(settings, embedder=FakeEmbedder(), store=store)


def test_checked_names_and_resolve_all() -> None:
    assert checked(["diversity"]) == frozenset({"diversity"})
    with pytest.raises(InputError, match="unknown ablation 'magic'") as info:
        checked(["diversity", "magic"])
    assert info.value.fix == "use one of: " + ", ".join(COMPONENTS) + "."
    assert resolve(["all"]) == list(COMPONENTS)
    assert resolve(["profile-fit", "diversity", "profile-fit"]) == ["profile-fit", "diversity"]
    with pytest.raises(InputError):
        resolve(["nope"])


def test_with_ablations_shares_components_and_leaves_the_original_alone(small: Assistant) -> None:
    off = small.with_ablations(["profile-fit"])
    assert off.ablations == frozenset({"profile-fit"}) and small.ablations == frozenset()
    assert off.embedder is small.embedder and off.store is small.store
    assert off.retriever is small.retriever and off.load_catalogue() is small.load_catalogue()
    with pytest.raises(InputError):
        small.with_ablations(["nope"])


REGULATED = PlanningProfile(compliance=["pci"], isolation="high")


@dataclass(frozen=True)
class Probe:
    """A question whose answer a component shapes, and what its switch must change."""

    question: str
    profile: PlanningProfile | None = None
    corpus: str = "small"
    lost: str | None = None  # a decision recommended only with the component on
    gained: str | None = None  # a decision recommended only with it off
    status_off: str | None = None  # the answer's status with it off
    pair: tuple[str, str] | None = None  # recommended together only with it off
    hosting_lost: str | None = None  # a hosting fact in the answer's profile only with it on
    hosting_gained: str | None = None  # ...only with it off


#: One probe per component of the engine: a new component without a probe fails
#: ``test_every_component_has_a_probe``.
PROBES: dict[str, Probe] = {
    # Card match carries the recommendation's probability: it falls without it.
    "card-retrieval": Probe("How many etcd members should we run?"),
    # The learned card model is evidence too: the same card, less sure, without it.
    "learned-cards": Probe("How many etcd members should we run?"),
    # The cards alone do not answer: passage votes are the evidence.
    "passage-evidence": Probe("How many etcd members should we run?",
                              lost="availability.etcd-odd-members",
                              status_off="insufficient_evidence"),
    # PCI and strong isolation rule the shared-cluster card out and the separate one in.
    "profile-fit": Probe("How should we share clusters between our teams?", REGULATED,
                         lost="tenancy.separate-clusters",
                         gained="tenancy.namespaces-per-team"),
    # Each aspect is scored on its own: one question as a whole ranks them otherwise.
    # (Three aspects: with two, a refit of weights.json can leave both cards in either way.)
    "aspects": Probe("How many etcd members should we run? Should we use spot "
                     "capacity for batch jobs? How should teams share clusters?",
                     lost="tenancy.namespaces-per-team"),
    # An asking aspect's own best card gets a slot; without it the global fill decides.
    "aspect-coverage": Probe("We run on AWS with a team of three. How many etcd members "
                             "should we run, should batch jobs use spot capacity, and how "
                             "should teams share clusters?",
                             lost="capacity.spot-for-interruptible"),
    # A list inside one clause: each item is an aspect of its own.
    "enumerations": Probe("Our plan needs etcd member counts, spot capacity for batch jobs, "
                          "namespaces for teams."),
    # A negated stretch is no evidence for the card it names: with it read as evidence the
    # separate-clusters card wins the question that rules it out.
    "negation": Probe("We have no PCI or HIPAA requirements. How should teams share "
                      "clusters?", gained="tenancy.separate-clusters"),
    # A card matched through what the user negated ("no Windows node pools": taints that
    # keep pods off special nodes) counts less by how much its match depends on that.
    "negation-dependence": Probe("We don't need Windows node pools; our apps are Go "
                                 "services. How should the node pools on AKS look?",
                                 corpus="real", gained="nodes.taints-and-tolerations"),
    # A card for a situation the user says has ended, nearest to what they negated and
    # backed by nothing but the hosting, is left out; without the rule it comes back.
    "negation-ruled-out": Probe("We no longer run any Windows containers. How should we "
                                "lay out the node pools on AKS?", corpus="real",
                                gained="nodes.windows-node-pools"),
    # A list under one cue ("AWS, Azure or GCP") is negated whole only with the clause
    # structure on; with it off the last items read as the user's hosting.
    "negation-structure": Probe("We don't use AWS, Azure or GCP; our clusters are in our "
                                "own data centre. How should teams share the cluster?",
                                hosting_gained="gcp"),
    # A managed service only one cloud sells is read as that cloud's hosting.
    "cloud-services": Probe("Every database is on RDS. How should teams share the cluster?",
                            hosting_lost="aws"),
    # "X or Y": both options, not just the better one.
    "comparisons": Probe("Namespaces or separate clusters?", lost="tenancy.separate-clusters"),
    # The near-duplicate card comes back without MMR.
    "diversity": Probe("Should batch jobs run on spot instances?", corpus="duplicated",
                       pair=("capacity.spot-for-interruptible", "capacity.spot-node-pools")),
    # A name the knowledge base never uses declines, unless abstention is off.
    "abstention": Probe("How many etcd members should we run with Zorblax?",
                        gained="availability.etcd-odd-members", status_off="answered"),
    # What the question asks for, read by meaning: the user's own records are a gap the
    # knowledge base cannot fill, not a foreign subject.
    "abstention-meaning": Probe("Why did our online shop go down during the sale last "
                                "Saturday?", corpus="real", status_off="out_of_scope"),
}


def shape(answer: PlanAnswer) -> tuple[str, list[tuple[str, str]], list[str]]:
    return (answer.status, [(r.decision_id, r.confidence) for r in answer.recommendations],
            list(map(str, answer.profile.hosting)))


def test_every_component_has_a_probe() -> None:
    assert set(PROBES) == set(COMPONENTS)


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_switches_change_answers(
    component: str, small: Assistant, duplicated: Assistant, request: pytest.FixtureRequest
) -> None:
    probe = PROBES[component]
    assistant = {"duplicated": duplicated, "small": small}.get(probe.corpus)
    if assistant is None:
        assistant = request.getfixturevalue("corpus_assistant")
    on = assistant.ask(probe.question, profile=probe.profile)
    off = assistant.with_ablations([component]).ask(probe.question, profile=probe.profile)
    assert shape(off) != shape(on), f"switching {component} off changed nothing"
    ids_on = {r.decision_id for r in on.recommendations}
    ids_off = {r.decision_id for r in off.recommendations}
    if probe.lost:
        assert probe.lost in ids_on and probe.lost not in ids_off
    if probe.gained:
        assert probe.gained in ids_off and probe.gained not in ids_on
    if probe.status_off:
        assert off.status == probe.status_off and on.status != probe.status_off
    if probe.pair:
        assert len(ids_on & set(probe.pair)) == 1 and set(probe.pair) <= ids_off
    if probe.hosting_lost:
        assert probe.hosting_lost in on.profile.hosting
        assert probe.hosting_lost not in off.profile.hosting
    if probe.hosting_gained:
        assert probe.hosting_gained in off.profile.hosting
        assert probe.hosting_gained not in on.profile.hosting
    # The switch is the clone's alone: the original answers as before.
    assert shape(assistant.ask(probe.question, profile=probe.profile)) == shape(on)


def _split(pass_rate: float, recall: float, **suite: float) -> SplitSummary:
    return SplitSummary(
        split="dev",
        summary=BackendSummary(backend="g", cases=1, passed=1, metrics={
            "pass_rate": MetricSummary(value=pass_rate),
            "decision_recall": MetricSummary(value=recall)}),
        suite_metrics={k: MetricSummary(value=v) for k, v in suite.items()},
    )


def test_ablation_row_holds_deltas_per_split() -> None:
    normal = {"dev": _split(0.9, 0.95, consistency=0.8), "heldout": _split(0.7, 0.8)}
    ablated = {"dev": _split(0.6, 0.9, consistency=0.5), "heldout": _split(0.7, 0.75)}
    row = ablation_row("diversity", "grounded", normal, ablated)
    assert row.description == COMPONENTS["diversity"]
    assert row.deltas["dev"]["pass_rate"] == pytest.approx(-0.3)
    assert row.deltas["dev"]["consistency"] == pytest.approx(-0.3)
    assert row.deltas["heldout"] == {"pass_rate": 0.0, "decision_recall": pytest.approx(-0.05)}


def test_run_ablations_runs_each_component_over_the_cases(small: Assistant) -> None:
    from assistant.evaluation import run_eval

    # Each case leans on one component: switching it off fails the case.
    leans_on = {
        "passage-evidence": Case(id="etcd", question="How many etcd members should we run?",
                                 must=[["availability.etcd-odd-members"]]),
        "abstention": Case(id="unknown-name",
                           question="How many etcd members should we run with Zorblax?",
                           expect_status="insufficient_evidence"),
        "comparisons": Case(id="both-options", question="Namespaces or separate clusters?",
                            must=[["tenancy.separate-clusters"],
                                  ["tenancy.namespaces-per-team"]]),
        "profile-fit": Case(id="regulated", profile=REGULATED,
                            question="How should we share clusters between our teams?",
                            must=[["tenancy.separate-clusters"]],
                            must_not=["tenancy.namespaces-per-team"]),
    }
    cases = list(leans_on.values())
    report = run_eval(small, cases, ["grounded"], support_threshold=0.5)
    assert report.splits["grounded"]["dev"].summary.metrics["pass_rate"].value == 1.0
    rows = run_ablations(small, cases, report.splits["grounded"], resolve(["all"]), "grounded")
    assert [r.component for r in rows] == list(COMPONENTS)
    assert all(set(r.deltas) == {"dev"} and r.description for r in rows)
    by_name = {r.component: r.deltas["dev"]["pass_rate"] for r in rows}
    for component in leans_on:
        delta = by_name[component]
        assert delta is not None and delta <= -1 / len(cases) + 1e-9, component
