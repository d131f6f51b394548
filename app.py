"""embedlab dashboard: routes the pages. Nothing else lives here."""

import streamlit as st

from embedlab.maps import warmup
from ui import workspace
from ui.common import cache_notices

st.set_page_config(page_title="embedlab", page_icon="assets/icon.png", layout="wide")
warmup.start()  # model, first map, UMAP, once per process; server.py starts it sooner (embedlab/maps/warmup.py)
workspace.ensure_in_url()  # ?ws=<id>: a reload or the same link in another tab finds the work again

navigation = st.navigation(
    [
        st.Page("pages/space_explorer.py", title="Space Explorer", icon=":material/scatter_plot:", default=True),
        st.Page("pages/speed_benchmark.py", title="Speed Benchmark", icon=":material/speed:"),
        st.Page("pages/trace_retrieval.py", title="Trace Retrieval", icon=":material/manage_search:"),
        st.Page("pages/model_review.py", title="Model Review", icon=":material/fact_check:"),
        st.Page("pages/fine_tune.py", title="Fine-tune", icon=":material/model_training:", url_path="fine-tune"),
        st.Page("pages/memory_search.py", title="Memory Search", icon=":material/memory:", url_path="memory-search"),
    ]
)
cache_notices()  # a damaged embedding cache was set aside at start: say so once per session
navigation.run()
