"""Train-time full models: generator losses (perceptual, pixel, mouth, GAN, feature matching, equivariance) and the
discriminator loss."""
import torch
import torch.nn.functional as F
from torch import nn

from modules.antialias import ImagePyramide
from modules.geometry import inverse2x2
from modules.ssim import ssim
from modules.transform import Transform


def detach_kp(kp):
    return {key: value.detach() for key, value in kp.items()}


def _unwrap(module):
    """The network inside a DistributedDataParallel (or any .module) wrapper."""
    return getattr(module, "module", module)


class GeneratorFullModel(nn.Module):
    """Runs keypoint detector + generator on {'source', 'driving'} and returns (losses, generated).

    Losses are computed exactly as the config's loss_weights say; a term whose weight is 0 does no work
    (no discriminator forward when generator_gan is 0). `vgg` (a modules.vgg.Vgg19) is required when any
    perceptual weight is non-zero: choosing its weights (ImageNet, random, custom) is the caller's job.
    """

    def __init__(self, kp_extractor, generator, discriminator, train_params, vgg=None, shard=(0, 1)):
        super().__init__()
        # (rank, world_size): under data parallelism every rank draws the equivariance transform of the
        # whole global batch from identically seeded generators and keeps its own rows, so N processes
        # draw exactly what one process would on the same global batch. (0, 1) is the reference's draw.
        self.shard = shard
        self.kp_extractor = kp_extractor
        self.generator = generator
        self.discriminator = discriminator
        self.train_params = train_params
        self.scales = train_params["scales"]
        self.disc_scales = _unwrap(discriminator).scales if discriminator is not None else []
        self.pyramid = ImagePyramide(self.scales, _unwrap(generator).num_channels)
        self.loss_weights = train_params["loss_weights"]
        self.align_corners = getattr(_unwrap(generator), "align_corners", False)
        if sum(self.loss_weights["perceptual"]) != 0 and vgg is None:
            raise ValueError("GeneratorFullModel needs a Vgg19 when perceptual loss weights are non-zero")
        self.vgg = vgg
        if self.loss_weights.get("generator_gan", 0) != 0 and discriminator is None:
            raise ValueError("GeneratorFullModel needs a discriminator when generator_gan is non-zero")

    def forward(self, x):
        weights = self.loss_weights
        kp_source = self.kp_extractor(x["source"])
        kp_driving = self.kp_extractor(x["driving"])
        generated = self.generator(x["source"], kp_source=kp_source, kp_driving=kp_driving)
        generated.update({"kp_source": kp_source, "kp_driving": kp_driving})
        losses = {}
        pyramide_real = self.pyramid(x["driving"])
        pyramide_generated = self.pyramid(generated["prediction"])

        if sum(weights["perceptual"]) != 0:
            total = 0
            for scale in self.scales:
                x_vgg = self.vgg(pyramide_generated["prediction_" + str(scale)])
                y_vgg = self.vgg(pyramide_real["prediction_" + str(scale)])
                for i, weight in enumerate(weights["perceptual"]):
                    total = total + weight * torch.abs(x_vgg[i] - y_vgg[i].detach()).mean()
            losses["perceptual"] = total

        if weights.get("pixel_l1", 0) != 0:
            total = 0
            for scale in self.scales:
                key = "prediction_" + str(scale)
                total = total + torch.abs(pyramide_generated[key] - pyramide_real[key].detach()).mean()
            losses["pixel_l1"] = weights["pixel_l1"] * total

        if weights.get("ssim", 0) != 0:
            total = 0
            for scale in self.scales:
                key = "prediction_" + str(scale)
                total = total + (1 - ssim(pyramide_generated[key], pyramide_real[key].detach())).mean()
            losses["ssim"] = weights["ssim"] * total

        if weights.get("mouth", 0) != 0:
            # L1 per pixel of the mouth region: small in the frame, so the image-wide terms hardly see it
            mask = x["driving_mouth"]
            total = 0
            for scale in self.scales:
                key = "prediction_" + str(scale)
                diff = torch.abs(pyramide_generated[key] - pyramide_real[key].detach())
                region = mask if scale == 1 else F.interpolate(mask, size=diff.shape[-2:], mode="area")
                total = total + (diff * region).sum() / (region.sum() * diff.shape[1] + 1e-6)
            losses["mouth"] = weights["mouth"] * total

        if weights["generator_gan"] != 0:
            maps_generated = self.discriminator(pyramide_generated, kp=detach_kp(kp_driving))
            maps_real = self.discriminator(pyramide_real, kp=detach_kp(kp_driving))
            total = 0
            for scale in self.disc_scales:
                total = total + weights["generator_gan"] * ((1 - maps_generated[f"prediction_map_{scale}"]) ** 2).mean()
            losses["gen_gan"] = total
            if sum(weights["feature_matching"]) != 0:
                total = 0
                for scale in self.disc_scales:
                    key = f"feature_maps_{scale}"
                    for i, (a, b) in enumerate(zip(maps_real[key], maps_generated[key])):
                        if weights["feature_matching"][i] != 0:
                            total = total + weights["feature_matching"][i] * torch.abs(a - b).mean()
                losses["feature_matching"] = total

        if weights["equivariance_value"] + weights["equivariance_jacobian"] != 0:
            rank, world = self.shard
            bs = x["driving"].shape[0]
            transform = Transform(bs * world, **self.train_params["transform_params"],
                                  align_corners=self.align_corners, device=x["driving"].device)
            if world > 1:
                transform = transform.rows(rank * bs, (rank + 1) * bs)
            transformed_frame = transform.transform_frame(x["driving"])
            transformed_kp = self.kp_extractor(transformed_frame)
            generated["transformed_frame"] = transformed_frame
            generated["transformed_kp"] = transformed_kp
            if weights["equivariance_value"] != 0:
                value = torch.abs(kp_driving["value"] - transform.warp_coordinates(transformed_kp["value"])).mean()
                losses["equivariance_value"] = weights["equivariance_value"] * value
            if weights["equivariance_jacobian"] != 0:
                jacobian_transformed = torch.matmul(transform.jacobian(transformed_kp["value"]),
                                                    transformed_kp["jacobian"])
                value = torch.matmul(inverse2x2(kp_driving["jacobian"]), jacobian_transformed)
                eye = torch.eye(2, dtype=value.dtype, device=value.device).view(1, 1, 2, 2)
                losses["equivariance_jacobian"] = weights["equivariance_jacobian"] * torch.abs(eye - value).mean()
        return losses, generated


