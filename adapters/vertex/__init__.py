"""Gemini on Vertex AI CallAnalyzer (google-genai)."""

from adapters.vertex.analyzer import GeminiModel, TokenUsage, VertexCallAnalyzer

__all__ = ["GeminiModel", "TokenUsage", "VertexCallAnalyzer"]
