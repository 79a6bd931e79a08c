"""Developer tools that are not product: README generators and benchmark corpora. Outside the
shipped packages (pyproject installs schemas* and services* only); run from a clone."""
