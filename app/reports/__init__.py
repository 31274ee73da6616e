"""Reports over the caller's jurisdiction, computed by aggregation in the database."""
