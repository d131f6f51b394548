"""The server: ``streamlit run server.py`` serves app.py and warms the default model up at start.

Streamlit runs a page's script only when a browser asks for it, so a warm-up started by app.py
waits for the first visitor, and that visitor waits for it. Served through ``st.App``, the
warm-up starts with the server itself (its ASGI lifespan), and the first map finds the model
loaded. ``streamlit run app.py`` still works: app.py starts the same warm-up on its first run.
"""

from contextlib import asynccontextmanager

import streamlit as st

from embedlab.maps import warmup


@asynccontextmanager
async def lifespan(_app):
    warmup.start()  # daemon threads: the default model, then UMAP's compilation (embedlab/maps/warmup.py)
    yield


app = st.App("app.py", lifespan=lifespan)
