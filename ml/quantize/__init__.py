"""`quantize` job kind: post-training weight quantization (RTN, GPTQ, decoupleQ, NUPES), packed storage."""
from ml.quantize.layer import quantize_weight
from ml.quantize.params import Params
from ml.quantize.runner import run

__all__ = ["run", "Params", "quantize_weight"]
