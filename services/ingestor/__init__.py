"""Ingestor: turns feeds, sitemaps, pages, files and pushed articles into RawArticle messages."""
