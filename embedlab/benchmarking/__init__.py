"""Benchmarking: timing models on the user's texts on this machine, on each backend, the saved runs, and what machine it was.

* :mod:`~embedlab.benchmarking.run` — :func:`benchmark` (checks, then the loop) and :func:`advice` (the lesson's rule on it);
* :mod:`~embedlab.benchmarking.measure` — the loop: rows loaded fresh, warmed up, timed, checked against torch-fp32,
  saved as they finish;
* :mod:`~embedlab.benchmarking.loading` — loading a model fresh on a backend, the backends a model has, memory;
* :mod:`~embedlab.benchmarking.agreement` — cosine and top-1 agreement with torch-fp32;
* :mod:`~embedlab.benchmarking.sweep` — the thread and batch-size sweep;
* :mod:`~embedlab.benchmarking.results` — :class:`BenchmarkRun`, :class:`BenchmarkSettings`, the table, JSON;
* :mod:`~embedlab.benchmarking.comparison` — :func:`compare_runs`;
* :mod:`~embedlab.benchmarking.notes` — what a run means in sentences (stop notice, noisy timing, auto choice, sweep);
* :mod:`~embedlab.benchmarking.store` — :class:`BenchmarkStore`, the saved runs (SQLite);
* :mod:`~embedlab.benchmarking.figures` — the Speed Benchmark's charts (plotly);
* :mod:`~embedlab.benchmarking.machine` — what machine it ran on.
"""
