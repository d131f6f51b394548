"""Model Review: choose a model with your team, and keep the decision."""

import streamlit as st

st.title("Model Review")
st.write("Put speed and quality side by side on your team's data, apply the lesson's decision framework, and save the decision.")
