"""Where embedlab keeps its data: the persistent embedding cache, assembled models, saved runs."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EMBEDLAB_HOME"


def data_dir() -> Path:
    """Return embedlab's data directory, creating it if needed.

    ``$EMBEDLAB_HOME`` when set, else ``~/.embedlab``. Read on every call, so tests and
    servers can point it elsewhere at any time.
    """
    path = Path(os.environ.get(ENV_VAR) or Path.home() / ".embedlab").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
