"""Backbones (registered in the host library's ``MODELS``)."""
