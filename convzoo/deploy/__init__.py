"""Deployment forms: ONNX export of detectors, segmentors and restoration networks, checked with onnxruntime, and
an onnxruntime model that answers ``test_step`` like the PyTorch one (:mod:`convzoo.deploy.onnx_runtime`)."""
