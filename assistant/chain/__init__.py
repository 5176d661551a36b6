"""Chain: the `Assistant` that wires understanding, retrieval and generation together,
and what it hands to the interfaces (answer events, exports, plan diffs, feedback)."""
