"""Switchable components of the answer engine, for ablation runs (``kubeplan eval --ablate``).

Lowest layer: the harness reads ``COMPONENTS`` at run time, the engine reads the set of
switched-off names from ``GenerationRequest.ablations``.
"""

from __future__ import annotations

from collections.abc import Iterable

from assistant.errors import InputError

COMPONENTS: dict[str, str] = {
    "card-retrieval": "dense (MiniLM) and BM25 match of the question against the decision cards",
    "learned-cards": "the softmax card model fitted on the catalogue's own texts "
                     "(phrasings, fields, section sentences): its features and pool",
    "passage-evidence": "votes of the retrieved passages for the decisions they explain",
    "profile-fit": "when/avoid_when of each card checked against the planning profile",
    "aspects": "splitting the question into aspects, each scored and answered on its own",
    "enumerations": "lists inside a clause ('X, Y and Z', 'needs: X, Y', '1) X 2) Y') as "
                    "one aspect per item",
    "aspect-coverage": "each asking aspect scored on its own (in the question's hosting "
                       "context); its best card gets a slot when it clears the fitted "
                       "aspect_floor",
    "comparisons": "'X or Y' / 'X vs Y': every named option the catalogue has, order-free",
    "negation": "negated stretches ('we don't use Vault') left out of card matching and "
                "scored as evidence against the cards they match",
    "negation-dependence": "how much a card's match depends on what the user negated: its "
                           "dense, BM25 and learned score with the negated stretches put "
                           "back minus without them, and its nearness to those stretches "
                           "(fitted on dev plus a catalogue augmentation; counts only "
                           "against a card)",
    "negation-ruled-out": "a card is not recommended when the user's own words rule out a "
                          "situation its when names, it is among the cards nearest to what "
                          "they negated (fitted negated_rank_max), and only hosting speaks "
                          "for it",
    "negation-structure": "clause structure of negation scope: lists under one cue, a "
                          "parenthesis after the cue, past-state and migration clauses, "
                          "quantifiers ('nothing we run'), 'X is being shut down', 'evaluated "
                          "X but chose Y', swaps ('instead of') and 'not yet, but' "
                          "(vocabularies/negation_cues.yaml)",
    "cloud-services": "hosting inferred from managed services only one cloud sells "
                      "('every database is on RDS' -> aws; vocabularies/cloud_services.yaml)",
    "diversity": "MMR over card embeddings: no two recommendations saying the same thing",
    "abstention": "declines: the fitted abstention model (abstain.json) and the fitted "
                  "margins for unknown terms, private data, harmful and off-topic intent",
    "abstention-meaning": "inside the abstention model: the prototype classifier (what the "
                          "question asks for) and the grounding check (its salient words "
                          "in the retrieved evidence), set to their dev mean; the "
                          "classifier's harmful check off",
}


def checked(names: Iterable[str]) -> frozenset[str]:
    """``names`` as a set, or ``InputError`` naming the first unknown one."""
    found = frozenset(names)
    for name in sorted(found):
        if name not in COMPONENTS:
            raise InputError(
                f"unknown ablation {name!r}.", f"use one of: {', '.join(COMPONENTS)}."
            )
    return found
