"""mmrotate's Oriented R-CNN checkpoints (1.x ``oriented-rcnn-le90_r50_fpn_1x_dota``; 0.x uses the same names) for
convzoo's :class:`~convzoo.detectors.oriented_rcnn.OrientedRCNN`.

    python -m convzoo.converters.oriented_rcnn oriented-rcnn-le90_r50_fpn_1x_dota-e76858b8.pth OUT.pth [--sha256 HEX]
    convzoo convert oriented_rcnn SRC DST [--sha256 HEX]

mmrotate builds Oriented R-CNN from ``mmdet.FasterRCNN`` + ``OrientedRPNHead`` + ``mmdet.StandardRoIHead`` with
``mmdet.Shared2FCBBoxHead``, so its keys are Faster R-CNN's, which convzoo keeps::

    backbone.*                       mmdet ResNet (ARC backbones: ``rounting_func.`` is renamed ``routing_func.``)
    neck.lateral_convs.i.conv.*      neck.fpn_convs.i.conv.*
    rpn_head.rpn_conv.{weight,bias}  rpn_head.rpn_cls.*  (A x 1)      rpn_head.rpn_reg.*  (A x 6: dx dy dw dh da db)
    roi_head.bbox_head.shared_fcs.{0,1}.*   roi_head.bbox_head.fc_cls.* (classes + 1)   roi_head.bbox_head.fc_reg.* (5)

Both use le90 boxes with the same corner convention (u = (cos, sin), v = (-sin, cos)), the same midpoint-offset
and (x, y, w, h, theta) delta definitions (projected centre offsets, edge swap, no angle normalisation factor) and
``RoIAlignRotated(clockwise=True)``, so no tensor changes: the converter strips ``module.``, checks that the file
is an oriented two-stage detector (6 RPN deltas per anchor, 5 box deltas), keeps the class names, and writes a
convzoo checkpoint (load it strictly with ``convzoo test`` or the Inferencer).
"""
from __future__ import annotations

from convzoo.converters.common import converter_parser, read_source, run_as_script, source_meta, write_checkpoint
from convzoo.core.checkpoint import state_dict_of
from convzoo.core.errors import ConversionError

RPN_REG = 'rpn_head.rpn_reg.weight'
RPN_CLS = 'rpn_head.rpn_cls.weight'
FC_REG = 'roi_head.bbox_head.fc_reg.weight'
FC_CLS = 'roi_head.bbox_head.fc_cls.weight'


def convert_mmrotate_state_dict(state_dict: dict) -> dict:
    """An mmrotate Oriented R-CNN state dict in convzoo's names (the same tensors; see the module docstring).

    Raises :class:`ConversionError` for a file that is not an oriented two-stage detector.
    """
    converted = {}
    for key, value in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if key.startswith('data_preprocessor.'):
            continue  # normalisation constants, not weights (convzoo's preprocessor takes them from the config)
        converted[key.replace('rounting_func.', 'routing_func.')] = value
    for key in (RPN_CLS, RPN_REG, FC_REG, FC_CLS):
        if key not in converted:
            raise ConversionError(f'{key} is missing: not an Oriented R-CNN checkpoint in mmrotate\'s layout '
                                  f'(found {len(converted)} keys, e.g. {sorted(converted)[:3]})')
    cls_out, rpn_out = converted[RPN_CLS].shape[0], converted[RPN_REG].shape[0]
    box_out = converted[FC_REG].shape[0]
    if rpn_out not in (6 * cls_out, 3 * cls_out):  # A anchors: A (sigmoid) or 2A (softmax) scores, 6A deltas
        raise ConversionError(f'{RPN_REG} has {rpn_out} outputs for {cls_out} anchor scores ({RPN_CLS}), not 6 '
                              'deltas per anchor: a horizontal RPN (4 per anchor)? Oriented R-CNN regresses '
                              'midpoint offsets (dx, dy, dw, dh, da, db)')
    if box_out % 5:
        raise ConversionError(f'{FC_REG} has {box_out} outputs, not a multiple of 5 (x, y, w, h, theta): not a '
                              'rotated box head')
    return converted


def main(argv=None, prog=None) -> None:
    """``python -m convzoo.converters.oriented_rcnn MMROTATE.pth OUT.pth [--sha256 HEX]``"""
    parser = converter_parser("Convert an mmrotate Oriented R-CNN checkpoint for convzoo's OrientedRCNN.", prog)
    args = parser.parse_args(argv)
    checkpoint, digest = read_source(args.src, args.sha256)
    converted = convert_mmrotate_state_dict(state_dict_of(checkpoint, args.src))
    meta = source_meta(args.src, 'oriented_rcnn', digest)
    original_meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(original_meta, dict) and isinstance(original_meta.get('dataset_meta'), dict):
        meta['dataset_meta'] = original_meta['dataset_meta']  # class names for the Inferencer
    write_checkpoint(dict(state_dict=converted, meta=meta), args.dst)
    print(f'{len(converted)} weights converted')


if __name__ == '__main__':
    run_as_script(main)
