"""The dashboard's neosyntis section: counts across the aggregates, the latest jobs."""
