"""Choose the learned card model's penalty on the catalogue's own texts.

    python -m assistant.evaluation.fit_cards

For every penalty of ``card_model.L2_GRID`` the model is fitted on all training texts but
the cards' ``asked_as`` phrasings and scored on those (mean log-probability of the right
card, top-1 and top-5). The best penalty is what ``card_model.L2`` should say; the card
index fits with ``L2`` at build time. Reads no eval case.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    import numpy as np

    from assistant.chain.api import Assistant
    from assistant.retrieval import card_model
    from assistant.retrieval.cards import learned_training

    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    index = Assistant().card_index()
    if index.learned_path is None or not index.learned_path.is_file():
        raise SystemExit("no cached card model: is the data dir writable?")
    x, y, kinds = learned_training(index.learned_path)
    held = np.asarray([k == "asked" for k in kinds])
    print(f"{len(y)} training texts, {int(held.sum())} held-out phrasings, "
          f"{len(index.ids)} cards")
    scores: dict[float, float] = {}
    for l2 in card_model.L2_GRID:
        right, rank = card_model.held_out_log_proba(x, y, kinds, len(index.ids), l2)
        scores[l2] = float(right.mean())
        print(f"l2={l2:<8g} log-prob {right.mean():.3f}  top-1 {np.mean(rank == 0):.3f}  "
              f"top-5 {np.mean(rank < 5):.3f}")
    best = card_model.choose_l2(scores)
    print(f"card_model.L2 is {card_model.L2}; the best on held-out phrasings is {best}")


if __name__ == "__main__":
    main()
