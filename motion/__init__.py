"""Optical flow between frames: image flow methods (registry), the animation's own motion field, warping."""
from motion.registry import available_flows, get_flow, register_flow
from motion.warp import blend, consistency_mask, inside_mask, warp

__all__ = ["available_flows", "blend", "consistency_mask", "get_flow", "inside_mask", "register_flow", "warp"]
