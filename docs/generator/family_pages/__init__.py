"""Documentation pages of zoo families, one file per family group; each defines ``FAMILIES``."""
