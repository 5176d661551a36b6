"""The UI's pure helpers (assistant/ui/logic.py), without Streamlit."""

from __future__ import annotations

from types import SimpleNamespace

from assistant.schemas import (
    Decision,
    PlanAnswer,
    PlanningProfile,
    Recommendation,
    Source,
)
from assistant.ui import logic


def _source(
    sid: str, snippet: str, section: str = "Run three etcd members", **kw: object
) -> Source:
    data: dict[str, object] = {
        "id": sid,
        "title": "Control-plane sizing",
        "section": section,
        "path": "availability/control-plane.md",
        "url": "https://etcd.io/docs/v3.5/faq/",
        "snippet": snippet,
        "score": 0.5,
        "decision_ids": ["availability.etcd"],
    }
    data.update(kw)
    return Source.model_validate(data)


def _rec(did: str, title: str = "A decision", citations: list[str] | None = None) -> Recommendation:
    return Recommendation(
        decision_id=did,
        title=title,
        recommendation=f"Do {title}.",
        rationale="Because.",
        confidence="medium",
        citations=citations or ["s1"],
    )


def _answer(**kw: object) -> PlanAnswer:
    data: dict[str, object] = {"question": "q", "status": "answered", "summary": "", "backend": "x"}
    data.update(kw)
    return PlanAnswer.model_validate(data)


# --------------------------------------------------------------------------- profile


def test_only_the_explicit_profile_is_sent_and_a_stated_fact_wins_over_it() -> None:
    explicit = PlanningProfile(hosting=["azure"], availability="high")
    sent = logic.explicit_to_send(explicit, PlanningProfile(hosting=["on-prem"]))
    assert sent == PlanningProfile(availability="high")
    assert logic.explicit_to_send(explicit, PlanningProfile()) == explicit


def test_inferred_profile_leaves_out_what_the_user_set() -> None:
    answer = _answer(profile=PlanningProfile(hosting=["aws"], team_size=3))
    inferred = logic.inferred_profile(answer, PlanningProfile(team_size=3))
    assert inferred == PlanningProfile(hosting=["aws"])
    # The engine's own report wins when it has one (profile branch: meta.inferred_profile).
    meta = SimpleNamespace(inferred_profile=PlanningProfile(hosting=["gcp"]))
    reported = SimpleNamespace(meta=meta, profile=PlanningProfile(hosting=["aws"]))
    assert logic.inferred_profile(reported, PlanningProfile()) == PlanningProfile(  # type: ignore[arg-type]
        hosting=["gcp"]
    )


def test_chips_mark_inferred_facts_and_confirming_moves_them_to_explicit() -> None:
    explicit = PlanningProfile(availability="high")
    inferred = PlanningProfile(hosting=["aws"], availability="low")
    chips = logic.profile_chips(explicit, inferred)
    assert [(c.field, c.value, c.inferred) for c in chips] == [
        ("hosting", "aws", True),
        ("availability", "high", False),
    ]
    assert chips[0].text == "Hosting: aws (inferred)"
    confirmed = logic.confirm_fact(explicit, inferred, "hosting")
    assert confirmed == PlanningProfile(hosting=["aws"], availability="high")


def test_form_edits_make_only_changed_fields_explicit() -> None:
    shown = PlanningProfile(hosting=["aws"], team_size=3)
    submitted = PlanningProfile(hosting=["aws"], team_size=3, availability="high")
    assert logic.form_edits(shown, submitted, PlanningProfile()) == PlanningProfile(
        availability="high"
    )
    cleared = PlanningProfile(hosting=["aws"])
    assert logic.form_edits(shown, cleared, PlanningProfile(team_size=3)) == PlanningProfile()


def test_profile_changes_say_what_changed() -> None:
    after = _answer(profile=PlanningProfile(hosting=["on-prem"], team_size=3))
    before = PlanningProfile(hosting=["azure"])
    assert logic.profile_changes(after, before) == [
        "Hosting changed from azure to on-prem",
        "Platform team size: now 3",
    ]
    assert logic.profile_changes(after, None) == []


