"""Our networks reproduce every tensor the original FOMM implementation produced (shared/golden), to 1e-5."""
import pytest
import torch

from modules.antialias import AntiAliasInterpolation2d, ImagePyramide, gaussian_kernel
from modules.geometry import kp2gaussian, make_coordinate_grid
from modules.normalize import hull_area, movement_scale, normalize_kp
from tests.modules.golden import assert_close, build, float32_noise, fresh, golden


@pytest.fixture(scope="module")
def g():
    return golden()


def inputs(g):
    return g["inputs"]["source"], g["inputs"]["driving"], g["inputs"]["driving_initial"]


def test_fresh_init_matches_reference_checks(g):
    kp, gen, _ = build(g["config"]["model_params"])
    checks = g["init_checks"]
    assert kp.jacobian.weight.abs().max().item() == checks["kp_detector.jacobian.weight_abs_max"] == 0.0
    assert torch.equal(kp.jacobian.bias, checks["kp_detector.jacobian.bias"])
    assert_close(kp.down.weight, checks["kp_detector.down.weight"], "kp.down.weight")
    assert_close(gen.dense_motion_network.down.weight, checks["generator.dense_motion_network.down.weight"],
                 "dense_motion.down.weight")
    assert checks["bn_running_var_all_ones"]
    assert all(torch.all(m.running_var == 1) for m in gen.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_state_dict_keys_and_shapes_match_reference(g):
    nets = dict(zip(("kp_detector", "generator", "discriminator"), build(g["config"]["model_params"])))
    for name, net in nets.items():
        ours = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        ref = {k: tuple(v.shape) for k, v in g["state_dicts"][name].items()}
        assert ours == ref, f"{name}: keys/shapes differ: {set(ours) ^ set(ref)}"


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_keypoints_and_jacobians(g, mode):
    source, driving, driving_initial = inputs(g)
    for name, image in (("kp_source", source), ("kp_driving", driving), ("kp_driving_initial", driving_initial)):
        kp, _, _ = fresh(mode)
        with torch.no_grad():
            assert_close(kp(image), g[mode][name], f"{mode}.{name}")


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_generator_outputs_and_deformation(g, mode):
    source, _, _ = inputs(g)
    _, gen, _ = fresh(mode)
    ref = g[mode]
    with torch.no_grad():
        out = gen(source, kp_driving=ref["kp_driving"], kp_source=ref["kp_source"])
    assert_close(out, ref["generator"], f"{mode}.generator")


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_discriminator_maps(g, mode):
    _, driving, _ = inputs(g)
    ref = g[mode]
    for name, image in (("discriminator_real", driving), ("discriminator_fake", ref["generator"]["prediction"])):
        _, _, disc = fresh(mode)
        noise = float32_noise(disc, {"prediction_1": image}) if mode == "eval" else None
        _, _, disc = fresh(mode)
        with torch.no_grad():
            out = disc({"prediction_1": image})
        assert_close(out, ref[name], f"{mode}.{name}", noise=noise)


def test_batchnorm_running_stats_after_one_train_forward(g):
    source, _, _ = inputs(g)
    kp, _, _ = fresh("train")
    with torch.no_grad():
        kp(source)
    state = kp.state_dict()
    ref = g["train_bn_after_one_kp_forward"]
    assert len(ref) > 0
    for key, value in ref.items():
        if key.endswith("num_batches_tracked"):
            # The reference's vendored SynchronizedBatchNorm2d never counts batches (stays 0); torch's
            # BatchNorm2d counts them. The counter only matters when momentum is None, which FOMM never uses.
            assert value.item() == 0 and state[key].item() == 1, key
            continue
        assert_close(state[key], value, f"bn.{key}")


@pytest.mark.parametrize("combo", ["absolute", "relative_nojac", "relative_jac", "relative_jac_adapt"])
def test_normalize_kp_combinations(g, combo):
    ref = g["normalize_kp"][combo]
    ev = g["eval"]
    out = normalize_kp(kp_source=ev["kp_source"], kp_driving=ev["kp_driving"],
                       kp_driving_initial=ev["kp_driving_initial"], **ref["flags"])
    assert_close(out, ref["kp"], f"normalize_kp.{combo}")


def test_adapt_scale_and_hull_areas(g):
    ev, ref = g["eval"], g["normalize_kp"]
    assert abs(hull_area(ev["kp_source"]["value"][0]) - ref["source_hull_area_b0"]) < 1e-9
    assert abs(hull_area(ev["kp_driving_initial"]["value"][0]) - ref["driving_initial_hull_area_b0"]) < 1e-9
    assert abs(movement_scale(ev["kp_source"], ev["kp_driving_initial"]) - ref["adapt_scale_value"]) < 1e-7


def test_animation_step(g):
    source, _, _ = inputs(g)
    _, gen, _ = fresh("eval")
    ev = g["eval"]
    with torch.no_grad():
        out = gen(source, kp_source=ev["kp_source"], kp_driving=g["normalize_kp"]["relative_jac_adapt"]["kp"])
    assert_close(out, g["animate_step_eval"], "animate_step_eval")


def test_intermediates(g):
    inter = g["intermediates"]
    source, driving, _ = inputs(g)
    assert_close(make_coordinate_grid((5, 7)), inter["make_coordinate_grid_5x7"], "grid")
    assert_close(kp2gaussian(g["eval"]["kp_driving"], (16, 16), 0.01), inter["kp2gaussian_driving_16x16_var0.01"],
                 "kp2gaussian")
    with torch.no_grad():
        assert_close(ImagePyramide([1, 0.5, 0.25, 0.125], 3)(driving), inter["pyramid_driving"], "pyramid")
    for scale in ("0.5", "0.25", "0.125"):
        assert_close(gaussian_kernel(float(scale)), inter[f"antialias_kernel_{scale}"], f"kernel {scale}")
    _, gen, _ = fresh("eval")
    dm = gen.dense_motion_network
    ev = g["eval"]
    with torch.no_grad():
        down = dm.down(source)
        assert_close(down, inter["dense_motion.source_down"], "source_down")
        assert_close(dm.create_heatmap_representations(down, ev["kp_driving"], ev["kp_source"]),
                     inter["dense_motion.heatmap_representation"], "heatmap_representation")
        sparse = dm.create_sparse_motions(down, ev["kp_driving"], ev["kp_source"])
        assert_close(sparse, inter["dense_motion.sparse_motions"], "sparse_motions")
        assert_close(dm.create_deformed_source_image(down, sparse), inter["dense_motion.deformed_source"],
                     "deformed_source")


def test_antialias_is_identity_at_scale_one():
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(AntiAliasInterpolation2d(3, 1)(x), x)


@pytest.mark.parametrize("variant", ["zero_order", "single_jacobian"])
def test_architecture_variants(g, variant):
    ref = g["variants"][variant]
    source, driving, driving_initial = inputs(g)
    ev = ref["eval"]
    for name, image in (("kp_source", source), ("kp_driving", driving), ("kp_driving_initial", driving_initial)):
        kp, _, _ = fresh("eval", variant)
        with torch.no_grad():
            out = kp(image)
        assert_close(out, ev[name], f"{variant}.{name}")
        assert ("jacobian" in out) == ("jacobian" in ev[name])
    _, gen, _ = fresh("eval", variant)
    with torch.no_grad():
        out = gen(source, kp_driving=ev["kp_driving"], kp_source=ev["kp_source"])
    assert_close(out, ev["generator"], f"{variant}.generator")
    assert ("occlusion_map" in out) == ("occlusion_map" in ev["generator"])
    scales = ref["model_params"]["discriminator_params"]["scales"]
    pyramid = ImagePyramide(scales, 3)
    for name, image in (("discriminator_real", driving), ("discriminator_fake", ev["generator"]["prediction"])):
        _, _, disc = fresh("eval", variant)
        noise = float32_noise(disc, pyramid(image), kp=ev["kp_driving"])
        with torch.no_grad():
            out = disc(pyramid(image), kp=ev["kp_driving"])
        assert_close(out, ev[name], f"{variant}.{name}", noise=noise)
