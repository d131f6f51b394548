"""Benchmarking: timing models on the user's texts on this machine, the saved runs, and what machine it was."""
