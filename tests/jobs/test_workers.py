"""jobs/workers.py: the GPUs a worker announces are those its own CUDA_VISIBLE_DEVICES leaves, named as
that names them (NVML sees every GPU of the host)."""
from jobs.workers import visible

GPUS = [{"name": "H100", "index": str(i), "uuid": f"GPU-{i}aa{i}"} for i in range(4)]


def test_a_worker_started_on_some_gpus_announces_only_those_named_as_its_mask_names_them():
    assert visible(GPUS, None) == GPUS
    assert [(g["index"], g["uuid"]) for g in visible(GPUS, "2,3")] == [("2", "GPU-2aa2"), ("3", "GPU-3aa3")]
    assert [(g["index"], g["uuid"]) for g in visible(GPUS, "GPU-3a,1")] == [("GPU-3a", "GPU-3aa3"), ("1", "GPU-1aa1")]
    # as CUDA: the first token it cannot match (or a repeat) ends the list; an empty mask hides every GPU
    assert [g["index"] for g in visible(GPUS, "1,7,2")] == ["1"]
    assert [g["index"] for g in visible(GPUS, "1,1")] == ["1"]
    assert [g["index"] for g in visible(GPUS, "GPU-1,1")] == ["GPU-1"]  # the same GPU by its UUID, then index
    assert visible(GPUS, "") == []
    assert [g["index"] for g in visible(GPUS, "MIG-abc,0")] == ["MIG-abc", "0"]
