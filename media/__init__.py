"""Pure, synchronous audio code for the call hot path: codecs, resampling, VAD, playout."""
