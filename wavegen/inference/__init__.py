"""Inference: using trained generators outside the training code.

:mod:`wavegen.inference.export` serialises a run's generator (and the VAE's encoder) with
``jax.export`` into self-contained artifacts that a process with only jax and numpy can load
and call, for the CPU, GPU or TPU, and optionally converts it to ONNX.
"""
