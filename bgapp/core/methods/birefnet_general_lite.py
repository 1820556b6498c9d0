"""``birefnet-general-lite``: BiRefNet with a Swin-T backbone (Zheng et al. 2024, MIT, ~224 MB), a
network that is not ours, once fetched (``python -m bgapp models fetch birefnet-general-lite``).
Ranked for ``auto`` by its authors' DIS-VD S-measure (0.882), not on a run here: docs/models.md."""

from bgapp.core.methods._onnx_saliency import BIREFNET, saliency_method

METHOD = saliency_method(
    "birefnet-general-lite",
    "BiRefNet lite (Swin-T, 2024): the open state of the art, lighter, 1024 px, ~224 MB, "
    "fetched once (python -m bgapp models fetch birefnet-general-lite); not ours, MIT; "
    "not run on our test machines",
    BIREFNET,
    rank=40,
)
