"""Pure translation between the OpenAI, Anthropic and Ollama wire formats.

Requests and whole responses are translated by functions; streams by small state
machines that take one upstream event at a time and return the events to send.
Nothing here does I/O.
"""
