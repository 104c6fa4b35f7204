"""The gateway: an OpenAI- and Anthropic-compatible proxy in front of every provider."""
