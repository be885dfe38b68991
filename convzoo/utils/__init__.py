"""Stack compatibility, checkpoint loading and config checks."""
