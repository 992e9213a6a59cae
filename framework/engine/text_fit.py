"""Fitting a text into the prompt: cut to prompt.max_text_chars / max_text_tokens,
and split into chunks of chunking.max_tokens when chunking is on. Tokens are
counted with litellm's tokenizer for the model (tiktoken's cl100k where it has
none: an approximation for local models).
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.config.schema import ChunkSettings, PromptConfig

__all__ = ["TextFit"]


@dataclass(frozen=True)
class TextFit:
    prompt: PromptConfig
    chunking: ChunkSettings
    model: str  # the litellm model name, which picks the tokenizer

    def fit(self, text: str) -> tuple[str, int | None]:
        """The text within the character and token budgets, and its length if it was cut."""
        cut_from = None
        if self.prompt.max_text_chars is not None and len(text) > self.prompt.max_text_chars:
            cut_from, text = len(text), text[: self.prompt.max_text_chars]
        if self.prompt.max_text_tokens is not None:
            from framework.providers.tokens import truncate_to_tokens

            fitted, tokens = truncate_to_tokens(self.model, text, self.prompt.max_text_tokens)
            if tokens > self.prompt.max_text_tokens:
                cut_from, text = cut_from or len(text), fitted
        return text, cut_from

    def chunks(self, text: str) -> list[str]:
        """The text in overlapping windows of at most chunking.max_tokens tokens."""
        if self.chunking.max_tokens is None:
            return [text]
        from framework.providers.tokens import split_by_tokens

        return split_by_tokens(self.model, text, self.chunking.max_tokens, self.chunking.overlap)
