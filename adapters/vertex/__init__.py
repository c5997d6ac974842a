"""Gemini on Vertex AI CallAnalyzer (google-genai)."""

from adapters.vertex.analyzer import TokenUsage, VertexCallAnalyzer

__all__ = ["TokenUsage", "VertexCallAnalyzer"]
