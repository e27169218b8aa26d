"""The carrier seam (DESIGN §1, §4): what every phone carrier's media stream is, to the bridge.

A carrier is a pure codec (``codec.CarrierCodec``: wire frames ⇄ the neutral ``events``) plus a
capability record (``codec.CarrierCapabilities``), registered with its media handshake check and
its start parameters (``registry.Carrier``). The ``CallBridge`` speaks only these types, so a new
carrier is one codec module, its webhooks and one registry entry; nothing in the bridge.
"""
