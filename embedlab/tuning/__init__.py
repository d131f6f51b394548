"""Making a model better for the user's own domain: fine-tuning and distillation.

* :func:`finetune` trains a sentence-transformers model on (query, positive) pairs with
  sentence-transformers' trainer and judges it on held-out queries (:mod:`.finetune`);
* :func:`distil` makes a static model from a transformer with model2vec, for speed (:mod:`.distil`);
* :mod:`.pairs` checks, splits and reads pairs; :mod:`.heldout` judges a model on the held-out
  queries; :mod:`.cards` writes what a made model records about itself; :mod:`.saved` names,
  deletes and keeps (when rejected) the models made.

The made models live in :mod:`embedlab.models.user` and load like any catalog model.
"""

from .distil import DistilProgress, DistilResult, distil
from .finetune import FinetuneProgress, FinetuneResult, FinetuneSettings, estimate_seconds, finetune
from .pairs import Pairs, Split, check_pairs, example_pairs, pairs_from_text, read_pairs, split_pairs
from .saved import check_new_name, delete, keep_rejected

__all__ = [
    "DistilProgress",
    "DistilResult",
    "FinetuneProgress",
    "FinetuneResult",
    "FinetuneSettings",
    "Pairs",
    "Split",
    "check_new_name",
    "check_pairs",
    "delete",
    "distil",
    "estimate_seconds",
    "example_pairs",
    "finetune",
    "keep_rejected",
    "pairs_from_text",
    "read_pairs",
    "split_pairs",
]
