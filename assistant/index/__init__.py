"""Index: embeddings, the vector store and its generations, the keyword index, and the
indexer that writes them."""
