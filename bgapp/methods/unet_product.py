"""U-Net for product photos: the EfficientNet-Lite0 U-Net fine-tuned on generated product scenes."""

from ._unet import unet_method

METHOD = unet_method(
    "unet-product",
    "U-Net (EfficientNet-Lite0 encoder, 3.1 M parameters) trained on generated product scenes with exact "
    "masks plus pet photos: made for product photos, keeps shadows out.")