def test_open_questions_about_profile_dimensions_are_choices() -> None:
    questions = {"hosting": "Where?", "availability": "How available?", "clusters": "How many?"}
    hosting = logic.open_question_form("Where?", questions)
    assert hosting.field == "hosting" and hosting.multiple and "on-prem" in hosting.options
    level = logic.open_question_form("How available?", questions)
    assert level.field == "availability" and level.options == ("low", "medium", "high")
    assert not logic.open_question_form("How many?", questions).is_choice
    assert not logic.open_question_form("Anything else?", questions).is_choice
    profile = logic.answer_open_question(PlanningProfile(), "availability", "high")
    assert profile.availability == "high"
    assert logic.answer_open_question(profile, "compliance", ["pci", "none"]).compliance == ["pci"]
    assert logic.answer_open_question(profile, "team_size", 4).team_size == 4


# --------------------------------------------------------------------------- answers


def test_question_limit_comes_from_the_settings_when_they_have_one() -> None:
    assert logic.max_question_chars(SimpleNamespace()) == 2000
    assert logic.max_question_chars(SimpleNamespace(max_question_chars=50)) == 50
    assert logic.question_problem("x" * 51, 50) is not None
    assert logic.question_problem("  ", 50) is not None
    assert logic.question_problem("How many etcd members?", 50) is None


def test_summary_does_not_repeat_the_first_card_or_the_profile_note() -> None:
    rec = _rec("a.b", "Run three etcd members")
    answer = _answer(
        summary="Run three etcd members: Do Run three etcd members. Also consider: X. "
        "(Planning profile used: hosting azure.)",
        recommendations=[rec],
    )
    assert logic.summary_text(answer) == "Start with “Run three etcd members”. Also consider: X."


def test_whole_sentences_drop_a_sentence_cut_short() -> None:
    assert logic.whole_sentences("Fits. From “x”: A long sentence that was cut…") == "Fits."
    assert logic.whole_sentences("One. Two.") == "One. Two."
    assert logic.whole_sentences("Nothing ends here…") == "Nothing ends here…"


def test_overlapping_passages_of_one_section_merge_into_one_source() -> None:
    a = _source("s1", "Three etcd members keep quorum when one fails. Spread them over zones")
    b = _source("s2", "when one fails. Spread them over zones so an outage leaves two.")
    c = _source("s3", "Managed planes run etcd.", section="Managed", url=None)
    entries, numbers = logic.merge_sources([a, b, c])
    assert [e.number for e in entries] == [1, 2]
    assert numbers == {"s1": 1, "s2": 1, "s3": 2}
    assert entries[0].text == (
        "Three etcd members keep quorum when one fails. Spread them over zones so an outage "
        "leaves two."
    )
    assert entries[0].ids == ["s1", "s2"]
    assert entries[0].label == "[1] Control-plane sizing — Run three etcd members"
    rec = _rec("a.b", citations=["s2", "s1", "s3"])
    assert logic.cited_numbers(rec, numbers) == [1, 2]


def test_other_documents_are_uncurated_passages_not_cited() -> None:
    curated = _source("s1", "etcd")
    upload = _source("u1", "backups", decision_ids=[], title="notes.md", url=None)
    zero = _source("u2", "looked up", decision_ids=[], score=0.0)
    assert logic.other_documents([curated, upload, zero], ["s1"]) == [upload]
    assert logic.other_documents([upload], ["u1"]) == []


def test_cards_are_grouped_by_topic_in_first_seen_order() -> None:
    recs = [_rec("gitops.a"), _rec("secrets.b"), _rec("gitops.c")]
    assert logic.group_by_topic(recs) == [("gitops", [0, 2]), ("secrets", [1])]


def _decision(did: str, alternatives: list[str]) -> Decision:
    return Decision(
        id=did,
        title=f"Decision {did}",
        recommendation="Recommend this decision in full.",
        when=["small team"],
        avoid_when=["air-gapped"],
        tradeoffs=["costs"],
        alternatives=alternatives,
        sources=["https://example.org"],
    )


