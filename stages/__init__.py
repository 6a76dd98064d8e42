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
        output: auto        # mask with other stages (their effect on the near parts), colormap alone
        focus: near         # or far: the background gets the other stages' effect
        smoothing: {strength: 0.8}   # ... and this stage's own smoothing overrides
      dream: {...}          # stages/dream.py (warm_start, warm_iterations, use_depth, ...)
      style: {...}          # stages/style.py

Composition: stages run in the order given, each on the picture the previous one returned; a depth stage
with output mask weights the work of the stages before it (blended back to the unprocessed frame by the
mask) and the effect of the stages after it (FrameContext.mask). apply_stages reports one line per stage
saying what it does to the picture it receives, and after the first frames the expected time of the rest.
"""
from stages.base import FrameContext, Stage
from stages.pipeline import apply_stages
from stages.registry import available_stages, get_stage, parse_stage_list, register_stage

__all__ = ["FrameContext", "Stage", "apply_stages", "available_stages", "get_stage", "parse_stage_list",
           "register_stage"]
