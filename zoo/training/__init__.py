"""Training zoo networks: data, strategies, loop, reports. Imports torch."""
