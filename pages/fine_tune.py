"""Fine-tune: make a model better at your own pairs, judged on queries it never trained on.

The lesson's goals 4 and 5 ("when to fine-tune", "optimise for a domain"). Reads widgets, calls
embedlab.tuning, draws. The last result lives in st.session_state; made models live in
$EMBEDLAB_HOME/models and appear in every page's model picker.
"""

import streamlit as st

from embedlab import seed, tuning
from embedlab.markup import markdown_literal, markdown_sentence
from embedlab.models.user import list_user_models
from embedlab.retrieval.figures import summary_chart
from embedlab.tuning.figures import loss_figure
from embedlab.tuning.finetune import duration
from ui import common, runs, workspace
from ui import fine_tune as ui

state = st.session_state
PERCENT = st.column_config.NumberColumn(format="percent")
LEARNING_RATES = [1e-5, 2e-5, 3e-5, 5e-5, 1e-4]
PCA_DIMS = [256, 128, 64]
#: The settings' widget keys and defaults (restored from the workspace, see ui/workspace.py).
SETTINGS = {
    "tune_held_out": 0.2,
    "tune_epochs": 1,
    "tune_batch": 32,
    "tune_seed": 0,
    "tune_name": "",
    "tune_matryoshka": [],
    "tune_keep_worse": False,
    "tune_distil_name": "",
}

st.title("Fine-tune")
st.caption(
    "Teach a model your domain from pairs — a query and the text it should find — with "
    "sentence-transformers' trainer, then judge it on held-out queries it never saw. A fine-tune can make "
    "retrieval worse (published fine-tunes of MiniLM did worse on MS MARCO), so a model whose held-out MRR "
    "drops is not promoted. Or distil a model into a static one for speed."
)
common.cache_notices()
if runs.interrupted("tune") is not None:
    common.flash("tune", "warning", "The fine-tune was stopped: nothing was saved, and no model was added.")
if runs.interrupted("distil") is not None:
    common.flash("tune", "warning", "The distillation was stopped: nothing was saved.")
common.show_flash("tune")

# ---------------------------------------------------------------- 1. pairs
st.subheader("1. Your pairs")
workspace.restore("tune_source", next(iter(ui.SOURCES)), allowed=list(ui.SOURCES))
source = st.radio(
    "Pairs from",
    list(ui.SOURCES),
    format_func=ui.SOURCES.get,
    key="tune_source",
    horizontal=True,
    persist_state="session",
)
workspace.keep("tune_source")
pairs, problem = None, None
if source == "example":
    pairs = ui.example()
    st.caption("Real text: each Debian package's one-line summary, and its description (embedlab/data/README.md).")
elif source == "retrieval":
    pairs, where = ui.retrieval_pairs()
    (st.caption if pairs is not None else st.info)(markdown_literal(where))
elif source == "upload":
    upload = st.file_uploader(
        "A table with columns query and positive (optionally negative)",
        type=["csv", "tsv", "json", "jsonl", "parquet"],
        key="tune_upload",
        help="CSV, TSV, JSON (a list of objects), JSONL or Parquet; `anchor` is read as query.",
        on_change=ui.keep_upload,
    )
    pairs, problem = ui.uploaded_pairs(upload)  # in a new session: the file kept in the workspace
else:
    workspace.restore("tune_paste", "")
    pasted = st.text_area(
        "One pair a line: the query, a tab or ' | ', then the text it should find",
        key="tune_paste",
        height=180,
        placeholder="reset my password | To reset your password, open Settings › Account…",
        persist_state="session",
    )
    workspace.keep("tune_paste")
    if pasted.strip():
        try:
            pairs = tuning.pairs_from_text(pasted)
        except ValueError as error:
            problem = str(error)
if problem:
    st.error(markdown_sentence(problem))

# ---------------------------------------------------------------- 2. settings
st.subheader("2. Settings")
trainable = [m.name for m in common.catalog() if m.available and m.backend == "sentence-transformers"]
workspace.restore("tune_base", trainable[0] if trainable else None, allowed=trainable)
workspace.restore("tune_lr", 3e-5, allowed=LEARNING_RATES)
workspace.restore("tune_pca", PCA_DIMS[0], allowed=PCA_DIMS)
for key, default in SETTINGS.items():
    workspace.restore(key, default)
left, middle, right = st.columns(3, gap="large")
with left:
    base = st.selectbox(
        "Base model",
        trainable,
        key="tune_base",
        help="A transformer run by sentence-transformers: a catalog model or one you fine-tuned before.",
    )
    held_out = st.slider(
        "Held out for judging",
        min_value=0.1,
        max_value=0.5,
        step=0.05,
        format="%.2f",
        key="tune_held_out",
        help="Share of the distinct positives (with every pair that has one) kept out of training.",
    )
