# DEA-Net on RESIDE OTS, evaluated on SOTS-outdoor (same recipe as deanet_its.py).
# Data: data/RESIDE/OTS/{hazy,clear} (hazy/0001_0.8_0.2.jpg pairs with clear/0001.jpg),
# data/RESIDE/SOTS/outdoor/{hazy,clear}.
_base_ = ['./deanet_its.py']
train_dataloader = dict(dataset=dict(data_root='data/RESIDE/OTS'))
val_dataloader = dict(dataset=dict(data_root='data/RESIDE/SOTS/outdoor'))
test_dataloader = val_dataloader
