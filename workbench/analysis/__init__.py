"""Analysis toolkit: person vs situation, information flow, causal effects under interference."""
