"""The read side's query layer, pure (no client, no clock of its own): the user query language
(`syntax`), what a search asks (`params`: the one filters model), the Elasticsearch request
bodies (`bodies`) and the shaping of their answers (`answers`). Search, alerts, the live feed
and the UI all match through it, so "matches" means one thing."""
