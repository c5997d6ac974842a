"""CallAnalyzer on any OpenAI-compatible chat completions server (Ollama, llama.cpp, vLLM)."""

from adapters.openai.analyzer import OpenAiCallAnalyzer, chat_completions_url
from adapters.openai.chat import OpenAiChatModel

__all__ = ["OpenAiCallAnalyzer", "OpenAiChatModel", "chat_completions_url"]
