"""How a dimensions-and-storage table is shown (Trace Retrieval and Model Review): its finding in
one sentence, the table with shares as percentages, and how each precision was scored.

The table itself is :class:`embedlab.retrieval.storage.StorageTable`, computed in the core. Its
shares are shown as :func:`embedlab.formatting.percent_value` numbers in columns formatted with
:data:`embedlab.formatting.PERCENT_FORMAT`: the one rule of every table, text and report.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from embedlab.formatting import PERCENT_FORMAT, percent_value
from embedlab.markup import markdown_literal
from embedlab.retrieval.storage import SCORING, StorageTable

SCORING_NOTE = (
    "Each width is the first dims of the vectors, renormalised. Scored by — float32: {float32}; int8: {int8}; "
    "binary: {binary}. Storage is per vector, without an index; MB = 10⁶ bytes."
).format(**SCORING)

#: The columns of :meth:`StorageTable.marked` that hold shares in [0, 1] (shown as percentages).
SHARES = ("storage_share", "accuracy", "mrr", "accuracy_kept", "mrr_kept")


def display_table(table: StorageTable) -> pd.DataFrame:
    """:meth:`StorageTable.marked` with its :data:`SHARES` as the percentages shown (94.5 for 0.945)."""
    shown = table.marked()
    for column in SHARES:
        shown[column] = shown[column].map(percent_value).astype("float64")
    return shown


def column_config(k: int) -> dict:
    """Column settings of :func:`display_table`."""
    percent = lambda label, help: st.column_config.NumberColumn(label, format=PERCENT_FORMAT, help=help)
    return {
        "dims": st.column_config.NumberColumn("dims", help="The first dims of each vector, renormalised."),
        "precision": st.column_config.TextColumn("precision"),
        "bytes_per_vector": st.column_config.NumberColumn("bytes/vector", format="localized"),
        "mb_per_million": st.column_config.NumberColumn("MB per 1M vectors", format="localized"),
        "storage_share": percent("storage", "Of the full-width float32 vectors."),
        "accuracy": percent("accuracy@1", "Queries whose expected trace comes first."),
        "mrr": percent(f"MRR@{k}", "Mean of 1 / rank of the expected trace, as a percentage."),
        "accuracy_kept": percent("accuracy kept", "Of the full-width float32 accuracy@1."),
        "mrr_kept": percent(f"MRR@{k} kept", "Of the full-width float32 MRR."),
        "best": st.column_config.CheckboxColumn("best", help="The cheapest row that keeps enough of the accuracy."),
    }


def show(table: StorageTable, *, key: str) -> None:
    """The finding, the table and how it was scored."""
    st.markdown(f":material/compress: **{markdown_literal(table.headline())}**")
    st.dataframe(display_table(table), hide_index=True, key=key, column_config=column_config(table.k))
    st.caption(markdown_literal(SCORING_NOTE))
