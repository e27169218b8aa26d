"""Fakes that speak real protocols over loopback (providers, carriers, clients)."""
