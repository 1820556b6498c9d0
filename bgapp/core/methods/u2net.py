"""``u2net``: rembg's full U^2-Net (176 MB, MIT), a network that is not ours, for sellers who want
its answer: slower than ``unet-product`` and fetched once (``python -m bgapp models fetch u2net``).
Available only when installed; its entry in ``core/external.py`` says where it comes from."""

from bgapp.core.methods._rembg import registry_method

METHOD = registry_method(
    "u2net",
    "rembg's U^2-Net (full): quality, slower, 176 MB, fetched once (python -m bgapp models fetch u2net); "
    "a network that is not ours, MIT",
    rank=20,
)  # DUTS-TE 1,000: IoU 0.782, max F 0.874 (results/bench.md), above unet-product's 0.737
