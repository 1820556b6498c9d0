"""ONNX teachers for distillation: rembg's u2net / u2netp, or any ONNX file of their I/O.

``--teacher u2net`` (176 MB, MIT), ``u2netp`` (4.7 MB) or ``PATH.onnx``: input 1x3xHxW (RGB
prepared as rembg does, ``baselines.u2net_input``; 320 px when the file does not fix H and W),
first output 1xCxHxW whose channel 0 is a 0..1 saliency map. Neither rembg file is part of the
project: u2netp is read from ../shared (``BGAPP_U2NETP``), u2net from ~/.cache/bgapp/models
(``BGAPP_U2NET``; ``baselines.U2NET_FETCH`` fetches it), or ``--teacher-file`` for either.
The teacher's answer is the network's own sigmoid, not min-max normalised as rembg's cut-outs
are: on a view with no subject (a corner of the canvas) normalising would invent one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bgapp.core.errors import ModelUnavailableError

NAMED = ("u2net", "u2netp")


class TeacherMissingError(ModelUnavailableError):
    """The teacher's ONNX file is not where it was looked for."""


def is_onnx_teacher(spec: str) -> bool:
    """A named rembg teacher or an ONNX file, as opposed to a folder of our own trained model."""
    return spec in NAMED or str(spec).lower().endswith(".onnx")


def resolve_teacher(spec: str, teacher_file: Path | None = None) -> Path:
    """The ONNX file of ``spec`` (``u2net``, ``u2netp`` or a path), or a one-line error saying how to get it."""
    from bgapp.lab.baselines import U2NET_FETCH, u2net_path, u2netp_path

    if spec in NAMED:
        path = Path(teacher_file) if teacher_file else (u2net_path() if spec == "u2net" else u2netp_path())
        how = (
            f"fetch it: {U2NET_FETCH}"
            if spec == "u2net"
            else "it ships in ../shared/baselines/u2netp/ (or set BGAPP_U2NETP)"
        )
    else:
        path, how = Path(teacher_file or spec), "pass an ONNX file of u2net's input and output"
    if not path.is_file():
        raise TeacherMissingError(f"--teacher {spec}: {path} not found; {how}, or pass --teacher-file FILE.onnx")
    return path


@dataclass(frozen=True)
class OnnxTeacher:
    """A teacher ready to answer: ``answer(rgb)`` is its 0..1 saliency map at its input ``side``."""

    name: str
    path: Path
    side: int
    threads: int = 0

    def answer(self, rgb: np.ndarray) -> np.ndarray:
        from bgapp.lab.baselines import u2net_raw

        return np.clip(u2net_raw(self.path, rgb, self.threads), 0.0, 1.0)


def load_teacher(spec: str, teacher_file: Path | None = None, threads: int = 0) -> OnnxTeacher:
    """Resolve, open and check the teacher (input 1x3xHxW, first output four-dimensional)."""
    from bgapp.lab.baselines import U2NET_SIDE, _session

    path = resolve_teacher(spec, teacher_file)
    try:
        session = _session(str(path), threads)
    except Exception as error:
        raise ModelUnavailableError(
            f"--teacher {spec}: {path} does not load ({str(error).splitlines()[0][:120]})"
        ) from error
    given, out = session.get_inputs()[0].shape, session.get_outputs()[0].shape
    if len(given) != 4 or given[1] not in (3, "3") or len(out) != 4:
        raise ModelUnavailableError(
            f"--teacher {spec}: {path} takes {given} and answers {out}; a teacher takes 1x3xHxW and answers 1xCxHxW"
        )
    side = given[2] if isinstance(given[2], int) and given[2] > 0 else U2NET_SIDE
    name = spec if spec in NAMED else path.stem
    return OnnxTeacher(name, path, side, threads)
