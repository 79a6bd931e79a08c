"""The web UI: static HTML + vanilla JS + CSS, served by a FastAPI router on the API app."""
