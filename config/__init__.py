"""Settings for the Kura gateway, read once in ``gateway.cli.main``."""

from config.settings import Settings

__all__ = ["Settings"]
