"""apprentice: multi-step LLM reasoning over tools and memory that teaches itself."""

__version__ = "0.1.0"
