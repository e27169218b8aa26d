"""The browser side of the gateway, served from the package: the chat widget and the console."""
