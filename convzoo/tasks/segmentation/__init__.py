"""Segmentation task on mmsegmentation: filled in by its issue."""
