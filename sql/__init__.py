"""Schema migrations, shipped as package data: sql/sqlite/ and sql/spanner/."""