class DiscriminatorFullModel(nn.Module):
    """LSGAN discriminator loss on the driving frame (real) and the detached prediction (fake)."""

    def __init__(self, kp_extractor, generator, discriminator, train_params):
        super().__init__()
        # Only the discriminator is a submodule: the detector and generator get no gradient here, and
        # leaving them out keeps a DistributedDataParallel wrapper of this model to the discriminator.
        self.discriminator = discriminator
        self.train_params = train_params
        self.scales = _unwrap(discriminator).scales
        self.pyramid = ImagePyramide(self.scales, _unwrap(generator).num_channels)
        self.loss_weights = train_params["loss_weights"]

    def forward(self, x, generated):
        pyramide_real = self.pyramid(x["driving"])
        pyramide_generated = self.pyramid(generated["prediction"].detach())
        kp_driving = detach_kp(generated["kp_driving"])
        maps_generated = self.discriminator(pyramide_generated, kp=kp_driving)
        maps_real = self.discriminator(pyramide_real, kp=kp_driving)
        total = 0
        for scale in self.scales:
            key = f"prediction_map_{scale}"
            value = (1 - maps_real[key]) ** 2 + maps_generated[key] ** 2
            total = total + self.loss_weights["discriminator_gan"] * value.mean()
        return {"disc_gan": total}
