"""benchmarks/unseen_faces.py --keep: the animation and its per-frame signals are kept."""
import numpy as np

from benchmarks import unseen_faces


def test_keep_writes_the_video_and_one_csv_row_per_frame(tmp_path):
    video = tmp_path / "anim.mp4"
    video.write_bytes(b"not really a video")
    driving = np.array([[0.01, 1.0, 0.1, 0.4], [0.05, 2.0, 0.2, 0.45], [0.02, 3.0, 0.3, 0.5]])
    result = np.array([[0.02, 1.5, 0.0, 0.35], [np.nan] * 4])  # no face in frame 1; frame 2 missing
    unseen_faces.keep(tmp_path / "kept", "jesper-fullres", video, driving, result)
    assert (tmp_path / "kept" / "jesper-fullres.mp4").read_bytes() == b"not really a video"
    lines = (tmp_path / "kept" / "jesper-fullres.csv").read_text().splitlines()
    assert lines[0] == ("frame,driving_mouth,result_mouth,driving_roll,result_roll,driving_yaw,result_yaw,"
                        "driving_width,result_width")
    assert lines[1] == "0,0.01000,0.02000,1.00000,1.50000,0.10000,0.00000,0.40000,0.35000"
    assert lines[2] == "1,0.05000,,2.00000,,0.20000,,0.45000,"
    assert lines[3] == "2,0.02000,,3.00000,,0.30000,,0.50000,"
    assert len(lines) == 4
