"""Start OneFunnel with `streamlit run serve.py` (or `uvicorn serve:app`): app.py behind the server-side guards of
ui/serving.py, which stop what Streamlit answers without running app.py (anonymous cache flushes and uploads, the
pages folder offered before sign-in, the metrics endpoint)."""

import streamlit as st

from ui import serving

app = st.App("app.py", lifespan=serving.lifespan, middleware=serving.middleware())
