"""synthloop: a closed-loop data engine for multimodal LLM training data."""

__version__ = "0.1.0"
