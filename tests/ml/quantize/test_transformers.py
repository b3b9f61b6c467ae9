"""A user's transformers causal LM (a tiny GPT-2 with its own BPE tokenizer, trained here on CPython's pydoc
text) quantized block by block by every method and checked with transformers itself."""
import json
import math
import subprocess
import sys
import zipfile

import pytest
import torch

from ml.modelio import load_model
from ml.quantize import run
from ml.quantize.hf_text import perplexity, token_windows
from ml.quantize.tiny_lm import tiny_gpt2, with_outlier_channels
from ml.reporting import Cancelled, PrintReporter

SEQ = 64
# the runs are deterministic on one machine; a change of BLAS thread count moves a perplexity by ~1e-6 relative
# (summation order in fp32), so 1e-4 relative is slack for the platform
SLACK = 1e-4


@pytest.fixture(scope="session")
def lm(tmp_path_factory):
    return tiny_gpt2(tmp_path_factory.getbasetemp() / "tiny_lm")


def params(lm, method, bits, **kw):
    p = {"model": {"path": str(lm[0])}, "calibration": {"path": str(lm[1])}, "method": method, "bits": bits,
         "group_size": -1, "n_calibration": 32, "seq_len": SEQ}
    if method == "nupes":
        p["nupes_steps"] = 20
    if method == "decoupleq":
        p["decoupleq"] = {"block_epochs": 2}
    return {**p, **kw}


def _reporter(path):
    return PrintReporter(path, stream=open("/dev/null", "w"), quiet_progress=True)


def reloaded_perplexity(zip_path, text_file, tmp_path):
    """The researcher's check: unzip, from_pretrained, perplexity on the same held-out windows."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / "model"
    model, tok = AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    _, held = token_windows(tok, text_file.read_text(), SEQ, 1, 0)
    losses = []
    with torch.no_grad():
        for w in held.split(16):
            losses.append(float(model(input_ids=w, labels=w).loss) * len(w))
    return math.exp(sum(losses) / len(held))


@pytest.fixture(scope="module")
def results(lm, tmp_path_factory):
    out = {}
    for bits in (2, 3):
        for method in ("rtn", "gptq", "decoupleq", "nupes"):
            d = tmp_path_factory.mktemp(f"{method}{bits}")
            out[method, bits] = (run(params(lm, method, bits), _reporter(d)), d)
    return out


# The share of the weaker method's perplexity cost (perplexity - fp32's) that the stronger one saves, at the
# least over the tiny GPT-2 trained from seeds 0-3 with torch threads 1 and 2 (the measured table is in
# docs/kinds/quantize.md); each bound is about half the least measured share, so it holds across trainings
# and CPUs while a method that did no better than the weaker one would fail it.
SAVES_AT_LEAST = {(3, "gptq", "rtn"): 0.2, (3, "decoupleq", "rtn"): 0.25,
                  (2, "gptq", "rtn"): 0.15, (2, "decoupleq", "gptq"): 0.2}


@pytest.mark.parametrize("bits", [2, 3])
def test_each_method_lowers_the_error_it_minimises_decoupleq_gptq_rtn(results, bits):
    """decoupleQ <= GPTQ <= RTN on the objective the methods minimise, each layer's output error on the
    calibration activations (5-50 % per layer at every training seed tried), and on held-out perplexity by
    the measured margins of SAVES_AT_LEAST. At 3 bits decoupleQ's lower layer error does not make its
    perplexity lower than GPTQ's on this model, which has no outlier weights (below it at 2 of 4 training
    seeds with 32 windows, at none with 128: docs/kinds/quantize.md, as the paper's Llama-1-65B row), so
    the test asserts there only that both save a large share of RTN's cost; the 3-bit order is asserted
    on the same model with LLM-like outliers, below."""
    ppl = {m: results[m, bits][0]["metric_after"] for m in ("rtn", "gptq", "decoupleq", "nupes")}
    err = {m: [r["rel_error"] for r in results[m, bits][0]["layers"]] for m in ("rtn", "gptq", "decoupleq")}
    fp = results["rtn", bits][0]["metric_before"]
    assert all(results[k][0]["metric_before"] == fp for k in results)  # one baseline for every run
    # the first layer sees the same fp activations in every run, so its errors compare like for like
    assert err["decoupleq"][0] <= err["gptq"][0] <= err["rtn"][0]
    assert sum(err["decoupleq"]) < sum(err["gptq"]) < sum(err["rtn"])
    cost = {m: p - fp for m, p in ppl.items()}
    assert cost["rtn"] > 0.03 * fp  # quantizing to 2-3 bits per channel costs this model perplexity (measured 6-57 %)
    for (b, better, worse), share in SAVES_AT_LEAST.items():
        if b == bits:
            assert cost[better] < (1 - share) * cost[worse], (better, worse, cost)
    assert math.isfinite(ppl["nupes"]) and ppl["nupes"] > fp * (1 - SLACK)
    rows = results["gptq", bits][0]["layers"]
    # every Conv1D of both blocks, transposed to [out, in]; the tied LM head stays in fp
    assert [(r["name"].split(".", 3)[-1], r["shape"]) for r in rows[:4]] == [
        ("attn.c_attn", [192, 64]), ("attn.c_proj", [64, 64]), ("mlp.c_fc", [256, 64]), ("mlp.c_proj", [64, 256])]
    assert len(rows) == 8 and all(r["stored_transposed"] for r in rows)


# measured over training seeds 0-3 at 32 and 128 windows (bench.bench_quantize gpt2, "outliers" rows):
# decoupleQ's cost is 25-35 % of GPTQ's, GPTQ's 49-61 % of RTN's; each bound leaves about half the gap
OUTLIER_COST_AT_MOST = {("decoupleq", "gptq"): 0.65, ("gptq", "rtn"): 0.8}


def test_with_llm_like_outlier_weights_3_bit_perplexity_orders_decoupleq_gptq_rtn(lm, results, tmp_path_factory):
    """The same model with a few input channels of each block's first linear layers scaled up 8x (and
    their LayerNorm channels down: the function is unchanged): per-channel grids then spend their levels
    on the outliers, as in LLMs, and 3-bit perplexity orders the methods as the paper's Llama-1-7B row."""
    folder = with_outlier_channels(lm[0], tmp_path_factory.mktemp("outliers") / "model")
    res = {m: run(params(lm, m, 3, model={"path": str(folder)}), _reporter(tmp_path_factory.mktemp(f"out-{m}")))
           for m in ("rtn", "gptq", "decoupleq")}
    fp = res["rtn"]["metric_before"]
    # the rescale preserves the function: the fp32 perplexity is the plain model's up to float rounding
    assert fp == pytest.approx(results["rtn", 3][0]["metric_before"], rel=1e-5)
    cost = {m: r["metric_after"] - fp for m, r in res.items()}
    for (better, worse), bound in OUTLIER_COST_AT_MOST.items():
        assert cost[better] < bound * cost[worse], (better, worse, cost)


