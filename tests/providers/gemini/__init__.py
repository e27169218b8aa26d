"""Tests of the Gemini Live provider against a fake Gemini Live server."""
