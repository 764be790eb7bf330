"""Imported before TensorFlow by each benchmark that runs it in its own process: TensorFlow's native start-up lines
(oneDNN, CUDA drivers, and on a machine without a GPU a cuInit "error") stay off the terminal, as the stages keep
them off (imgclf.native_log)."""

import os

from imgclf.native_log import filter_native_noise

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
filter_native_noise()