@pytest.mark.parametrize("method", ["rtn", "gptq", "decoupleq", "nupes"])
def test_model_zip_reloads_with_transformers_to_the_jobs_perplexity(results, lm, method, tmp_path):
    res, out = results[method, 2]
    got = reloaded_perplexity(out / "model.zip", lm[1], tmp_path)
    # the same fp32 weights through addmm (Conv1D) instead of F.linear: rounding-level differences only
    assert got == pytest.approx(res["metric_after"], rel=1e-5)
    assert got != pytest.approx(res["metric_before"], rel=1e-4)  # and it is the quantized model, not the source
    # the packed model (our format) is the same model too
    model, cfg = load_model(out)
    assert cfg["arch"] == "transformers" and cfg["tied"] == {"lm_head.weight": "transformer.wte.weight"}
    _, held = token_windows(__import__("transformers").AutoTokenizer.from_pretrained(out), lm[1].read_text(), SEQ, 1, 0)
    assert perplexity(model, held) == pytest.approx(res["metric_after"], rel=1e-6)


def test_block_checkpoint_resumes_to_the_same_model(lm, results, tmp_path):
    class StopAfterFirstBlock(PrintReporter):
        def should_stop(self):
            return any(e["type"] == "progress" for e in self.events)

    p = params(lm, "gptq", 2)
    with pytest.raises(Cancelled):
        run(p, StopAfterFirstBlock(tmp_path, stream=open("/dev/null", "w"), quiet_progress=True))
    manifest = json.loads((tmp_path / "checkpoint" / "manifest.json").read_text())
    assert manifest["step"] == 1  # the fp baseline and block 0 are kept, block 1 is not done
    rep = _reporter(tmp_path)
    res = run(p, rep)
    assert any("resumed after block 1 of 2" in e["data"]["text"] for e in rep.events if e["type"] == "log")
    assert res["metric_after"] == results["gptq", 2][0]["metric_after"]


