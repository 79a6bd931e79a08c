"""Generated demo corpus (clearly labelled, never third-party articles) and the `make demo` run."""
