"""Reviewing: speed and quality of candidate models side by side, the decision, saved reviews and reports."""
