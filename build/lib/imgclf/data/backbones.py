"""The ImageNet backbones of `train.model: pretrained`: their keras.applications constructor, input size, input
scaling and published no-top weights file (its path below a mirror, and the md5 keras.applications checks)."""

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from imgclf.data.download import RemoteFile, md5_of
from imgclf.errors import PipelineError

WEIGHTS_RECORD = "weights.json"  # in the weights folder: which backbone's weights it holds, if any


@dataclass(frozen=True)
class Backbone:
    constructor: str  # in keras.applications
    size: int  # the side of the square images the backbone was trained on; the model resizes to it
    scaling: str  # "inside": the backbone scales raw 0-255 pixels itself; "caffe": BGR minus the ImageNet mean
    weights: RemoteFile  # name: the file's path below a mirror, e.g. below https://storage.googleapis.com/


BACKBONES = {
    "MobileNetV3Small": Backbone(
        "MobileNetV3Small",
        224,
        "inside",
        RemoteFile(
            "tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
            "d3e8ec802a04aa4fc771ee12a9a9b836",
        ),
    ),
    "EfficientNetB0": Backbone(
        "EfficientNetB0",
        224,
        "inside",
        RemoteFile("keras-applications/efficientnetb0_notop.h5", "50bc09e76180e00e4465e1a485ddc09d"),
    ),
    "ResNet50": Backbone(
        "ResNet50",
        224,
        "caffe",
        RemoteFile(
            "tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "4d473c1dd8becc155b73f8504c6f6626",
        ),
    ),
}

IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # what keras.applications.resnet50.preprocess_input subtracts


def weights_path(weights_dir: Path, backbone: Backbone) -> Path:
    """Where fetch keeps a backbone's verified weights: the file's own name, in the weights folder."""
    return Path(weights_dir) / PurePosixPath(backbone.weights.name).name


def fetched_weights(weights_dir: Path, backbone: Backbone) -> Path:
    """The backbone's weights file in weights_dir, as fetch verified it (weights.json keeps its md5): a copy damaged
    since stops here, with one line, before Keras reads it."""
    path = weights_path(weights_dir, backbone)
    fetch_again = "fetch it again: run `dvc repro -f fetch`"
    if not path.is_file():
        raise PipelineError(f"{path}: not found; fetch downloads it: run `dvc repro fetch`")
    try:
        record = json.loads((Path(weights_dir) / WEIGHTS_RECORD).read_text())
        md5 = record["md5"] if record["file"] == path.name else None
    except (OSError, ValueError, KeyError, TypeError):
        md5 = None
    if md5 is None:
        raise PipelineError(f"{path}: {Path(weights_dir) / WEIGHTS_RECORD} does not record its md5; {fetch_again}")
    actual = md5_of(path)
    if actual != md5:
        raise PipelineError(f"{path}: not the file fetch verified (md5 {actual}, fetched {md5}); {fetch_again}")
    return path
