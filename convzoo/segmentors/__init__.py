"""Segmentors, registered in mmseg's ``MODELS``: the encoder-decoder with DeepLab's fully connected CRF."""
from convzoo.core.registry import import_room
from convzoo.segmentors.crf_encoder_decoder import CRFEncoderDecoder

__all__ = ['CRFEncoderDecoder']

import_room(__name__, __path__)  # every file registers its modules; a new one needs no line here
