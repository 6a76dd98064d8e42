"""Video and image file I/O: streaming decode, exact random access, atomic writing with the audio kept."""
from video.image import IMAGE_EXTENSIONS, load_image, save_image, to_float, to_uint8
from video.reader import VIDEO_EXTENSIONS, VideoInfo, frame_times, has_audio, iter_frames, probe, read_frames
from video.writer import VideoWriter

__all__ = [
    "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "VideoInfo", "VideoWriter", "frame_times", "has_audio", "iter_frames",
    "load_image", "probe", "read_frames", "save_image", "to_float", "to_uint8",
]
