"""What a language model's answers cost: the tokens of every answer to one analysis, the rejected
ones included, as the model reported them."""

from __future__ import annotations

import attrs

from domain.usage import UsageDelta


@attrs.frozen
class TokenUsage:
    model: str
    prompt_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0  # Gemini 2.5 reports them apart and bills them as output
    total_tokens: int = 0
    responses: int = 0  # answers received, valid or not

    def plus(
        self, prompt_tokens: int, output_tokens: int, thinking_tokens: int, total_tokens: int
    ) -> TokenUsage:
        """One more answer, with what the server said it used (0 where it did not say)."""
        return TokenUsage(
            self.model,
            self.prompt_tokens + max(0, prompt_tokens),
            self.output_tokens + max(0, output_tokens),
            self.thinking_tokens + max(0, thinking_tokens),
            self.total_tokens + max(0, total_tokens),
            self.responses + 1,
        )

    def metered(self) -> UsageDelta:
        """As usage metering counts it: thinking tokens are billed as output."""
        return UsageDelta(
            llm_tokens_in=self.prompt_tokens,
            llm_tokens_out=self.output_tokens + self.thinking_tokens,
        )
