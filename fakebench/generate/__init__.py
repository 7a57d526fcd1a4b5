"""The face-swap generator: one shared encoder, one decoder per identity."""
