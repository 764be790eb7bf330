#!/usr/bin/env bash
# The CIFAR-10 full recipe on one NVIDIA GPU with mixed precision and XLA, in at most 10 minutes: the training
# seconds to 94% validation accuracy, training images/s and test accuracy, written to benchmarks/results/gpu/
# (recipes.json and .md, the card named by nvidia-smi), never over the CPU results.
#
#   benchmarks/gpu_recipe.sh /path/to/cifar10-jpg      # train/<class>/*.jpg and test/<class>/*.jpg
#
# It needs the project's .venv with TensorFlow's CUDA libraries (.venv/bin/pip install 'tensorflow[and-cuda]==2.21.0');
# CI never runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] && [ -d "$1/train" ] || { echo "usage: $0 CIFAR10_JPG_DIR (holding train/ and test/)" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || { echo "error: no NVIDIA GPU (nvidia-smi)" >&2; exit 1; }
.venv/bin/python -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else
  'error: TensorFlow sees no GPU; install its CUDA libraries: .venv/bin/pip install tensorflow[and-cuda]==2.21.0')"
exec timeout 600 .venv/bin/python benchmarks/recipes.py --skip-lab --cifar-folder "$1" recipe_cifar10_full \
  --target 0.94 -S train.mixed_precision=on -S train.xla=on --out benchmarks/results/gpu
