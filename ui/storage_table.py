"""How a dimensions-and-storage table is shown (Trace Retrieval and Model Review): its finding in
one sentence, the table with shares as percentages, and how each precision was scored.

The table itself is :class:`embedlab.retrieval.storage.StorageTable`, computed in the core.
"""

from __future__ import annotations

import streamlit as st

from embedlab.markup import markdown_literal
from embedlab.retrieval.storage import SCORING, StorageTable

SCORING_NOTE = (
    "Each width is the first dims of the vectors, renormalised. Scored by — float32: {float32}; int8: {int8}; "
    "binary: {binary}. Storage is per vector, without an index; MB = 10⁶ bytes."
).format(**SCORING)


def column_config(k: int) -> dict:
    """Column settings of :meth:`StorageTable.marked`."""
    percent = lambda label, help: st.column_config.NumberColumn(label, format="percent", help=help)
    return {
        "dims": st.column_config.NumberColumn("dims", help="The first dims of each vector, renormalised."),
        "precision": st.column_config.TextColumn("precision"),
        "bytes_per_vector": st.column_config.NumberColumn("bytes/vector", format="localized"),
        "mb_per_million": st.column_config.NumberColumn("MB per 1M vectors", format="localized"),
        "storage_share": percent("storage", "Of the full-width float32 vectors."),
        "accuracy": percent("accuracy@1", "Queries whose expected trace comes first."),
        "mrr": st.column_config.NumberColumn(f"MRR@{k}", format="%.3f"),
        "accuracy_kept": percent("accuracy kept", "Of the full-width float32 accuracy@1."),
        "mrr_kept": percent(f"MRR@{k} kept", "Of the full-width float32 MRR."),
        "best": st.column_config.CheckboxColumn("best", help="The cheapest row that keeps enough of the accuracy."),
    }


def show(table: StorageTable, *, key: str) -> None:
    """The finding, the table and how it was scored."""
    st.markdown(f":material/compress: **{markdown_literal(table.headline())}**")
    st.dataframe(table.marked(), hide_index=True, key=key, column_config=column_config(table.k))
    st.caption(markdown_literal(SCORING_NOTE))
