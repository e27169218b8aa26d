"""Shared state behind small protocols: in-process by default, Redis across nodes."""