def test_a_versus_question_with_alternatives_gets_a_comparison() -> None:
    catalogue = {
        "gitops.argo": _decision("gitops.argo", ["gitops.flux"]),
        "gitops.flux": _decision("gitops.flux", []),
        "secrets.eso": _decision("secrets.eso", []),
    }
    recs = [_rec("gitops.argo", "Argo CD"), _rec("gitops.flux", "Flux"), _rec("secrets.eso")]
    rows = logic.comparison_rows("Argo CD or Flux?", recs, catalogue)
    assert [r["option"] for r in rows] == ["Argo CD", "Flux"]
    assert rows[0]["fits when"] == "small team" and rows[0]["avoid when"] == "air-gapped"
    assert logic.comparison_rows("Which GitOps tool?", recs, catalogue) == []
    assert logic.comparison_rows("Argo or ESO?", [recs[0], recs[2]], catalogue) == []


def test_server_paths_are_hidden() -> None:
    text = "the collection 'x' does not exist in /srv/data/chroma."
    assert logic.hide_paths(text, ["/srv/data", "/srv/data/chroma"]) == (
        "the collection 'x' does not exist in the server's data folder."
    )


def test_ruled_out_facts_show_when_the_engine_reports_them() -> None:
    meta = SimpleNamespace(negated_profile=PlanningProfile(hosting=["aws"]))
    answer = SimpleNamespace(meta=meta)
    [chip] = logic.ruled_out_chips(answer)  # type: ignore[arg-type]
    assert chip.text == "Hosting: not aws (inferred)"
    assert logic.ruled_out_chips(_answer()) == []


def test_removing_an_inferred_fact_retracts_its_value_until_a_question_states_it() -> None:
    inferred = PlanningProfile(hosting=["aws", "on-prem"], team_size=3)
    gone = logic.retract_fact(PlanningProfile(), inferred, "hosting")
    assert gone == PlanningProfile(hosting=["aws", "on-prem"])
    gone = logic.retract_fact(gone, inferred, "team_size")
    assert gone.team_size == 3
    assert logic.retract_fact(gone, inferred, "availability") == gone  # nothing inferred
    # A new question that names a hosting ends that retraction, not the others.
    kept = logic.retracted_to_send(gone, PlanningProfile(hosting=["gcp"]))
    assert kept == PlanningProfile(team_size=3)


def test_a_replan_note_names_what_was_set_and_what_was_removed() -> None:
    set_, gone = PlanningProfile(availability="high"), PlanningProfile(hosting=["aws"])
    assert logic.replan_note(set_, PlanningProfile()) == (
        "Re-planned with the facts you set: Availability target: high"
    )
    assert logic.replan_note(PlanningProfile(), gone) == (
        "Re-planned without the facts you removed: Hosting: aws"
    )
    assert "read from the conversation apply" in logic.replan_note(
        PlanningProfile(), PlanningProfile()
    )
    both = logic.replan_note(set_, gone)
    assert "Availability target: high" in both and "removed: Hosting: aws" in both
    assert logic.compared_profiles(PlanningProfile(hosting=["aws"]), PlanningProfile()) == [
        "Hosting: aws no longer applies"
    ]


def test_the_streamed_summary_drops_the_first_card_once_it_arrives() -> None:
    first = _rec("platform.managed", "Use a managed control plane")
    summary = "Use a managed control plane: Do Use a managed control plane. Then size it."
    assert logic.summary_lead(summary, None) == summary
    lead = logic.summary_lead(summary, first)
    assert lead.startswith("Start with \u201cUse a managed control plane\u201d.")


def test_a_fact_the_user_removed_shows_as_ruled_out_without_the_inferred_mark() -> None:
    meta = {"negated_profile": PlanningProfile(hosting=["aws"], compliance=["pci"])}
    answer = _answer(summary="x").model_copy(
        update={"meta": _answer(summary="x").meta.model_copy(update=meta)}
    )
    chips = logic.ruled_out_chips(answer, PlanningProfile(hosting=["aws"]))
    assert [c.text for c in chips] == ["Hosting: not aws", "Compliance: not pci (inferred)"]


def test_only_the_latest_answers_stay_whole() -> None:
    roles = [("user", False), ("assistant", False)] * 3 + [("assistant", False)]
    assert logic.FULL_ANSWERS == 2
    # Answers at 1, 3, 5, 6: the last two stay whole.
    assert logic.folded(roles) == {1, 3}
    assert logic.folded(roles, expanded=[1]) == {3}
    # A superseded answer is not folded here (it has its own folded look).
    roles[5] = ("assistant", True)
    assert logic.folded(roles) == {1}
