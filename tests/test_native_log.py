"""TensorFlow's native lines that read as failures but are not, dropped; anything else passed on."""

from imgclf.native_log import is_noise

CUINIT = (
    b"E0000 00:00:1795784596.157962   20159 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    b"Failed call to cuInit: UNKNOWN ERROR (303)"
)
THREADPOOL = (  # printed whenever augmentation maps a batch (TF 2.21's graph for an older op definition)
    b"E0000 00:00:1795784596.157962   20159 node_def_util.cc:682] NodeDef mentions attribute "
    b"use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset; signature=...> This may be "
    b"expected if your graph generating binary is newer  than this binary. Unknown attributes will be ignored."
)


def test_known_start_up_and_augmentation_noise_is_dropped_and_real_errors_pass():
    assert is_noise(CUINIT + b"\n") and is_noise(THREADPOOL + b"\n")
    assert not is_noise(b"E0000 00:00:1795784596.1   20159 op_kernel.cc:1] OUT_OF_RANGE: End of sequence\n")
    assert not is_noise(b"error: params.yaml: train.lr = -1 is out of range\n")
