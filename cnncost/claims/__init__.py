"""Auditing claimed formulas; import ``cnncost.claims.parser`` explicitly (it loads sympy)."""
