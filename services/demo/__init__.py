"""Generated demo corpus (clearly labelled, never third-party articles); `make demo` runs it (devtools/demo.py)."""
