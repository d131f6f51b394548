"""Space Explorer: your sentences → embeddings → a map you can question.

Reads widgets, calls embedlab, draws. Results live in st.session_state, so changing only how the
map looks (colour, point size, text) re-draws it without encoding or projecting again. A second
model's map ("Compare with") and vectors brought from elsewhere are drawn by ui/space_compare.py.
"""

import streamlit as st

import embedlab
from embedlab.formatting import count
from embedlab.maps import explore, figures, neighbourhood, views
from embedlab.maps.compare import DEFAULT_ALIGNMENT
from embedlab.markup import markdown_literal
from embedlab.tables import TABLE_TYPES
from ui import common
from ui import space_compare as compare_ui
from ui import space_explorer as ui
from ui import space_history as history_ui
from ui import space_saved as saved_ui
from ui import space_tools as tools_ui

state = st.session_state
METHOD_HELP = (
    "t-SNE keeps each sentence's close neighbours close (distances between far groups mean little). "
    "PCA is a linear view: exact, fast, but crowded. UMAP is like t-SNE, faster on large inputs."
)

st.title("Space Explorer")
st.caption(
    "Where does an embedding model put your sentences? Paste them (or upload a table), draw the map, "
    "then hover, select, search and measure. Sentences that mean similar things should land close together."
)
common.cache_notices()
# the inputs and settings kept in this workspace (?ws=), and the map a shared link (?map=) or the last session drew
saved_ui.start([m.name for m in common.catalog()])

# ---------------------------------------------------------------- input
# Folded once a map is on show, so the map is in the first screen (1400×1000) and not below the fold.
input_box = st.expander(
    "Your sentences: paste them or upload a table",
    expanded=ui.RESULT not in state and bool(state.get(ui.TRIED)),
    icon=":material/edit_note:",
)
with input_box:
    source = st.radio(
        "Sentences from",
        ["paste", "upload"],
        format_func={"paste": "Pasted lines", "upload": "An uploaded file"}.get,
        key=ui.key("source"),
        horizontal=True,
        persist_state="session",
    )
    sentences, input_error = None, None
    if source == "paste":
        text = st.text_area(
            "Sentences: one per line, optionally with a label before a | (Animals | The cat sits on the mat)",
            key=ui.key("sentences"),
            height=200,
            persist_state="session",
        )
        try:
            sentences = explore.from_lines(text)
        except ValueError as error:
            input_error = str(error)
    else:
        upload = st.file_uploader(
            f"A CSV, TSV, JSON (a list of objects), JSONL or Parquet file of up to {ui.UPLOAD_LIMIT_MB:,} MB",
            type=list(TABLE_TYPES),
            key=ui.key("upload"),
        )
        frame, table_name = None, ""
        if upload is not None:
            try:
                frame, table_name = ui.read_upload(upload.getvalue(), upload.name), upload.name
            except ValueError as error:
                input_error = str(error)
            else:
                saved_ui.keep_table(frame, upload.name, upload.file_id)  # kept in the workspace for a reload
        elif (kept := saved_ui.restored_table()) is not None:
            frame, table_name = kept.frame, kept.name
            st.caption(saved_ui.restored_caption(kept))
        else:
            input_error = "Upload a file, then pick the column that holds the sentences."
        if frame is not None:
            candidates = explore.text_like_columns(frame)
            if not candidates:
                input_error = (
                    f"{table_name} has no column of text (its columns: {', '.join(map(str, frame.columns[:8]))}); "
                    "upload a table with one sentence per row."
                )
            else:
                left, right = st.columns(2)
                saved_ui.restore_column(ui.key("text_column"), candidates)
                text_column = left.selectbox("Text column", candidates, key=ui.key("text_column"))
                others = ["(none)"] + [c for c in frame.columns if c != text_column]
                saved_ui.restore_column(ui.key("label_column"), others)
                label_column = right.selectbox(
                    "Label column (optional)",
                    others,
                    key=ui.key("label_column"),
                    help="Colours the map and scores clusters.",
                )
                try:
                    sentences = explore.from_table(
                        frame, text_column, None if label_column == "(none)" else label_column
                    )
                except ValueError as error:
                    input_error = str(error)

own, own_model = compare_ui.own_vectors(sentences)

