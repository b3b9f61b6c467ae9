"""`quantize` job kind: post-training weight quantization (RTN, GPTQ, decoupleQ, NUPES), packed storage.

One file per algorithm: `rtn.py`, `gptq.py`, `decoupleq.py` (+ `pgd_round.py`, `block_stage.py`), `nupes.py`;
`grid.py` holds the shared grid convention and `QuantizedWeight`; `packing.py` the bit-packing; `packed.py`
the `QuantLinear` / `QuantConv1d` modules and `load_quantized`; `model.py` the sequential, hook-driven
model pass; `testbed.py` / `testbed_dna.py` / `builtin.py` / `fd.py` the calibration data and metrics; `runner.py` the job.
A user's transformers causal LM goes block by block: `hf_folder.py` (the folder, lazily loaded blocks),
`hf_text.py` (windows, perplexity), `hf_blocks.py` (the block stream), `hf_export.py` (model.zip),
`hf_runner.py` (its job); `tiny_lm.py` builds the tiny GPT-2 the tests and the benchmark use.

    python -m ml.quantize --params p.json --out DIR      # p.json e.g. {"method": "decoupleq", "bits": 2,
                                                         #   "group_size": 32, "model": {"builtin": "char_transformer"}}
    python bench/bench_quantize.py [--quick]             # the comparison table, bench/results/quantize.json
"""
from ml.quantize.layer import quantize_weight
from ml.quantize.params import Params
from ml.quantize.runner import run

__all__ = ["run", "Params", "quantize_weight"]
