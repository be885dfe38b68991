"""Deployment forms: ONNX export of the restoration networks, checked with onnxruntime."""
