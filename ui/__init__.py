"""Streamlit-specific helpers shared by the pages: widgets and caching wrappers. No computation."""
