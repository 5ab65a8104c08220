"""The suite's own model families behind the RatingPredictor interface (the comparators live in
``baselines/``): ``gnn`` (the paper's GraphSAGE and its ablations)."""
