"""Chain: the `Assistant` that wires understanding, retrieval and generation, and what it hands to interfaces."""
