"""app.py's command line: bad limits are one error line and exit 2, before anything starts."""
import pytest

import app


@pytest.mark.parametrize("argv, env, message", [
    (["--max_video_seconds", "0"], {}, "--max_video_seconds must be above 0, got 0"),
    (["--port", "70000"], {}, "--port must be 0..65535"),
    ([], {"STILLMOTION_APP_MAX_UPLOAD_MB": "abc"}, "STILLMOTION_APP_MAX_UPLOAD_MB='abc' is not a number"),
])
def test_bad_settings_are_one_line(argv, env, message, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert app.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("STILLMOTION_APP_MAX_PHOTO_MEGAPIXELS", "30")
    monkeypatch.setenv("STILLMOTION_APP_MAX_VIDEO_SECONDS", "600")
    args = app.parse_args([])
    assert (args.max_photo_megapixels, args.max_video_seconds, args.max_upload_mb) == (30, 600, 200)
    assert app.parse_args(["--max_video_seconds", "5"]).max_video_seconds == 5  # a flag beats the variable
