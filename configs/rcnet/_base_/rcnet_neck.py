# The paper's RCNet neck for R50 detectors (C3-C5 in, P3-P7 out, BN in the neck), replacing the base config's FPN
# (`_delete_`): use as `neck={{_base_.rcnet}}`.
rcnet = dict(_delete_=True, type='RCNet', in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1,
             num_outs=5, norm_cfg=dict(type='BN', requires_grad=True))
