"""DN-FPN detector weights from the DNTR reference's layout (its loss module is ``contrastive_loss.*``)."""
from __future__ import annotations

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
