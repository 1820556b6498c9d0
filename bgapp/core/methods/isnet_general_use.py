"""``isnet-general-use``: DIS's IS-Net weights for general use (Qin et al. 2022, Apache-2.0, ~179 MB),
a network that is not ours, once fetched (``python -m bgapp models fetch isnet-general-use``).
Ranked for ``auto`` above u2net (20) on its authors' word, not on a run here: docs/models.md."""

from bgapp.core.methods._onnx_saliency import ISNET, saliency_method

METHOD = saliency_method(
    "isnet-general-use",
    "DIS's IS-Net (general use, 2022): 1024 px, finer edges than U^2-Net by its authors, "
    "~179 MB, fetched once (python -m bgapp models fetch isnet-general-use); not ours, "
    "Apache-2.0; not run on our test machines",
    ISNET,
    rank=30,
)
