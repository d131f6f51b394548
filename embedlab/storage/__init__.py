"""Storage: embedlab's data directory and the files in it (SQLite opening, atomic writes, setting aside)."""
