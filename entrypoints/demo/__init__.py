"""`ingestion-pipeline demo`: a throwaway service, sample calls, and what became of them."""
