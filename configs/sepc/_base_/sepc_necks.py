# The FPN + SEPC neck variants of the paper's RetinaNet R50 experiments (Table of variants in specs/sepc.md).
fpn = dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1,
           add_extra_convs='on_input', num_outs=5)
sepc = dict(type='SEPC', in_channels=[256] * 5, out_channels=256, num_outs=5, stacked_convs=4,
            pconv_deform=True, lcconv_deform=True, ibn=True, norm_cfg=dict(type='BN', requires_grad=True))
sepc_lite = dict(sepc, pconv_deform=False)
ibn_pconv = dict(sepc_lite, lcconv_deform=False)
pconv = dict(ibn_pconv, ibn=False)
