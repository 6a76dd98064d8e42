"""Run 3 training steps (alone or under torchrun) and save every parameter of this rank, for the DDP test."""
import sys
from pathlib import Path

import torch

from engine import distributed as D
from engine.perceptual import build_vgg
from engine.train import Trainer, _make_loader
from tests.engine.conftest import small_config


def main(root, out):
    torch.set_num_threads(1)
    info = D.setup("cpu")
    cfg = small_config(root, **{"train_params.batch_size": 4, "train_params.num_repeats": 4,
                                "model_params.common_params.num_kp": 10})
    vgg, _ = build_vgg(cfg["train_params"], seed=0)
    trainer = Trainer(cfg, info, vgg=vgg)
    initial = {f"{n}.{k}": v.detach().clone() for n, net in trainer.nets.items() for k, v in net.state_dict().items()}
    first_grads = {}
    for name, opt in trainer.optimizers.items():
        real_step = opt.step

        def recording_step(*a, _name=name, _opt=opt, _real=real_step, **k):
            if _name not in first_grads:  # the all-reduced gradients of the first step
                net = getattr(trainer.nets, _name)
                first_grads[_name] = {n: p.grad.detach().clone() for n, p in net.named_parameters()
                                      if p.grad is not None}
            return _real(*a, **k)

        opt.step = recording_step
    loader, sampler = _make_loader(cfg, info, seed=0)
    sampler.set_epoch(0)
    steps = 0
    for batch in loader:
        trainer.step(batch)
        steps += 1
        if steps == 3:
            break
    params = {f"{n}.{k}": v.detach().clone() for n, net in trainer.nets.items() for k, v in net.state_dict().items()}
    Path(out).mkdir(parents=True, exist_ok=True)
    result = {"params": params, "initial": initial, "steps": steps, "grads": first_grads}
    torch.save(result, Path(out) / f"rank{info.rank}.pt")
    D.cleanup()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
