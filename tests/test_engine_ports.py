"""The checks ported to the sweep engine give the same record whichever executor runs their tasks."""
import verify

SMALL = {"halvings": 4, "partition_n": 6, "betas": [0.9], "sgd_batches": 3}


def test_modified_loss_record_is_the_same_in_process_and_on_a_two_process_pool():
    serial = verify.run("modified_loss", seed=5, workers=1, **SMALL)
    pooled = verify.run("modified_loss", seed=5, workers=2, **SMALL)
    assert pooled.execution["workers"] == 2 and serial.execution["workers"] == 1
    assert serial.to_dict()["points"] == pooled.to_dict()["points"]
    assert serial.to_dict()["claims"] == pooled.to_dict()["claims"]