with middle:
    epochs = int(st.number_input("Epochs", min_value=1, max_value=20, key="tune_epochs"))
    batch_size = int(
        st.number_input(
            "Batch size",
            min_value=4,
            max_value=512,
            key="tune_batch",
            help="Every other positive in a batch is a negative: bigger batches, harder training. Above 64 the "
            "cached loss keeps memory flat.",
        )
    )
with right:
    learning_rate = st.select_slider("Learning rate", LEARNING_RATES, key="tune_lr", format_func="{:.0e}".format)
    random_state = int(
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, key="tune_seed", help="Seeds the split and training.")
    )
with st.expander("More: name, Matryoshka dimensions, keeping a worse model"):
    suggested = f"{base.rsplit('/', 1)[-1][:40]}-ft-{pairs.digest[:8]}" if pairs is not None and base else ""
    name = (
        st.text_input(
            "Name of the new model",
            key="tune_name",
            max_chars=64,
            placeholder=suggested or "named after the base model and the pairs",
            help="Empty: the name shown in grey.",
        ).strip()
        or suggested
    )
    matryoshka = st.multiselect(
        "Matryoshka dimensions (optional)",
        [512, 256, 128, 64, 32],
        key="tune_matryoshka",
        help="Train so that the first d dimensions also work alone (MatryoshkaLoss): store fewer dimensions later.",
    )
    keep_if_worse = st.checkbox("Keep the model even if held-out MRR drops", key="tune_keep_worse")
workspace.keep("tune_base", "tune_lr", *SETTINGS)

split = None
if pairs is not None:
    try:
        split = tuning.split_pairs(pairs, held_out=held_out, random_state=random_state)
    except ValueError as error:
        st.error(markdown_sentence(error))
if split is not None:
    note = f" ({pairs.dropped} repeated pair(s) dropped)" if pairs.dropped else ""
    estimate = tuning.estimate_seconds(len(split.train), base=base, epochs=epochs, n_judged=len(split.corpus))
    st.info(
        f"{len(pairs):,} pairs{note}: {markdown_literal(split.describe())}. "
        f"Estimated time on this machine: about {duration(estimate)}; the progress bar then shows the time left.",
        icon=":material/schedule:",
    )
    with st.expander(f"The first pairs ({min(len(pairs), 50)} of {len(pairs):,})"):
        st.dataframe(
            {"query": list(pairs.queries[:50]), "positive": list(pairs.positives[:50])},
            hide_index=True,
            key="tune_preview",
        )

# ---------------------------------------------------------------- 3. run
st.subheader("3. Fine-tune")
if st.button(
    "Fine-tune",
    key="tune_run",
    type="primary",
    disabled=split is None,
    icon=":material/model_training:",
    help="Measured on this machine kind (2 cores, bench/README.md): 1,000 Debian summary → description pairs, "
    "1 epoch of all-MiniLM-L6-v2, trained in 97 s; held-out MRR@10 0.831 → 0.882 (250 unseen queries, "
    "2,250 documents). Distilling MiniLM took 18 s and encoded 132× faster, at MRR@10 0.867 → 0.613.",
):

    def start(progress):
        return tuning.finetune(
            pairs,
            base=base,
            name=name or None,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            held_out=held_out,
            matryoshka_dims=matryoshka or None,
            random_state=random_state,
            keep_if_worse=keep_if_worse,
            progress=progress,
        )

    try:
        result = runs.run(
            "tune",
            start,
            stop_help="Stop now: nothing is saved (a model is saved only after training and judging finish).",
            done=lambda r: f"Done: {r.steps} steps in {r.seconds:.0f} s.",
        )
    except (ValueError, TypeError, LookupError, OSError) as error:
        st.error(markdown_sentence(error))
    else:
        state["tune_result"] = result
        common.catalog.clear()

