"""The shared kinds every layer speaks: time (``Clock``) and audio formats (``AudioFormat``).

A leaf: it imports only the standard library, so ``media``, ``providers`` and ``gateway`` can all
depend on it without depending on each other.
"""
