"""DN-FPN detector weights from the DNTR reference's layout (its loss module is ``contrastive_loss.*``).

    python -m convzoo.converters.dn_fpn DNTR.pth OUT.pth [--sha256 HEX]
    convzoo convert dn_fpn DNTR.pth OUT.pth [--sha256 HEX]
"""
from __future__ import annotations

from convzoo.converters.common import converter_parser, read_source, run_as_script, source_meta, write_checkpoint
from convzoo.core.checkpoint import state_dict_of
from convzoo.detectors.dn_fpn import PREFIX

REFERENCE_PREFIX = 'contrastive_loss.'  # key prefix of the DNTR reference's detector checkpoints


def convert_reference_state_dict(state_dict: dict) -> tuple[dict, list[str]]:
    """Rename a DNTR reference detector state dict's ``contrastive_loss.*`` keys to ``dn_fpn_loss.*``.

    Returns the new dict and the keys a reference checkpoint cannot provide: the reference never registered its
    channel-transfer convs, so ``dn_fpn_loss.channel_transfer.*`` stay at their initialisation (load with
    ``strict=False`` and expect exactly these missing keys).
    """
    converted = {(PREFIX + k[len(REFERENCE_PREFIX):] if k.startswith(REFERENCE_PREFIX) else k): v
                 for k, v in state_dict.items()}
    missing = [] if any(k.startswith(PREFIX + 'channel_transfer.') for k in converted) else \
        [PREFIX + 'channel_transfer.*']
    return converted, missing


def main(argv=None, prog=None) -> None:
    """``python -m convzoo.converters.dn_fpn DNTR.pth OUT.pth [--sha256 HEX]``"""
    parser = converter_parser('Convert a DNTR reference detector checkpoint (contrastive_loss.* keys) for '
                              "convzoo's DN-FPN detectors.", prog)
    args = parser.parse_args(argv)
    reference, digest = read_source(args.src, args.sha256)
    converted, missing = convert_reference_state_dict(state_dict_of(reference, args.src))
    write_checkpoint(dict(state_dict=converted, meta=source_meta(args.src, 'dn_fpn', digest)), args.dst)
    if missing:
        print(f'note: the reference has no {", ".join(missing)}: they keep their initialisation (load with '
              'strict=False, e.g. as load_from for fine-tuning)')


if __name__ == '__main__':
    run_as_script(main)
