"""TensorFlow ops that tf2onnx 1.17 cannot convert, written as ONNX ops it has.

- `Erfc`: Keras' exact GELU (`activation="gelu"`, the airbench models) computes 0.5 x erfc(-x / sqrt 2) in
  TensorFlow. ONNX has `Erf` but no `Erfc`, so it becomes 1 - Erf(x): the same function, with an absolute error at
  float32's rounding, which is all a GELU's output needs.
"""

import numpy as np


def register_onnx_ops() -> None:
    """Adds the handlers to tf2onnx's registry (importing tf2onnx takes a second, so only when exporting)."""
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:
        @classmethod
        def version_9(cls, ctx, node, **kwargs) -> None:  # ONNX has Erf from opset 9
            output, shapes, dtypes = node.output[0], node.output_shapes, node.output_dtypes
            one = np.array(1.0, utils.map_onnx_to_numpy_type(dtypes[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), one)
            erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name, shapes=shapes, dtypes=dtypes)
            ctx.remove_node(node.name)
            ctx.make_node("Sub", [one.output[0], erf.output[0]], outputs=[output], name=node.name, shapes=shapes,
                          dtypes=dtypes)  # fmt: skip
