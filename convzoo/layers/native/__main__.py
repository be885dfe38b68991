"""``python -m convzoo.layers.native``: build the C deformable-conv sampler (the set-up runs this)."""
import sys

from convzoo.layers.native import main

sys.exit(main())
