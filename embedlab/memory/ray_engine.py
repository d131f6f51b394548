"""Encode a collection's texts with Ray Data: one loaded model per actor, on a cluster or a local Ray.

:func:`encode_with_ray` is the one entry point; :func:`embedlab.memory.build_collection` calls it
when ``engine="ray"`` and writes the vectors it yields into LanceDB itself. The texts go to Ray as
one block per batch of ``batch_size`` texts (so every actor gets work), ``map_batches`` runs
:class:`TextEncoder` in a fixed actor pool, and ``iter_batches`` hands the finished blocks back in
the order they finish.

Why not Ray's own Lance writer (``Dataset.write_lance``): with Ray 2.60 and the pylance that
installs beside it, it fails (``write_fragments() got an unexpected keyword argument
'storage_options_provider'``), and it would bypass the collection's versioning, incremental build
and resume; see docs/scaling-collections.md.

Ray is imported inside the functions that need it: ``import embedlab.memory`` must not load it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..runs import check_callback
from ..validation import check_positive_int, check_texts
from .results import CollectionError

__all__ = ["ADDRESS_TIMEOUT_S", "FORWARD_BATCH", "TextEncoder", "encode_with_ray"]

#: Seconds allowed for a Ray address to answer before :class:`CollectionError`.
ADDRESS_TIMEOUT_S = 30.0
#: Texts per forward pass inside an actor: embedlab.encode's default, so the two engines do the same work.
FORWARD_BATCH = 32
#: Set in every actor: no model weights or anything else from the network.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
#: Passed on to the actors when set in the driver (where models and the data directory live).
PASSED_ENV = ("EMBEDLAB_HOME", "EMBEDLAB_MODEL_DIRS", "EMBEDLAB_BACKEND")
#: The folder holding the ``embedlab`` package.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class TextEncoder:
    """The Ray Data actor: loads the model once, then encodes rows of ``{"start", "texts"}``.

    Each dataset row is one batch: ``texts`` (a list of str) are ``texts[start : start + len]``
    of the caller's sequence. The output has one row per text: ``position`` and ``vector``.

    Parameters
    ----------
    model : str
        The model name, as :func:`embedlab.load_model` takes it (packaged weights, no network).
    backend : str, optional
        What runs it (see :mod:`embedlab.models.backends`); None: ``load_model``'s default.
    """

    def __init__(self, model: str, backend: str | None = None):
        import torch

        from ..models.catalog import load_model

        torch.set_num_threads(1)  # one core per actor: the pool, not torch, spreads the work
        self.embedder = load_model(model) if backend is None else load_model(model, backend=backend)

    def __call__(self, batch: dict) -> dict:
        from ..models.encoding import encode

        rows = [[str(t) for t in texts] for texts in batch["texts"]]
        positions = np.concatenate(
            [
                np.arange(start, start + len(texts), dtype=np.int64)
                for start, texts in zip(batch["start"], rows, strict=True)
            ]
        )
        # no embedding cache: the collection is the store, and actors on a cluster share no disk
        vectors = encode([t for texts in rows for t in texts], self.embedder, batch_size=FORWARD_BATCH, use_cache=False)
        return {"position": positions, "vector": vectors}


def encode_with_ray(
    texts: Sequence[str],
    *,
    model: str,
    address: str | None = None,
    batch_size: int = 256,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encode ``texts`` with Ray Data and yield the vectors batch by batch as they finish.

    Arguments are checked when called; Ray starts (or is connected to) when the first batch is
    asked for, and is shut down when the iteration ends, is stopped or the iterator is closed
    (a Ray this function started; a cluster given by ``address`` is only disconnected from).

    Parameters
    ----------
    texts : sequence of str
        The texts to encode.
    model : str
        A model name as :func:`embedlab.load_model` takes it; each actor loads it once.
    address : str, optional
        A running Ray cluster (``"host:port"``, ``"auto"`` or ``"ray://host:port"``); None starts
        a local Ray with ``os.cpu_count()`` CPUs for this run.
    batch_size : int, default 256
        Texts per actor call (one block); Stop and progress are checked between them.
    workers : int, optional
        Actors in the pool, one CPU each; None: one per CPU of the cluster.
    progress : callable, optional
        Called as ``progress(done, total)`` (texts) at the start and after every batch.
    should_stop : callable, optional
        Asked between batches; True ends the run (the Ray job is stopped, nothing more is yielded).

    Yields
    ------
    positions : ndarray of shape (n,), int64
        Indices into ``texts`` of this batch; over the whole run every position comes exactly once.
    vectors : ndarray of shape (n, dim), float32
        Unit rows, equal to ``embedlab.encode(texts[positions], model)`` within float noise.

    Raises
    ------
    TypeError, ValueError
        For bad arguments (the message names the parameter).
    CollectionError
        When the Ray at ``address`` does not answer within :data:`ADDRESS_TIMEOUT_S` seconds, or
        the workers fail (the model cannot be loaded there, ...): one sentence.

    Examples
    --------
    >>> from embedlab.memory.ray_engine import encode_with_ray
    >>> batches = list(encode_with_ray(["a cat", "a dog"], model="all-MiniLM-L6-v2", workers=1))  # doctest: +SKIP
    """
    texts = check_texts(texts)
    if not isinstance(model, str) or not model.strip():
        raise TypeError(f"model must be a model name (a non-empty str), got {model!r}.")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise TypeError(f"address must be a Ray address such as 'host:6379', or None, got {address!r}.")
    batch_size = check_positive_int(batch_size, "batch_size")
    workers = None if workers is None else check_positive_int(workers, "workers")
    check_callback(progress, "progress")
    check_callback(should_stop, "should_stop")
    address = None if address is None else address.strip()
    return _run(texts, model, _backend_for(model), address, batch_size, workers, progress, should_stop)


