#!/usr/bin/env bash
# The wheel as a user gets it: build it, install it into a fresh virtual environment outside the
# checkout, and cut a shipped sample photo with the installed `bgapp` from another folder, with the
# shipped network (unet-product) found as package data (bgapp.weights), not in the checkout's weights/.
# Prints the wheel's size. Used by .ci/run; run it alone as `bash scripts/check_wheel.sh`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# pip wheel --no-deps: the wheel alone, built in an isolated environment from pyproject's build-system
python -m pip wheel --no-deps --quiet --wheel-dir "$WORK/dist" "$ROOT"
WHEEL="$(ls "$WORK"/dist/bgapp-*.whl)"
BYTES="$(stat -c %s "$WHEEL")"
echo "wheel: $(basename "$WHEEL"), $BYTES bytes ($(python -c "print(f'{$BYTES / 1e6:.1f}')") MB)"

python -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet "$WHEEL"  # the core's dependencies only, no extra

cd "$WORK"  # anywhere but the checkout: nothing may come from it
unset PYTHONPATH BGAPP_WEIGHTS
SAMPLE="$("$WORK/venv/bin/python" -c \
  'import importlib.resources as r; print(r.files("bgapp") / "samples" / "sample-101.jpg")')"
"$WORK/venv/bin/bgapp" --version
"$WORK/venv/bin/bgapp" cut "$SAMPLE" --method unet-product --out "$WORK/out"
"$WORK/venv/bin/python" - "$WORK" "$ROOT" <<'EOF'
"""The installed bgapp (not the checkout's) wrote an RGBA PNG of the sample, at the sample's size."""
import sys
from pathlib import Path

from PIL import Image

import bgapp
from bgapp.core.models import weights_dir

work, root = Path(sys.argv[1]), Path(sys.argv[2])
package = Path(bgapp.__file__).resolve().parent
assert package.is_relative_to(work / "venv"), f"bgapp imported from {package}, not the fresh environment"
assert not weights_dir().resolve().is_relative_to(root), f"networks read from the checkout: {weights_dir()}"
with Image.open(work / "out" / "sample-101.png") as cut, Image.open(package / "samples" / "sample-101.jpg") as photo:
    assert cut.mode == "RGBA", cut.mode
    assert cut.size == photo.size, (cut.size, photo.size)
    alpha = cut.getchannel("A")
    low, high = alpha.getextrema()
    assert low == 0 and high == 255, (low, high)  # both background and product: a cut-out, not a copy
print(f"installed bgapp {bgapp.__version__} from {package}: {cut.size[0]}x{cut.size[1]} RGBA cut-out, "
      f"networks from {weights_dir()}")
EOF
