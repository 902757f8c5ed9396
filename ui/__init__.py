"""Streamlit glue shared by app.py and the pages: the cached engine and cached core reads."""
