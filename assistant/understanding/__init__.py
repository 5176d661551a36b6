"""Understanding: what a question asks (scope, aspects, negation) and the planning profile it states."""
