"""The HTTP process: one composition root (app.py) for every endpoint; `cwatch api run`."""
