"""Named example params of `quantize` (ml.params.PRESETS): the form's preset select fills the fields.

"paper config" is GPTQ's W4 g128 with act-order on 128 calibration samples (Frantar et al. 2023) on the
benchmark char transformer; "decoupleQ W2" the decoupleQ repo's run_llama.sh settings (W2 per channel,
4 rounds, GPTQ rounding, 4 block epochs with the norms trained) as far as our options reach."""

PRESETS = {
    "quick demo": {"model": {"builtin": "digits_mlp", "size": "small"}, "method": "gptq", "bits": 4,
                   "group_size": 64, "n_calibration": 128},
    "paper config": {"model": {"builtin": "char_transformer", "size": "full"}, "method": "gptq", "bits": 4,
                     "group_size": 128, "act_order": True, "n_calibration": 128},
    "decoupleQ W2": {"model": {"builtin": "char_transformer", "size": "full"}, "method": "decoupleq", "bits": 2,
                     "group_size": -1, "act_order": True, "n_calibration": 128,
                     "decoupleq": {"max_iter": 4, "round_fn": "gptq", "block_stage": True, "block_epochs": 4,
                                   "train_norms": True}},
}