def test_terminal_run_and_bad_folders(lm, tmp_path):
    pf = tmp_path / "p.json"
    pf.write_text(json.dumps(params(lm, "rtn", 4)))
    done = subprocess.run([sys.executable, "-m", "ml.quantize", "--params", str(pf), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "o" / "model.zip").is_file()
    assert json.loads((tmp_path / "o" / "result.json").read_text())["metric_name"] == "perplexity"

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pytorch_model.bin").write_bytes(b"\x80\x04")
    (bad / "config.json").write_text((lm[0] / "config.json").read_text())
    with pytest.raises(ValueError, match="pytorch_model.bin: pickled weights are refused"):
        run(params(lm, "rtn", 4, model={"path": str(bad)}), _reporter(tmp_path / "b1"))
    (bad / "config.json").unlink()
    with pytest.raises(ValueError, match="no config.json"):
        run(params(lm, "rtn", 4, model={"path": str(bad)}), _reporter(tmp_path / "b2"))
    with pytest.raises(ValueError, match="calibration: a transformers model is calibrated"):
        run({**params(lm, "rtn", 4), "calibration": None}, _reporter(tmp_path / "b3"))
    short = tmp_path / "short.txt"
    short.write_text("too short a text")
    with pytest.raises(ValueError, match="calibration: the text has"):
        run(params(lm, "rtn", 4, calibration={"path": str(short)}), _reporter(tmp_path / "b4"))


def test_gptq_format_export_unpacks_to_our_weights(lm, results, tmp_path):
    from safetensors.torch import load_file

    from ml.quantize.hf_gptq import dequantize_gptq
    res, out = results["gptq", 2]
    assert res["gptq_export"] and not results["decoupleq", 2][0]["gptq_export"]  # float zeros: no such layout
    assert not results["gptq", 3][0]["gptq_export"]  # 3-bit codes do not fill int32 words
    with zipfile.ZipFile(out / "model-gptq.zip") as z:
        z.extractall(tmp_path)
    folder = tmp_path / "model"
    qc = json.loads((folder / "config.json").read_text())["quantization_config"]
    assert qc["quant_method"] == "gptq" and qc["bits"] == 2 and qc["checkpoint_format"] == "gptq"
    t = {}
    for f in folder.glob("*.safetensors"):
        t.update(load_file(str(f)))
    model, _ = load_model(out)
    for r in res["layers"]:
        name = r["name"]
        ours = model.get_submodule(name).weight_2d()
        qweight = t[name + ".qweight"]
        assert qweight.dtype == torch.int32 and qweight.shape == (ours.shape[1] // 16, ours.shape[0])
        assert t[name + ".g_idx"].shape == (ours.shape[1],)
        torch.testing.assert_close(dequantize_gptq(t, name, 2), ours, rtol=0, atol=0)


def test_at_most_one_block_is_held_in_fp32(lm):
    from ml.quantize.hf_blocks import block_inputs, quantize_block, streamed_perplexity
    from ml.quantize.hf_folder import open_lm
    from ml.quantize.model import candidate_layers

    m = open_lm(lm[0])
    assert all(p.device.type == "meta" for p in m.layers.parameters())  # nothing of a block is read up front
    fp_blocks = []
    load = m.load_block

    def counting_load(i):
        block = load(i)
        # blocks holding full-precision linear weights right now (meta ones hold nothing, quantized ones codes)
        fp_blocks.append(sum(1 for b in m.layers if next(b.parameters()).device.type != "meta"
                             and candidate_layers(b)))
        return block

    m.load_block = counting_load
    from transformers import AutoTokenizer
    _, held = token_windows(AutoTokenizer.from_pretrained(lm[0]), lm[1].read_text(), SEQ, 1, 0)
    streamed_perplexity(m, held[:8], 8)
    calls = block_inputs(m, held[:8], 8)
    for i in range(m.n_blocks):
        quantize_block(m, i, calls, "rtn", 4, -1, False, {}, (), True)
    assert fp_blocks == [1, 1, 1, 1]
