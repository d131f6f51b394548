"""Trace Retrieval: do queries bring back the right trace?"""

import streamlit as st

st.title("Trace Retrieval")
st.write("Match queries to reasoning traces by cosine similarity and see whether the right one comes back.")
