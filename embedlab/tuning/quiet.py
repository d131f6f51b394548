"""Libraries' own progress bars turned off while embedlab reports progress itself.

sentence-transformers' model card ("Computing widget examples") and model2vec's distillation
("Encoding tokens") draw tqdm bars on stderr with no option to turn them off; the server log and
the command line would fill with them. :func:`no_bars` replaces the ``tqdm`` those modules
imported with a disabled one for the duration of a call.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Iterator

#: Modules that draw a bar during fine-tuning or distillation (imported lazily: they import torch).
NOISY = ("sentence_transformers.base.model_card", "model2vec.distill.inference")


@contextlib.contextmanager
def no_bars(*modules: str) -> Iterator[None]:
    """Within the block, ``tqdm`` in each of ``modules`` (default :data:`NOISY`) draws nothing."""
    patched = []
    for name in modules or NOISY:
        try:
            module = importlib.import_module(name)
        except ImportError:  # another version keeps its bars elsewhere: nothing to silence
            continue
        original = getattr(module, "tqdm", None)
        if original is not None:
            module.tqdm = functools.partial(original, disable=True)
            patched.append((module, original))
    try:
        yield
    finally:
        for module, original in patched:
            module.tqdm = original
