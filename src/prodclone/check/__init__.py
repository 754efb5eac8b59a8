"""`inv refactor-check`: the local loop as one command with one verdict and one report."""
