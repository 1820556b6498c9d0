"""``birefnet-general``: BiRefNet with a Swin-L backbone (Zheng et al. 2024, MIT, ~973 MB), a network
that is not ours, once fetched (``python -m bgapp models fetch birefnet-general``). Ranked for
``auto`` by its authors' DIS-VD S-measure (0.911, the highest here), not on a run here: docs/models.md."""

from bgapp.core.methods._onnx_saliency import BIREFNET, saliency_method

METHOD = saliency_method(
    "birefnet-general",
    "BiRefNet (Swin-L, 2024): the open state of the art, 1024 px, ~973 MB, fetched once "
    "(python -m bgapp models fetch birefnet-general); not ours, MIT; "
    "not run on our test machines",
    BIREFNET,
    rank=50,
)
