"""ARC backbone weights from the authors' release (LeapLabTHU/ARC, OBBDetection layout) for :class:`ARCResNet`.

    python -m convzoo.converters.arc_resnet REFERENCE.pth OUT.pth [--prefix backbone.] [--sha256 HEX]
    convzoo convert arc REFERENCE.pth OUT.pth [--prefix backbone.] [--sha256 HEX]

The release misspells the routing function (``rounting_func.``) and may carry ``module.``/``backbone.`` prefixes;
everything else already has mmdet ResNet's names.
"""
from __future__ import annotations

from convzoo.converters.common import converter_parser, read_source, run_as_script, source_meta, write_checkpoint
from convzoo.core.checkpoint import state_dict_of


def convert_reference_state_dict(state_dict: dict, prefix: str = '') -> dict:
    """Rename a LeapLabTHU/ARC checkpoint's keys for this port: ``rounting_func.`` -> ``routing_func.``,
    drop ``module.``/``backbone.`` prefixes, then prepend ``prefix`` (e.g. ``'backbone.'`` for a detector)."""
    converted = {}
    for key, value in state_dict.items():
        key = key.replace('rounting_func.', 'routing_func.')
        for strip in ('module.', 'backbone.'):
            key = key[len(strip):] if key.startswith(strip) else key
        converted[prefix + key] = value
    return converted


def main(argv=None, prog=None) -> None:
    """``python -m convzoo.converters.arc_resnet REFERENCE.pth OUT.pth [--prefix backbone.] [--sha256 HEX]``"""
    parser = converter_parser('Convert a LeapLabTHU/ARC checkpoint for ARCResNet.', prog)
    parser.add_argument('--prefix', default='', help="key prefix to add, e.g. 'backbone.' for a whole detector")
    args = parser.parse_args(argv)
    reference, digest = read_source(args.src, args.sha256)
    converted = convert_reference_state_dict(state_dict_of(reference, args.src), args.prefix)
    write_checkpoint(dict(state_dict=converted, meta=source_meta(args.src, 'arc', digest)), args.dst)
    print(f'{len(converted)} weights converted')


if __name__ == '__main__':
    run_as_script(main)
