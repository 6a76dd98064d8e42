"""Post-processing stages (depth, dream, style) over video frames, with shared flow-warp temporal smoothing.

    from stages import apply_stages
    for frame in apply_stages(frames, "depth,style", config["stages_params"], device="cpu"):
        writer.write(frame)

The stages_params section of a run config (also stylize.py --stages-config; --set overrides its keys):

    stages_params:
      smoothing:            # shared temporal smoothing, for every stage (stages/smoothing.py)
        strength: 0.8       # share of the warped previous output kept where the warp is reliable; 0 = off
        flow: auto          # farneback | dis | motion (the animation's own motion) | auto
        flow_on: input      # image flows on each stage's input frames, or "raw" (the pipeline's input)
      depth:                # options of the depth stage (stages/depth.py) ...
        output: passthrough
        smoothing: {strength: 0.8}   # ... and this stage's own smoothing overrides
      dream: {...}          # stages/dream.py
      style: {...}          # stages/style.py
"""
from stages.base import FrameContext, Stage
from stages.pipeline import apply_stages
from stages.registry import available_stages, get_stage, parse_stage_list, register_stage

__all__ = ["FrameContext", "Stage", "apply_stages", "available_stages", "get_stage", "parse_stage_list",
           "register_stage"]
