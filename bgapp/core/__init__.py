"""The core: everything a cut-out needs and nothing else. Loading (``images``), settings
(``params``), methods (``methods``, with the networks of ``models`` run by ``runtime`` on ONNX
Runtime), clean-up, refinement, export and the one ``pipeline`` through them. It never imports
``bgapp.lab``, TensorFlow or Ray."""
