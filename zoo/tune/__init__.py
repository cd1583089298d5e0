"""``cnncost tune``: hyperparameter search on Optuna whose trials are ``cnncost train`` runs, each counted
exactly by the engine before it trains."""
