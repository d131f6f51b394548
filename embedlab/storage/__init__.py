"""Storage: where embedlab keeps its files and how it writes them without losing any.

* :mod:`~embedlab.storage.home` — the data directory (``$EMBEDLAB_HOME``, else ``~/.embedlab``);
* :mod:`~embedlab.storage.folders` — setting damaged files aside, building a folder once;
* :mod:`~embedlab.storage.files` — atomic text writes;
* :mod:`~embedlab.storage.sqlite` — opening the SQLite files: checked, set aside when damaged, WAL.

Nothing here knows about models or results: the layers above (models, benchmarking, reviewing) use it.
"""
