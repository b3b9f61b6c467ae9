"""ml/upload's job in the terminal's reporter: a lab model's folder zipped, checked, unpacked into the run's own
folder, loaded once and described; a dataset read once."""
import io

import pytest

from ml.reporting import PrintReporter
from ml.upload import run
from ml.upload.archive import BadUpload
from tests.ml.upload.zips import zip_folder


def test_a_lab_model_is_unpacked_loaded_and_described(blown_up_flow, tmp_path):
    from safetensors.torch import load_file

    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.safetensors", "model.json"):
        (folder / name).write_bytes((blown_up_flow / name).read_bytes())
    archive = zip_folder(folder, tmp_path / "flow.zip")
    out = tmp_path / "out"
    res = run({"kind": "model", "format": "lab", "file": "flow.zip", "path": str(archive)},
              PrintReporter(out, stream=io.StringIO(), quiet_progress=True))
    weights = load_file(str(folder / "model.safetensors"))
    assert res["parameters"] == sum(t.numel() for t in weights.values())
    assert res["dtype"] == "F32" and res["files"] == 2 and res["config"]["arch"]
    assert sorted(p.name for p in (out / "unpacked").iterdir()) == ["model.json", "model.safetensors"]


def test_a_lab_model_json_its_weights_do_not_fit_is_refused(blown_up_flow, tmp_path):
    import json

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((blown_up_flow / "model.safetensors").read_bytes())
    cfg = json.loads((blown_up_flow / "model.json").read_text())
    cfg["arch_kwargs"] = {**cfg.get("arch_kwargs", {}), "width": 999}
    (folder / "model.json").write_text(json.dumps(cfg))
    with pytest.raises(BadUpload, match="the lab cannot rebuild this model"):
        run({"kind": "model", "format": "lab", "file": "m.zip", "path": str(zip_folder(folder, tmp_path / "m.zip"))},
            PrintReporter(tmp_path / "out", stream=io.StringIO(), quiet_progress=True))


def test_datasets_are_read_once_and_described(tmp_path):
    import numpy as np

    rep = PrintReporter(tmp_path / "out", stream=io.StringIO(), quiet_progress=True)
    np.save(tmp_path / "x.npy", np.linspace(-1, 1, 30, dtype=np.float32).reshape(10, 3))
    assert run({"kind": "dataset", "format": "npy", "file": "x.npy", "path": str(tmp_path / "x.npy")}, rep)["shape"] \
        == [10, 3]
    (tmp_path / "s.fa").write_text(">a\nACGT\n>b\nACGTAC\n")
    res = run({"kind": "dataset", "format": "fasta", "file": "s.fa", "path": str(tmp_path / "s.fa")}, rep)
    assert (res["sequences"], res["length_min"], res["length_max"]) == (2, 4, 6)
    (tmp_path / "l.csv").write_text("id,activity\na,1\nb\n")
    with pytest.raises(BadUpload, match="l.csv: line 3 has 1 fields, the header 2"):
        run({"kind": "dataset", "format": "csv", "file": "l.csv", "path": str(tmp_path / "l.csv")}, rep)
    with pytest.raises(BadUpload, match=r"a fasta file's name ends in .fa or .fasta or .fna"):
        run({"kind": "dataset", "format": "fasta", "file": "s.txt", "path": str(tmp_path / "s.fa")}, rep)
