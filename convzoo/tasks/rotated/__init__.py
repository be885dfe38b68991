"""Rotated object detection on mmdet 3.3 without mmrotate: filled in by its issue."""
