"""The pure core: model, policies and use cases. Standard library and attrs only."""