result = state.get("tune_result")
if result is not None:
    if result.promoted:
        st.success(markdown_literal(result.reason), icon=":material/check_circle:")
    else:
        st.warning(markdown_literal(result.reason), icon=":material/warning:")
    st.dataframe(
        result.table().rename(columns={"traces": "documents"}),
        hide_index=True,
        key="tune_table",
        column_config={c: PERCENT for c in result.table().columns if c.startswith(("accuracy", "MRR"))},
    )
    chart, curve = st.columns([3, 2])
    chart.plotly_chart(
        summary_chart({"before": result.before, "after": result.after}, seed.GOOD_ENOUGH_ACCURACY), key="tune_chart"
    )
    if result.losses:
        curve.plotly_chart(loss_figure(result.losses), key="tune_loss")
    speed = (
        f" It encoded the held-out texts at {result.texts_per_second:,.0f} texts/s." if result.texts_per_second else ""
    )
    st.caption(
        f"{result.count('improved')} held-out queries improved, {result.count('regressed')} regressed, "
        f"{result.count('same')} kept their rank. {result.steps} training steps in {result.seconds:.0f} s.{speed}"
    )
    changes = result.changes
    if changes is not None:
        moved = changes[changes["change"] != "same"]
        if len(moved):
            st.dataframe(
                moved.sort_values("change"),
                hide_index=True,
                key="tune_changes",
                column_config={
                    "query": st.column_config.TextColumn("query", width="large"),
                    "rank_before": st.column_config.NumberColumn("rank before", help="Empty: beyond the top 10."),
                    "rank_after": st.column_config.NumberColumn("rank after", help="Empty: beyond the top 10."),
                    "score_before": st.column_config.NumberColumn("cosine before", format="%.3f"),
                    "score_after": st.column_config.NumberColumn("cosine after", format="%.3f"),
                },
            )
    if result.saved:
        use, where = st.columns([1, 3])
        if use.button("Use it on every page", key="tune_use", icon=":material/done_all:"):
            ui.use_everywhere(result.model_name)
            common.flash(
                "tune",
                "success",
                f"{markdown_literal(result.model_name)} is now chosen in the Space Explorer and added to Trace "
                "Retrieval, Speed Benchmark and Model Review.",
            )
            st.rerun()
        where.caption(
            f'Saved as **{markdown_literal(result.model_name)}** — `embedlab.encode(texts, model="{result.model_name}")`.'
        )
    elif not result.stopped and st.button("Keep it anyway", key="tune_keep", icon=":material/save:"):
        try:
            tuning.keep_rejected(result.model_name)
        except (LookupError, ValueError) as error:
            st.error(markdown_sentence(error))
        else:
            common.catalog.clear()
            common.flash(
                "tune", "info", f"{markdown_literal(result.model_name)} was kept although its held-out MRR dropped."
            )
            state["tune_result"] = None
            st.rerun()

# ---------------------------------------------------------------- 4. distil
st.subheader("4. Or distil for speed")
st.caption(
    "model2vec turns the base model into a static one: each token's vector computed once, reduced by PCA; "
    "encoding becomes a lookup, hundreds of times faster, at some cost in quality — judged on the same "
    "held-out queries."
)
cols = st.columns([1, 1, 2])
pca_dims = int(cols[0].selectbox("PCA dimensions", PCA_DIMS, key="tune_pca"))
distil_suggested = f"{(base or 'model').rsplit('/', 1)[-1][:40]}-static-{pca_dims}"
distil_name = (
    cols[1]
    .text_input("Name", key="tune_distil_name", placeholder=distil_suggested, help="Empty: the name shown in grey.")
    .strip()
    or distil_suggested
)
workspace.keep("tune_pca", "tune_distil_name")
if st.button("Distil", key="tune_distil_run", disabled=not base, icon=":material/compress:"):

    def start_distil(progress):
        return tuning.distil(
            pairs if split is not None else None,
            base=base,
            name=distil_name or None,
            pca_dims=pca_dims,
            held_out=held_out,
            random_state=random_state,
            progress=progress,
        )

    try:
        state["tune_distil"] = runs.run(
            "distil",
            start_distil,
            stop_help="Stop now: nothing is saved.",
            done=lambda r: f"Done in {r.seconds:.0f} s.",
        )
    except (ValueError, TypeError, LookupError, OSError) as error:
        st.error(markdown_sentence(error))
    else:
        common.catalog.clear()
distilled = state.get("tune_distil")
if distilled is not None:
    st.success(
        f"{markdown_literal(distilled.model_name)}: {distilled.dim}-d static model, "
        f"{distilled.texts_per_second:,.0f} texts/s against {distilled.base_texts_per_second:,.0f} for "
        f"{markdown_literal(distilled.base)} — {distilled.speedup:,.0f}× faster on the same texts.",
        icon=":material/bolt:",
    )
    if distilled.after is not None:
        st.dataframe(
            distilled.table().rename(columns={"traces": "documents"}),
            hide_index=True,
            key="tune_distil_table",
            column_config={c: PERCENT for c in distilled.table().columns if c.startswith(("accuracy", "MRR"))},
        )

# ---------------------------------------------------------------- 5. your models
st.subheader("Your models")
made = list_user_models()
if not made:
    st.caption("None yet: models you fine-tune or distil are listed here and in every page's model picker.")
else:
    st.dataframe(
        [m.row() for m in made],
        hide_index=True,
        key="tune_models",
        column_config={
            "held-out MRR before": st.column_config.NumberColumn(format="%.3f"),
            "held-out MRR after": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    victim, go = st.columns([2, 1], vertical_alignment="bottom")
    chosen = victim.selectbox("Delete a model", [m.name for m in made], index=None, key="tune_delete_choice")
    if go.button("Delete", key="tune_delete", disabled=chosen is None, icon=":material/delete:"):
        try:
            tuning.delete(chosen)
        except LookupError as error:
            st.error(markdown_sentence(error))
        else:
            common.catalog.clear()
            common.flash("tune", "info", f"{markdown_literal(chosen)} was deleted.")
            st.rerun()
