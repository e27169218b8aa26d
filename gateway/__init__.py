"""The Kura gateway: aiohttp app, HTTP API, sessions, telephony, storage and shared state."""
