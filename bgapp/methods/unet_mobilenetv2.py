"""U-Net on a MobileNetV2 encoder (inverted residual blocks), trained here on Oxford-IIIT Pet."""

from ._unet import unet_method

METHOD = unet_method(
    "unet-mobilenetv2",
    "U-Net with a MobileNetV2 encoder (2.5 M parameters), trained on pet photos: finds the main object.")
