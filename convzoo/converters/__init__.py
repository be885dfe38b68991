"""Official checkpoints into convzoo's layouts: ARC backbones, MIRNet and DEA-Net, DN-FPN detectors.

Each converter reads with the safe loader and writes atomically; run them as ``convzoo convert ...``."""
