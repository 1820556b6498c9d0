"""The training stream: shuffled batches of random crops (50-100 % of the area, aspect 3:4-4:3),
horizontal flips and colour jitter, drawn per data folder with ``--mix`` weights, on tf.data."""

from __future__ import annotations

import math

import numpy as np


def augmented(
    tf,
    images: np.ndarray,
    labels: np.ndarray,
    groups: list[np.ndarray],
    mix: tuple[float, ...] | None,
    size: int,
    batch: int | None,
    seed: int,
    bases: np.ndarray | None = None,
):
    """An endless, shuffled stream of randomly cropped, flipped and colour-jittered batches.

    With ``mix``, each group (the images of one data folder) is drawn with its own weight, so a
    small folder of real photos is not drowned by thousands of generated scenes. With ``bases`` (a
    click network), each example's base mask is cropped and flipped with it and turned into the
    guide maps with simulated clicks: the stream yields ((image, guide), label). ``labels`` of 3
    channels are soft targets (``soft_targets``): cropped smoothly and yielded as probabilities.
    ``batch`` None: single examples (a distillation run mixes them with the teacher's views)."""
    rng = np.random.default_rng(seed + 104729)
    soft = labels.shape[-1] == 3  # soft targets (distillation): class probabilities x 255, not class numbers

    def guide_of(image, label, base):
        from bgapp.lab.clicktrain import training_guide

        return training_guide(label, base, rng, image.astype(np.uint8))  # augment clipped it to 0..255

    def augment_with_base(image, label, base):
        stacked = tf.concat([tf.cast(image, tf.float32), tf.cast(base, tf.float32) * 255.0], axis=-1)
        stacked, label = augment(stacked, label)
        image, base = stacked[..., :3], stacked[..., 3:] / 255.0
        guide = tf.numpy_function(guide_of, [image, label, base], tf.float32)
        guide.set_shape([size, size, 3])
        return (image, guide), label

    def augment(image, label):
        area = tf.random.uniform([], 0.5, 1.0)
        ratio = tf.exp(tf.random.uniform([], math.log(3 / 4), math.log(4 / 3)))
        height = tf.minimum(1.0, tf.sqrt(area / ratio))
        width = tf.minimum(1.0, tf.sqrt(area * ratio))
        top = tf.random.uniform([], 0.0, 1.0 - height + 1e-6)
        left = tf.random.uniform([], 0.0, 1.0 - width + 1e-6)
        box = tf.stack([top, left, top + height, left + width])[None]
        image = tf.image.crop_and_resize(tf.cast(image, tf.float32)[None], box, [0], [size, size])[0]
        label = tf.image.crop_and_resize(
            tf.cast(label, tf.float32)[None], box, [0], [size, size], method="bilinear" if soft else "nearest"
        )[0]
        if tf.random.uniform([]) < 0.5:
            image, label = tf.reverse(image, [1]), tf.reverse(label, [1])
        extra = image[..., 3:]  # a click network's base mask: cropped and flipped, not colour-jittered
        image = image[..., :3] / 255.0
        image = tf.image.random_brightness(image, 0.15)
        image = tf.image.random_contrast(image, 0.75, 1.25)
        image = tf.image.random_saturation(image, 0.7, 1.3)
        image = tf.image.random_hue(image, 0.04)
        image = tf.clip_by_value(image, 0.0, 1.0) * 255.0
        return tf.concat([image, extra], axis=-1), (label / 255.0 if soft else tf.cast(label, tf.uint8))

    def endless(index: np.ndarray | None):
        arrays = (images, labels) if bases is None else (images, labels, bases)
        chosen = arrays if index is None else tuple(a[index] for a in arrays)
        stream = tf.data.Dataset.from_tensor_slices(chosen).repeat()
        return stream.shuffle(len(chosen[0]), seed=seed)

    if mix is None:
        stream = endless(None)
    else:
        used = [(group, weight) for group, weight in zip(groups, mix) if len(group)]
        total = sum(weight for _, weight in used)
        stream = tf.data.Dataset.sample_from_datasets(
            [endless(group) for group, _ in used], weights=[weight / total for _, weight in used], seed=seed
        )
    stream = stream.map(augment if bases is None else augment_with_base, num_parallel_calls=tf.data.AUTOTUNE)
    return stream if batch is None else stream.batch(batch).prefetch(tf.data.AUTOTUNE)
