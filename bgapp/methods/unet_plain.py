"""The classic U-Net: plain 3x3 convolution encoder, no pretrained parts, trained here on Oxford-IIIT Pet."""

from ._unet import unet_method

METHOD = unet_method(
    "unet-plain",
    "Plain U-Net (1.6 M parameters, convolutions only), trained on pet photos: finds the main object.")