def _run(texts, model, backend, address, batch_size, workers, progress, should_stop):
    import ray

    runtime_env = _runtime_env(local=address is None)
    started = _connect(address, runtime_env)
    batches = None
    try:
        with _quiet_data():
            import ray.data

            pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            dataset = _dataset(texts, batch_size).map_batches(
                TextEncoder,
                fn_constructor_kwargs={"model": model, "backend": backend},
                compute=ray.data.ActorPoolStrategy(size=pool),
                batch_size=None,  # one call per block of at most batch_size rows (see _dataset)
                batch_format="numpy",
                num_cpus=1,
                runtime_env={"env_vars": runtime_env["env_vars"]},  # also when Ray was already running
            )
            total, done = len(texts), 0
            if progress is not None:
                progress(0, total)
            batches = iter(dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1))
            while not (should_stop is not None and should_stop()):
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                positions = np.asarray(batch["position"], dtype=np.int64)
                vectors = np.ascontiguousarray(_as_matrix(batch["vector"]), dtype=np.float32)
                done += len(positions)
                yield positions, vectors
                if progress is not None:
                    progress(done, total)
    except CollectionError:
        raise
    except Exception as error:  # Ray Data re-raises the workers' errors (their type, or a RayError)
        raise CollectionError(f"The Ray workers could not encode the texts: {_first_line(error)}.") from None
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # ends the streaming execution: its actors are killed
        if started:
            ray.shutdown()


@contextlib.contextmanager
def _quiet_data():
    """No progress bars (the caller reports progress) and only Ray Data's warnings, for the run."""
    import ray.data

    context = ray.data.DataContext.get_current()
    bars, context.enable_progress_bars = context.enable_progress_bars, False
    loggers = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name, level in loggers.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        context.enable_progress_bars = bars
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _backend_for(model: str) -> str | None:
    """The backend the driver's vectors of ``model`` are keyed under, decided here without loading it.

    Every actor then runs that one backend: the collection's vectors all come from the backend its
    cache key names, and no actor calibrates ``auto`` on its own (all at once, on every node).
    """
    try:
        from ..models.backends import key_backend
    except ImportError:  # a checkout without per-machine backends
        return None
    return key_backend(model)


def _dataset(texts: list[str], batch_size: int):
    """The texts as a Ray Dataset with one row, and one block, per batch: ``start``, ``texts``.

    One block per actor call, so the pool shares the work (one big block would go to one actor)
    and each yielded batch is one block. ``from_items`` builds the blocks here, one per batch
    (not per text: 100,000 texts are 391 items); ``from_pandas``/``from_arrow`` would run a
    metadata task per block on the cluster, competing with the actors for its CPUs.
    """
    import ray.data

    items = [{"start": start, "texts": texts[start : start + batch_size]} for start in range(0, len(texts), batch_size)]
    return ray.data.from_items(items, override_num_blocks=len(items))


