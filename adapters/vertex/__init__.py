"""Gemini on Vertex AI CallAnalyzer (google-genai)."""
