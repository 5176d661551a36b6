"""Index: embeddings, the vector store and its generations, the keyword index, and writing them."""
