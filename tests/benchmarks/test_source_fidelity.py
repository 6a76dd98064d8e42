"""benchmarks/source_fidelity.py: the bundled model redraws a face it was trained on better than an unseen one."""
import re

from benchmarks import source_fidelity
from tests.conftest import ROOT


def _rows(text):
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| (\S+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", line)
        if m:
            rows[m.group(1)] = tuple(float(v) for v in m.groups()[1:])
    return rows


def test_seen_face_is_redrawn_closer_than_an_unseen_one(media_dir, capsys):
    # franck is in the training data (video tracks), Audrey is not (the README's example face)
    assert source_fidelity._main(["--crop", str(media_dir / "franck_01829.jpg"), str(media_dir / "audrey.jpg"),
                                  "--checkpoint", str(ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar")]) is None
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"franck_01829.jpg", "audrey.jpg"}
    (l1_seen, psnr_seen, *_), (l1_unseen, psnr_unseen, *_) = rows["franck_01829.jpg"], rows["audrey.jpg"]
    assert 0 < l1_seen < l1_unseen and psnr_seen > psnr_unseen + 3
    for _, _, occ_min, occ_mean in rows.values():
        assert 0 <= occ_min <= occ_mean <= 1

