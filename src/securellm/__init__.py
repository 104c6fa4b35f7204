"""securellm: a secure, fast, self-hosted LLM stack."""

__version__ = "0.1.0"
__all__ = ["__version__"]