# ---------------------------------------------------------------- settings (sidebar)
with st.sidebar:
    st.subheader("Model")
    model = common.model_picker(ui.key("model"))
    if own_model:
        st.caption(
            markdown_literal(f"The map is drawn from your vectors “{own.name}” instead (Bring your own vectors).")
        )
    compare_with = compare_ui.compare_picker(own)
    alignment = compare_ui.alignment_picker() if compare_with else DEFAULT_ALIGNMENT
    st.subheader("Projection")
    method = st.radio(
        "Method",
        ["tsne", "pca", "umap"],
        format_func=ui.METHOD_NAMES.get,
        key=ui.key("method"),
        horizontal=True,
        help=METHOD_HELP,
        persist_state="session",
    )
    n_components = st.radio(
        "Dimensions",
        [2, 3],
        format_func=lambda d: f"{d}-D",
        key=ui.key("dims"),
        horizontal=True,
        persist_state="session",
    )
    perplexity, n_neighbors = 30, 15
    if method == "tsne":
        perplexity = st.slider(
            "Perplexity",
            2,
            100,
            key=ui.key("perplexity"),
            help="Roughly how many neighbours each point keeps close. Clamped to (points − 1) / 3 for small inputs.",
            persist_state="session",
        )
    elif method == "umap":
        n_neighbors = st.slider(
            "Neighbours",
            2,
            100,
            key=ui.key("n_neighbors"),
            help="UMAP's n_neighbors: small values show local detail, large values the overall shape.",
            persist_state="session",
        )
    random_state = int(
        st.number_input(
            "Seed",
            0,
            2**31 - 1,
            key=ui.key("seed"),
            help="The same sentences, settings and seed draw the same map.",
            persist_state="session",
        )
    )
saved_ui.keep_inputs()  # what changed is written to the workspace (a reload or another tab finds it)
settings = ui.MapSettings(
    own.name if own_model else model,
    method,
    int(n_components),
    float(perplexity),
    int(n_neighbors),
    random_state,
    own.cache_key if own_model else "",
)
second = compare_ui.second_model(compare_with, own)

button_col, info_col = st.columns([1, 4], vertical_alignment="center")
go = button_col.button("Draw map", key=ui.key("go"), type="primary", icon=":material/scatter_plot:")
if sentences is not None:
    n_labels = len(set(sentences.labels)) if sentences.labels else 0
    plan = embedlab.plan_projection(
        len(sentences), method, n_components=int(n_components), perplexity=float(perplexity)
    )
    info_col.caption(
        count(len(sentences), "sentence")
        + (f" in {count(n_labels, 'label')}" if n_labels else " (no labels)")
        + f" · {ui.describe_plan(plan)} · limit {explore.MAX_SENTENCES:,} sentences per map"
    )
    for note in sentences.notes:
        (st.warning if note.level == "warning" else st.info)(note.text)
else:
    info_col.caption(f"Up to {explore.MAX_SENTENCES:,} sentences per map.")
if input_error:
    # the message may quote the file's name or a line of the user's: shown literally, never as Markdown
    (st.info if source == "upload" and "Upload a file" in input_error else st.warning)(markdown_literal(input_error))

# ---------------------------------------------------------------- draw (only when asked, or on the first visit)
first_visit = ui.RESULT not in state and not state.get(ui.TRIED)
if (go or first_visit) and sentences is not None:
    state[ui.TRIED] = True
    try:
        drawn = ui.draw(sentences, settings, own if own_model else None)
        previous = state.get(ui.RESULT)
        if previous is None or previous.key != drawn.key:
            ui.forget_picks()
        if previous is not None and (previous.labels is None) != (drawn.labels is None):
            # labels came or went: the display options below start again from the first that applies
            # (label, else overlap when compared, else clusters) and tell the browser so
            state.pop(ui.key("color_by"), None)
        state[ui.RESULT] = drawn
        saved_ui.remember(drawn, measure=second is None)  # saved: a reload shows it again, and it can be shared
        compare_ui.draw(drawn, second, alignment)
    except embedlab.ModelUnavailable as error:
        kept = " The map below is the last one drawn." if ui.RESULT in state else ""
        # the sidebar's picker already says why a catalog model cannot run: not said twice
        why = "why is said under the model in the sidebar" if common.unavailable(model) else str(error)
        st.error(markdown_literal(f"{model} cannot run here: {why}.{kept}"))
    except (ValueError, TypeError, MemoryError) as error:
        st.error(markdown_literal(f"The map could not be drawn: {error}"))
    except Exception as error:  # the page must survive whatever a model or library raises
        st.error(f"The map could not be drawn ({type(error).__name__}: {str(error)[:300]}).")
