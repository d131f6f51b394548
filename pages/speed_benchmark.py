"""Speed Benchmark: models timed on a corpus, on this machine."""

import streamlit as st

st.title("Speed Benchmark")
st.write("Time embedding models on your own texts, on this machine.")
