"""U-Net on an EfficientNet-Lite0 encoder that starts from ImageNet weights, fine-tuned on Oxford-IIIT Pet."""

from ._unet import unet_method

METHOD = unet_method(
    "unet-effnet-lite0",
    "U-Net with an ImageNet-pretrained EfficientNet-Lite0 encoder (3.1 M parameters), fine-tuned on "
    "pet photos: the most accurate pet model.")