elif go and input_error:
    st.error(markdown_literal("Nothing to draw: " + input_error[0].lower() + input_error[1:]))

result: ui.MapResult | None = state.get(ui.RESULT)
if result is None:
    st.stop()
compared = compare_ui.current(result)
if (
    sentences is not None
    and ui.request_key(sentences.texts, sentences.labels, settings, sentences.metadata) != result.key
) or compare_ui.is_stale(result, second, alignment):
    st.info("The sentences or settings changed since this map was drawn: press **Draw map** to update it.")
if result.plan.note and result.plan_changed:
    st.info(result.plan.note)  # a different method than asked: say so where it can't be missed
if result.truncated:
    first = result.truncated[0]
    st.warning(
        f"{len(result.truncated):,} sentence(s) are longer than {result.model}'s limit of {result.max_tokens} tokens "
        f"and were truncated to their first {result.max_tokens} tokens (the first is sentence {first + 1}, "
        f"{len(result.texts[first]):,} characters)."
    )

# ---------------------------------------------------------------- display options (sidebar)
n = len(result.texts)
with st.sidebar:
    st.subheader("Display")
    colour_options = (
        (["label"] if result.labels else [])
        + (["overlap"] if compared else [])
        + (["clusters"] if n >= 3 else [])
        + ["none"]
    )
    colour_names = {
        "label": "Label",
        "overlap": "Neighbours both models share",
        "clusters": "Automatic clusters (k-means)",
        "none": "One colour",
    }
    if state.get(ui.key("color_by")) not in colour_options:  # labels or a comparison came or went:
        state[ui.key("color_by")] = colour_options[0]  # said to the browser too (a deleted value is not)
    color_by = st.selectbox("Colour by", colour_options, format_func=colour_names.get, key=ui.key("color_by"))
    n_clusters = None
    if color_by == "clusters":
        choice = st.select_slider(
            "Clusters",
            ["auto", *range(2, 21)],
            value="auto",
            key=ui.key("n_clusters"),
            help="auto: best silhouette, 2–10.",
        )
        n_clusters = None if choice == "auto" else int(choice)
    point_size = st.slider("Point size", 3, 24, 9 if n <= 1000 else 5, key=ui.key("point_size"))
    show_text = st.toggle(
        "Write sentences beside points",
        key=ui.key("show_text"),
        disabled=n > 300,
        help="Up to 300 points; hover shows every sentence in full.",
    )
    k = st.slider(
        "Neighbours to list", 1, 20, 5, key=ui.key("k"), help="For a picked sentence, a search and the arithmetic."
    )

groups, legend = None, "Label"
if color_by == "label" and result.labels:
    n_groups = len(set(result.labels))
    if n_groups > figures.MAX_GROUPS:
        st.warning(
            f"The labels hold {n_groups:,} different values; the map colours at most {figures.MAX_GROUPS}, "
            "so it is drawn in one colour (pick another label column, or colour by clusters)."
        )
    else:
        groups = list(result.labels)
        if n_groups > len(figures.PALETTE):
            st.caption(f"{n_groups} labels: colours repeat after {len(figures.PALETTE)}.")
elif color_by == "clusters":
    groups = ui.clusters(result.digest, n_clusters, result.settings.random_state, result)
    legend = "Cluster (k-means)"

# ---------------------------------------------------------------- tools, search, map(s), quality
picked = ui.picked_rows(result)
flat = result.settings.n_components == 2
if compared is None:  # the map uses the page; the tools in a narrow column beside it
    map_col, tools_col = st.columns([6, 1], gap="small")
else:
    tools_col, map_col = st.container(horizontal=True, vertical_alignment="bottom"), st.container()
with tools_col:
    tools = tools_ui.toolbar(
        result,
        lambda: (
            groups if color_by == "clusters" else ui.clusters(result.digest, None, result.settings.random_state, result)
        ),
        flat=flat,
    )
    on_map = views.view(tools.table, tools.filters, isolate=tools_ui.isolated_rows(result), highlight=tools.highlight)
    tools_ui.say_view(result, on_map, tools)
