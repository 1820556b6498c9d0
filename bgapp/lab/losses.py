"""The training's loss and metric: cross-entropy plus a per-photo soft IoU of the cut-out, and the
cut-out (object + border) IoU that selects the best epoch. Built on first use, so importing the lab
does not import TensorFlow."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def foreground_iou_metric():
    """The ``ForegroundIoU`` Keras metric class, built on first use so this module imports without TensorFlow."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable("bgapp")
    class ForegroundIoU(keras.metrics.Metric):
        """IoU of object+border against background, pooled over the epoch (the cut-out's quality)."""

        def __init__(self, name: str = "fg_iou", **kwargs):
            super().__init__(name=name, **kwargs)
            self.intersection = self.add_variable((), initializer="zeros", name="intersection")
            self.union = self.add_variable((), initializer="zeros", name="union")

        def update_state(self, y_true, y_pred, sample_weight=None):
            classes = (
                ops.argmax(y_true, axis=-1) if y_true.shape[-1] == 3 else ops.squeeze(ops.cast(y_true, "int32"), -1)
            )
            truth = ops.cast(ops.not_equal(classes, 1), "float32")
            guess = ops.cast(ops.not_equal(ops.argmax(y_pred, axis=-1), 1), "float32")
            self.intersection.assign_add(ops.sum(truth * guess))
            self.union.assign_add(ops.sum(ops.maximum(truth, guess)))

        def result(self):
            return self.intersection / ops.maximum(self.union, 1.0)

        def reset_state(self):
            self.intersection.assign(0.0)
            self.union.assign(0.0)

    return ForegroundIoU


@lru_cache(maxsize=1)
def cross_entropy_iou_loss():
    """The ``CrossEntropyIoU`` Keras loss class: 3-class cross-entropy plus, per photo, 1 - soft IoU
    of object+border (1 - p(background)) against the true object+border. Targets are class numbers
    (N, H, W, 1) or class probabilities (N, H, W, 3; distillation's soft targets)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable("bgapp")
    class CrossEntropyIoU(keras.losses.Loss):
        def __init__(self, iou_weight: float = 1.0, name: str = "ce_iou", **kwargs):
            super().__init__(name=name, **kwargs)
            self.iou_weight = iou_weight

        def call(self, y_true, y_pred):
            if y_true.shape[-1] == 3:  # soft targets (distillation): class probabilities
                cross = ops.mean(keras.losses.categorical_crossentropy(y_true, y_pred), axis=(1, 2))
                truth = 1.0 - y_true[..., 1]
            else:
                labels = ops.cast(ops.squeeze(ops.cast(y_true, "int32"), -1), "int32")
                cross = ops.mean(keras.losses.sparse_categorical_crossentropy(labels, y_pred), axis=(1, 2))
                truth = ops.cast(ops.not_equal(labels, 1), "float32")
            guess = 1.0 - y_pred[..., 1]
            inter = ops.sum(truth * guess, axis=(1, 2))
            union = ops.sum(truth + guess - truth * guess, axis=(1, 2))
            return cross + self.iou_weight * (1.0 - (inter + 1.0) / (union + 1.0))

        def get_config(self):
            return {**super().get_config(), "iou_weight": self.iou_weight}

    return CrossEntropyIoU
