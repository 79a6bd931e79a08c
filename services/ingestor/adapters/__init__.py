"""Source adapters: pure functions from bytes (or records) to RawArticle models or Failures."""
