"""U-Net on a MobileNetV3-Large encoder (squeeze-excitation, hard-swish), trained here on Oxford-IIIT Pet."""

from ._unet import unet_method

METHOD = unet_method(
    "unet-mobilenetv3",
    "U-Net with a MobileNetV3-Large encoder (3.2 M parameters), trained on pet photos: finds the main object.")
