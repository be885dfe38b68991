"""Segmentation tests run in mmseg's default scope, restored afterwards so that later tests in the same process
(e.g. the registered-module sweep building mmdet modules) see the scope they expect."""
import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