look = {
    "groups": groups,
    "point_size": point_size,
    "show_text": show_text and n <= 300,
    "legend_title": legend,
    "hover": tools.hover,
    "visible": on_map.shown,
    "highlight": on_map.matches,
    "highlight_name": f"contains “{tools.highlight}”",
}
if compared is not None:
    look["selected"] = picked  # a selection on either map lights up the same sentences on both
    if color_by == "overlap":
        look |= {"values": compared.overlap, "value_title": "neighbours shared", "value_range": (0.0, 1.0)}
with map_col:
    chart_box = st.container()  # the map first, the search under it: the map stays in the first screen
    query = st.text_input(
        "Search: type any sentence to see its neighbours and where it would land",
        key=ui.key("query"),
        placeholder="e.g. A kitten naps on the sofa",
        max_chars=5000,
    ).strip()
    searched, search_problem = ui.search(result, query, k)
    if search_problem:
        st.warning(markdown_literal(search_problem))
    figure = figures.scatter_figure(
        tools.table,
        title=result.title(),
        axis_name=result.axis_name,
        query=searched.star if searched else None,
        height=640 if compared is None else 540,  # its plot area ends above 1,000 px (tests/test_findings_browser)
        contours=views.density_grid(result.points, rows=on_map.shown) if tools.contours else None,
        **look,
    )
    with chart_box:
        if compared is None:
            st.plotly_chart(
                figure,
                key=ui.key("map"),
                on_select=ui.remember_selection,
                selection_mode=("points", "box", "lasso"),
                config={"displaylogo": False},
                alt=f"Map of {n:,} sentences: {ui.describe_plan(result.plan)} of {result.model} embeddings.",
            )
        else:
            compare_ui.show_maps(compared, figure, look, height=540, contours=tools.contours, first_table=tools.table)
    how = (
        "Click a point to see its nearest neighbours below; to pick several, choose Box or Lasso select "
        "in the map's toolbar and drag: they open as a table you can download or isolate."
    )
    if not flat:
        how = "Drag to rotate; pick a sentence below to see its nearest neighbours."
    if result.plan.note and not result.plan_changed:
        st.caption(result.plan.note)
    st.caption(
        f"{how} Encoded {n:,} sentences in {result.encode_seconds:.1f} s "
        f"({n - result.encoded:,} from the cache) · projected in {result.project_seconds:.1f} s"
        + (" · WebGL" if n > figures.WEBGL_THRESHOLD and flat else "")
        + "."
    )
history_box = st.container()  # this workspace's maps (filled last: a map shared below is listed as shared)
if compared is None:
    with st.expander("How faithful is this map?", expanded=True, icon=":material/verified:"):
        ui.show_quality(result, result.digest + result.key, compact=True)
else:
    compare_ui.show_moved(compared)
tools_ui.selection_panel(result, picked, tools.table)

# ---------------------------------------------------------------- neighbours
tools_ui.show_neighbours(result, picked, searched, k)

# ---------------------------------------------------------------- heatmap, arithmetic, downloads
heat_tab, maths_tab, download_tab = st.tabs(["Similarity heatmap", "Vector arithmetic", "Download"])
with heat_tab:
    shown = neighbourhood.heatmap(result, around=picked[0] if picked else None)
    if shown.note:
        st.caption(shown.note)
    st.plotly_chart(
        figures.heatmap_figure(
            shown.matrix,
            list(shown.texts),
            list(shown.labels) if shown.labels else None,
            title=f"Cosine similarity · {figures.escape(result.model)}",
        ),
        key=ui.key("heatmap"),
        config={"displaylogo": False},
    )
with maths_tab:
    ui.show_arithmetic(result, k)
with download_tab:
    stem = result.file_stem
    export = result.points_table(clusters=groups if color_by == "clusters" else None)
    left, right = st.columns(2)
    left.download_button(
        "Points as CSV",
        lambda: export.to_csv(index=False).encode("utf-8"),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=ui.key("download_csv"),
        on_click="ignore",
        icon=":material/table:",
    )
    left.caption("Columns: " + ", ".join(export.columns) + ". One row per sentence.")
    right.download_button(
        "Map as standalone HTML",
        lambda: figures.standalone_html(figure, title=f"embedlab map · {result.model}").encode("utf-8"),
        file_name=f"{stem}.html",
        mime="text/html",
        key=ui.key("download_html"),
        on_click="ignore",
        icon=":material/download:",
    )
    right.caption("The interactive map in one file, plotly included: it opens offline in any browser.")
    saved_ui.share_action(result, measure=compared is None)
with history_box:
    history_ui.maps_expander([m.name for m in common.catalog()])  # open one again, or delete it
