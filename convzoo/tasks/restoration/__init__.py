"""Restoration and super-resolution on mmengine (registry scope ``convzoo``): paired data, degradations, PSNR/SSIM,
hooks, embedded data and the inference adapter."""
from convzoo.tasks.restoration import data, embedded_data, hooks, metrics  # noqa: F401  (registration)
