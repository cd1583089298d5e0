"""Sweeps: the cost of whole hyperparameter grids from compiled closed forms."""
