"""requirements-face.txt: face-alignment installed with --no-deps must leave the headless OpenCV in place."""
import importlib.metadata as metadata
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def names(path: Path) -> set[str]:
    found = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            found.add(re.split(r"[<>=!~;\[ ]", line)[0].lower().replace("_", "-"))
    return found


def test_cv2_is_the_headless_4x_build():
    import cv2

    assert cv2.__version__.startswith("4.")
    assert metadata.version("opencv-python-headless").startswith("4.")
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("opencv-python")  # face-alignment's declared dependency must not be installed
    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    assert gui and gui[0].split(":")[1].strip() == "NONE"


def test_requirements_face_lists_what_face_alignment_needs_beyond_requirements_txt():
    text = (ROOT / "requirements-face.txt").read_text()
    assert "pip install --no-deps -r requirements-face.txt" in text.split("\n\n")[0]
    face = names(ROOT / "requirements-face.txt")
    base = names(ROOT / "requirements.txt")
    assert "face-alignment" in face and "opencv-python" not in face
    try:
        declared = metadata.requires("face-alignment") or []
    except metadata.PackageNotFoundError:
        pytest.skip("face-alignment not installed (optional)")
    needed = {re.split(r"[<>=!~;\[ (]", r)[0].lower() for r in declared if "extra ==" not in r}
    assert needed - base - {"opencv-python"} <= face
    for package in face:  # with --no-deps, the needs of what we add must be covered too
        for requirement in metadata.requires(package) or []:
            if "extra ==" in requirement:
                continue
            need = re.split(r"[<>=!~;\[ (]", requirement)[0].lower()
            if need != "opencv-python":  # replaced by requirements.txt's opencv-python-headless
                assert need in base | face, f"{package} needs {need}, listed in neither requirements file"
