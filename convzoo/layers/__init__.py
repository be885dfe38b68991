"""Reusable building blocks shared by the paper modules."""
from convzoo.layers.deform import deform_conv2d_any_size, modulated_deform_conv2d_any_size
from convzoo.layers.integrated_norm import integrated_norm

__all__ = ['deform_conv2d_any_size', 'modulated_deform_conv2d_any_size', 'integrated_norm']