def _runtime_env(*, local: bool) -> dict:
    """Environment of the actors: offline, the driver's data folders, and the embedlab package.

    On a local Ray the package is found through ``PYTHONPATH`` (nothing to upload); on a cluster
    it is shipped as a ``py_modules`` entry (the cluster needs the project's requirements).
    """
    env = dict(OFFLINE_ENV)
    env.update({name: os.environ[name] for name in PASSED_ENV if os.environ.get(name)})
    if local:
        paths = [str(PACKAGE_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        return {"env_vars": env}
    return {"env_vars": env, "py_modules": [str(PACKAGE_ROOT / "embedlab")]}


def _as_matrix(column) -> np.ndarray:
    """Ray's tensor column (an ndarray, or an object array of rows) as one (n, dim) array."""
    array = np.asarray(column)
    if array.dtype == object:
        array = np.stack([np.asarray(row, dtype=np.float32) for row in array])
    return array


def _connect(address: str | None, runtime_env: dict) -> bool:
    """Start a local Ray or connect to ``address`` for this run (True), with the actors' ``runtime_env``.

    A Ray already running in this process is used as it is and left running (False).
    """
    import ray

    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "runtime_env": runtime_env}
    if address is None:
        # "local": a new Ray even when `ray start` left one running here (None would join that one)
        ray.init("local", num_cpus=os.cpu_count() or 1, include_dashboard=False, configure_logging=False, **quiet)
        return True
    _check_answers(address)
    try:
        ray.init(address=address, **quiet)
    except Exception as error:  # ConnectionError, RuntimeError, ray.exceptions.AuthenticationError, ...
        raise CollectionError(f"Ray at {address} did not answer: {_first_line(error)}.") from None
    return True


def _check_answers(address: str, timeout: float = ADDRESS_TIMEOUT_S) -> None:
    """Raise :class:`CollectionError` unless a Ray cluster answers at ``address`` within ``timeout`` s.

    ``ray.init`` itself retries an address that does not answer for many minutes (and a shorter
    retry setting makes Ray end the process), so the address is tried first: a TCP connection
    (refused or unreachable fails fast), then Ray's own client in a child process, killed at the
    deadline.
    """
    deadline = time.monotonic() + timeout
    host_port = address.removeprefix("ray://")
    if address != "auto":
        host, _, port = host_port.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise CollectionError(f"{address!r} is not a Ray address; give host:port, 'auto' or ray://host:port.")
        try:
            with socket.create_connection((host, int(port)), timeout=min(10.0, timeout)):
                pass
        except OSError as error:
            why = str(error.strerror or error).rstrip(".")
            raise CollectionError(f"Ray at {address} did not answer: {why[:1].lower()}{why[1:]}.") from None
    if address.startswith("ray://"):
        return  # a Ray Client server: ray.init has its own bounded retries
    probe = (
        "import sys, ray\n"
        "from ray._private import services\n"
        "ray._raylet.GcsClient(address=services.canonicalize_bootstrap_address_or_die(sys.argv[1]))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe, address],
            capture_output=True,
            text=True,
            timeout=max(1.0, deadline - time.monotonic()),
        )
    except subprocess.TimeoutExpired:
        raise CollectionError(
            f"Ray at {address} did not answer: no Ray cluster replied within {timeout:.0f} s."
        ) from None
    if done.returncode:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        if "AuthenticationError" in last:
            raise CollectionError(
                f"Ray at {address} refused the connection: the cluster uses token authentication, so set "
                "RAY_AUTH_MODE=token and give its token (RAY_AUTH_TOKEN or ~/.ray/auth_token)."
            )
        last = last if len(last) <= 300 else last[:297] + "..."
        raise CollectionError(f"Ray at {address} did not answer: {last.rstrip('.')}.")


def _first_line(error: BaseException) -> str:
    """The innermost useful line of a (Ray) error, at most 300 characters, no final full stop."""
    cause = error
    while getattr(cause, "cause", None) is not None and cause.cause is not cause:  # RayTaskError wraps
        cause = cause.cause
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    text = lines[-1] if lines else type(cause).__name__
    text = re.sub(r"^(?:[A-Za-z_][\w]*\.)+(?=[A-Z]\w*: )", "", text)  # "embedlab.x.Error: ..." -> "Error: ..."
    text = text if len(text) <= 300 else text[:297] + "..."
    return text.rstrip(".")
