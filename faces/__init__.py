"""faces: offline face detection, 68-point landmarks and identity embeddings behind a backend registry."""
from faces.backends import available_backends, get_backend, register_backend
from faces.base import Face, FaceBackend

__all__ = ["Face", "FaceBackend", "available_backends", "get_backend", "register_backend"]
