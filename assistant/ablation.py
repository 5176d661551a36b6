"""Switchable components of the answer engine, for ablation studies (``kubeplan eval --ablate``).

The engine reads the set of switched-off names from ``GenerationRequest.ablations`` (and
``Assistant._answer`` for the stages before generation); the eval harness reads the names
from ``COMPONENTS`` at run time, so a new engine only has to change this table.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import InputError

COMPONENTS: dict[str, str] = {
    "synonyms": "scope.yaml synonym expansion of the query and of each part of a question",
    "card-matching": "lexical match of the question against decision cards, and the section "
    "lookups of card-matched decisions",
    "retrieval-evidence": "retrieved passages voting for the decisions they explain",
    "profile-fit": "fit of the planning profile and question against a card's when/avoid_when",
    "curated-top-up": "curated-only search when uncurated passages fill the results",
}


def checked(names: Iterable[str]) -> frozenset[str]:
    """``names`` as a set, or ``InputError`` naming the first unknown one."""
    wanted = frozenset(names)
    for name in sorted(wanted):
        if name not in COMPONENTS:
            raise InputError(
                f"unknown ablation {name!r}.", f"use one of: {', '.join(COMPONENTS)}."
            )
    return wanted
