"""Retrieval: passages for a question (dense + BM25, fused) and the decision-card index."""
