"""ARC backbone weights from the authors' release (LeapLabTHU/ARC, OBBDetection layout) for :class:`ARCResNet`.

    python -m convzoo.converters.arc_resnet REFERENCE.pth OUT.pth [--prefix backbone.]
    convzoo convert arc REFERENCE.pth OUT.pth [--prefix backbone.]

The release misspells the routing function (``rounting_func.``) and may carry ``module.``/``backbone.`` prefixes;
everything else already has mmdet ResNet's names.
"""
from __future__ import annotations

from convzoo.core.checkpoint import save_checkpoint_atomic, state_dict_of
from convzoo.core.safe_load import load_checkpoint_file


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


def main(argv=None) -> None:
    """``python -m convzoo.converters.arc_resnet REFERENCE.pth OUT.pth [--prefix backbone.]``"""
    import argparse

    parser = argparse.ArgumentParser(description='Convert a LeapLabTHU/ARC checkpoint for ARCResNet.')
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--prefix', default='', help="key prefix to add, e.g. 'backbone.' for a whole detector")
    args = parser.parse_args(argv)
    converted = convert_reference_state_dict(state_dict_of(load_checkpoint_file(args.src), args.src), args.prefix)
    save_checkpoint_atomic(dict(state_dict=converted), args.dst)
    print(f'{len(converted)} weights written to {args.dst}')


if __name__ == '__main__':
    main()
