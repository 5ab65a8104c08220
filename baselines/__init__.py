"""Comparators for the paper's model, all behind :class:`hybridrec.predictors.RatingPredictor`:
Surprise's classic algorithms (``surprise_models``) and the global mean."""
