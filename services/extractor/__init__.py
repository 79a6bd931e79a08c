"""Extractor: raw page -> structured conflict report (clean, language, entities, events,
figures, relevance, dedup/story), wired to Kafka by a faust-streaming app."""
