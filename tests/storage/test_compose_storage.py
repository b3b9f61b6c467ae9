"""docker/compose.yaml keeps files in MinIO: web and workers share no volume (as on hosts that share no
disk), each reaches the bucket with the lab's own key, and that key's policy names only the lab's bucket."""
import json

from tests.security.test_compose import DOCKER, compose

LAB = ("web", "worker", "cpu-worker")


def test_web_and_workers_share_no_volume_and_keep_files_in_minio():
    services = compose()["services"]
    volumes = {name: {v.split(":")[0] for v in services[name].get("volumes", [])} for name in LAB}
    for a in LAB:
        for b in LAB:
            assert a == b or not (volumes[a] & volumes[b]), (a, b, volumes)
    for name in LAB:
        env = services[name]["environment"]
        assert env["LAB_STORAGE_URL"] == "s3://lab" and env["AWS_ENDPOINT_URL"] == "http://minio:9000"
        assert env["AWS_ACCESS_KEY_ID"] == "${LAB_S3_KEY:-lab}"  # the lab's user, not MinIO's root
    assert "minio" in services and not services["minio"].get("ports")
    assert services["web"]["depends_on"]["minio-init"] == {"condition": "service_completed_successfully"}


def test_the_lab_key_may_touch_its_bucket_only():
    policy = json.loads((DOCKER / "minio-lab-policy.json").read_text())
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert resources == {"arn:aws:s3:::lab", "arn:aws:s3:::lab/*"}
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert not any("*" in a for a in actions) and not any(a.startswith("s3:PutBucket") for a in actions)
