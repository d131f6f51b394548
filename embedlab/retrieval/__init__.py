"""Retrieval: exact cosine ranking, trace and query tables, and scoring whether queries bring back the right trace."""
