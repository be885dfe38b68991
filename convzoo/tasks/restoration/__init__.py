"""Restoration and super-resolution task on mmengine (registry scope ``convzoo``): filled in by its issue."""
