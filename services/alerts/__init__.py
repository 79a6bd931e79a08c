"""Alert subscriptions, matching, de-duplication and delivery; the live feed."""
