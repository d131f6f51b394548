"""A made model's card: ``embedlab-card.json`` for programs and ``MODEL_CARD.md`` for people."""

from __future__ import annotations

import json
from pathlib import Path

from ..models.user import CARD_FILE

MARKDOWN_FILE = "MODEL_CARD.md"


def write_card(folder: Path, card: dict) -> None:
    """Write ``card`` into ``folder`` as JSON and as a Markdown summary."""
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / MARKDOWN_FILE).write_text(card_markdown(card), encoding="utf-8")


def card_markdown(card: dict) -> str:
    """The card as Markdown: what the model was made from, how, and its held-out figures."""
    made = "fine-tuned" if card.get("kind") == "finetuned" else "distilled"
    lines = [f"# {card.get('name', '')}", "", f"A model {made} by embedlab from `{card.get('base', '')}`.", ""]
    settings = [
        ("pairs", card.get("n_pairs")),
        ("pairs SHA-256", card.get("pairs_sha256")),
        ("training pairs / held-out queries / documents", _joined(card, "n_train", "n_held_out", "n_corpus")),
        ("loss", card.get("loss")),
        ("epochs", card.get("epochs")),
        ("batch size", card.get("batch_size")),
        ("learning rate", card.get("learning_rate")),
        ("Matryoshka dimensions", ", ".join(map(str, card.get("matryoshka_dims") or [])) or None),
        ("PCA dimensions", card.get("pca_dims")),
        ("seed", card.get("random_state")),
        ("steps", card.get("steps")),
        ("seconds", card.get("train_seconds") or card.get("seconds")),
        ("weights SHA-256", card.get("weights_sha256")),
        ("created", card.get("created")),
        ("machine", card.get("machine")),
    ]
    lines += ["| setting | value |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in settings if value not in (None, "")]
    before, after = card.get("before"), card.get("after")
    if before and after:
        lines += ["", "## Held-out retrieval", "", "| | base | this model |", "|---|---|---|"]
        for k in before.get("accuracy_at_k", {}):
            lines.append(
                f"| accuracy@{k} | {before['accuracy_at_k'][k]:.4f} | {after['accuracy_at_k'].get(k, 0):.4f} |"
            )
        lines.append(f"| MRR@{after.get('k', 10)} | {before['mrr']:.4f} | {after['mrr']:.4f} |")
    if card.get("reason"):
        lines += ["", str(card["reason"])]
    return "\n".join(lines) + "\n"


def _joined(card: dict, *keys: str) -> str | None:
    values = [card.get(k) for k in keys]
    return " / ".join(str(v) for v in values) if all(v is not None for v in values) else None
