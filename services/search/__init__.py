"""Search API and CLI over the report alias."""
