"""A tiny GPT-2 with its own byte-level BPE tokenizer, trained briefly on a text and saved as transformers saves
it: the stand-in for a user's causal LM in the tests and the benchmark (nothing downloaded).

Trained long enough (1000 AdamW steps of 16 windows) that its blocks carry the prediction: its held-out
perplexity falls from ~40 at 300 steps to ~18, and with it the model becomes sensitive to its weights the way
a real LM is: 3-bit per-channel RTN costs ~6-8 % perplexity instead of ~0.5 %, GPTQ about half that. At 300
steps the 3-bit cost of every method (0.2-0.7 %) was below the spread between training seeds, so the methods'
order there was a property of the seed (measured: tests/ml/quantize/test_transformers.py).
"""
from __future__ import annotations

from pathlib import Path

import torch


def pydoc_text(chars: int = 120_000) -> str:
    """English prose with code: CPython's bundled pydoc topics (the char transformer's text), cut to `chars`."""
    from ml.quantize.builtin import topics_text
    return topics_text()[:chars]


def make_tiny_gpt2(folder, text: str, vocab_size: int = 512, n_embd: int = 64, n_layer: int = 2, n_head: int = 2,
                   context: int = 64, steps: int = 1000, batch: int = 16, lr: float = 3e-3, seed: int = 0) -> Path:
    """Train tokenizer + model on `text` and `save_pretrained` both (safetensors) into `folder`."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([text], vocab_size=vocab_size, min_frequency=2, special_tokens=["<|endoftext|>"],
                            show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<|endoftext|>",
                                  eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    ids = torch.tensor(tok(text)["input_ids"], dtype=torch.long)
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=len(tok), n_positions=max(128, context), n_embd=n_embd, n_layer=n_layer,
                     n_head=n_head, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    model = GPT2LMHeadModel(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    train = ids[: int(0.9 * len(ids))]  # the tail stays unseen: it is what the quantize job evaluates on
    model.train()
    for _ in range(steps):
        starts = torch.randint(0, len(train) - context, (batch,), generator=gen)
        x = torch.stack([train[s:s + context] for s in starts.tolist()])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def with_outlier_channels(src, folder, scale: float = 8.0, per_norm: int = 2, seed: int = 0) -> Path:
    """The same function with the weight outliers LLMs have: in each block, `per_norm` random channels of
    each LayerNorm are divided by `scale` and the matching input rows of the linear layer it feeds
    (attn.c_attn, mlp.c_fc) multiplied by it. Outputs are unchanged up to float rounding; every output
    channel of those layers now holds a few weights `scale` times its others, so a per-channel min-max grid
    spends most of its levels on them (the setting where decoupleQ's paper finds GPTQ collapsing at 3 bits,
    Llama-1-7B). Saved with the tokenizer into `folder`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    model = AutoModelForCausalLM.from_pretrained(src)
    gen = torch.Generator().manual_seed(100 + seed)
    with torch.no_grad():
        for block in model.transformer.h:
            for norm, linear in ((block.ln_1, block.attn.c_attn), (block.ln_2, block.mlp.c_fc)):
                idx = torch.randperm(norm.weight.numel(), generator=gen)[:per_norm]
                norm.weight[idx] /= scale
                norm.bias[idx] /= scale
                linear.weight[idx, :] *= scale  # Conv1D keeps its weight as [in, out]
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    return folder


def tiny_gpt2(cache, seed: int = 0) -> tuple[Path, Path]:
    """(model folder, text file) under `cache`, trained once per cache folder and seed (tests share one per
    session)."""
    from ml.durable import write_text

    cache = Path(cache)
    name = "tiny_gpt2" if seed == 0 else f"tiny_gpt2_seed{seed}"
    model, text_file, done = cache / name, cache / "pydoc.txt", cache / f"{name}.done"
    if not done.is_file():
        text = pydoc_text()
        if not text_file.is_file():
            write_text(text_file, text)
        make_tiny_gpt2(model, text, seed=seed)
        write_text(done, "ok")
    return model, text_file
