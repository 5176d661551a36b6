"""Retrieval: passages for a question (dense + BM25) and the decision-card index."""
