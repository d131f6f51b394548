"""Space Explorer: sentences → embeddings → a map."""

import streamlit as st

st.title("Space Explorer")
st.write("Paste sentences and see how an embedding model places them: a t-SNE map of the space.")
