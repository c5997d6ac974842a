"""Gemini on Vertex AI CallAnalyzer (google-genai)."""

from adapters.vertex.analyzer import GeminiModel, VertexCallAnalyzer

__all__ = ["GeminiModel", "VertexCallAnalyzer"]
