"""Benchmarking: timing models on the user's texts on this machine, the saved runs, and what machine it was.

* :mod:`~embedlab.benchmarking.run` — :func:`benchmark` (the loop) and :func:`advice` (the lesson's rule on it);
* :mod:`~embedlab.benchmarking.loading` — loading a model fresh, measuring memory;
* :mod:`~embedlab.benchmarking.results` — :class:`BenchmarkRun`, :class:`BenchmarkSettings`, the table, JSON,
  :func:`compare_runs`;
* :mod:`~embedlab.benchmarking.store` — :class:`BenchmarkStore`, the saved runs (SQLite);
* :mod:`~embedlab.benchmarking.figures` — the Speed Benchmark's charts (plotly);
* :mod:`~embedlab.benchmarking.machine` — what machine it ran on.
"""
