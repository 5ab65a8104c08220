"""hybridrec: a reproducible replication of "Hybrid Recommendation System using Graph Neural
Network and BERT Embeddings" (GraphSAGE over a user-anime graph with MiniLM synopsis embeddings).

The package holds the logic; ``stages/`` holds the thin DVC entry points; ``baselines/`` the comparators.
"""

__version__ = "0.1.0"
