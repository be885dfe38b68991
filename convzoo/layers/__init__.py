"""Pure building blocks (no registries, no knowledge of who uses them): deformable convolution, integrated batch
normalisation, the permutohedral lattice and dense CRF, detail-enhanced convolution, adaptive rotated convolution,
colour conversions."""
from convzoo.layers.deform import deform_conv2d_any_size, modulated_deform_conv2d_any_size
from convzoo.layers.integrated_norm import integrated_norm

__all__ = ['deform_conv2d_any_size', 'modulated_deform_conv2d_any_size', 'integrated_norm']
