"""Fakes of vendor services that speak the real protocols over loopback."""
