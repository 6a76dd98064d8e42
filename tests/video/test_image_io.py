"""load_image / save_image / to_uint8 / to_float on real photos and on variants made from them."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from errors import UserError
from video import IMAGE_EXTENSIONS, load_image, save_image, to_float, to_uint8
from video.image import apply_orientation


@pytest.fixture(scope="module")
def photo(media_dir):
    """audrey.jpg as Pillow decodes it: 540x720 RGB uint8."""
    with Image.open(media_dir / "audrey.jpg") as im:
        return np.asarray(im.convert("RGB"))


def test_jpg_face_photo(media_dir, photo):
    image = load_image(media_dir / "audrey.jpg")
    assert image.shape == (720, 540, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    np.testing.assert_allclose(image, photo / 255.0, atol=1e-6)


def test_grayscale_becomes_three_equal_channels(tmp_path, photo):
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    Image.fromarray(gray).save(tmp_path / "gray.png")
    image = load_image(tmp_path / "gray.png")
    assert image.shape == (720, 540, 3)
    for c in range(3):
        np.testing.assert_allclose(image[..., c], gray / 255.0, atol=1e-6)


def test_rgba_is_composited_over_white(tmp_path, photo):
    alpha = np.tile(np.linspace(0, 255, photo.shape[1]).astype(np.uint8), (photo.shape[0], 1))
    Image.fromarray(np.dstack([photo, alpha]), "RGBA").save(tmp_path / "rgba.png")
    image = load_image(tmp_path / "rgba.png")
    a = alpha[..., None] / 255.0
    np.testing.assert_allclose(image, photo / 255.0 * a + (1 - a), atol=1e-5)
    assert image[:, 0].min() == pytest.approx(1.0)  # fully transparent column: white, not black


def test_gray_alpha_is_composited_too(tmp_path, photo):
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    Image.fromarray(np.dstack([gray, np.full_like(gray, 128)]), "LA").save(tmp_path / "la.png")
    image = load_image(tmp_path / "la.png")
    expected = gray / 255.0 * (128 / 255) + (1 - 128 / 255)
    np.testing.assert_allclose(image[..., 1], expected, atol=1e-5)


def test_16_bit_grayscale_png_is_scaled_by_65535(tmp_path, photo):
    gray16 = np.asarray(Image.fromarray(photo).convert("L")).astype(np.uint16) * 257 + 100
    cv2.imwrite(str(tmp_path / "gray16.png"), gray16)
    image = load_image(tmp_path / "gray16.png")
    np.testing.assert_allclose(image[..., 0], gray16 / 65535.0, atol=1e-6)
    assert image.max() > 0.9  # not divided by 255 and clipped, not left in 0..65535


def test_16_bit_rgb_png_keeps_its_precision(tmp_path, photo):
    rgb16 = photo.astype(np.uint16) * 257 + 37  # low bits that an 8-bit decode would lose
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[..., ::-1])
    image = load_image(tmp_path / "rgb16.png")
    np.testing.assert_allclose(image, rgb16 / 65535.0, atol=1e-6)


def test_palette_png(tmp_path, photo):
    pal = Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.save(tmp_path / "palette.png")
    image = load_image(tmp_path / "palette.png")
    np.testing.assert_allclose(image, np.asarray(pal.convert("RGB")) / 255.0, atol=1e-6)
    assert np.abs(image - photo / 255.0).mean() < 0.03  # still the same photo


def test_palette_png_with_a_transparent_entry(tmp_path, photo):
    pal = Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    index = np.asarray(pal)[0, 0]
    pal.info["transparency"] = int(index)
    pal.save(tmp_path / "palette_t.png", transparency=int(index))
    image = load_image(tmp_path / "palette_t.png")
    transparent = np.asarray(pal) == index
    assert np.all(image[transparent] == 1.0)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, photo, orientation):
    small = Image.fromarray(photo[:60, :40])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"oriented{orientation}.png"
    small.save(path, exif=exif)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB")) / 255.0
    image = load_image(path)
    assert image.shape == expected.shape
    np.testing.assert_allclose(image, expected, atol=1e-6)
    if orientation in (5, 6, 7, 8):
        assert image.shape[:2] == (40, 60)


def test_apply_orientation_matches_pillow_on_a_jpg_face(media_dir, photo):
    for orientation, method in [(2, Image.Transpose.FLIP_LEFT_RIGHT), (6, Image.Transpose.ROTATE_270),
                                (8, Image.Transpose.ROTATE_90), (7, Image.Transpose.TRANSVERSE)]:
        expected = np.asarray(Image.fromarray(photo).transpose(method))
        assert np.array_equal(apply_orientation(photo, orientation), expected)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tiff", ".webp", ".jpg"])
def test_save_and_load_each_format(tmp_path, photo, ext):
    assert ext in IMAGE_EXTENSIONS
    path = tmp_path / f"photo{ext}"
    save_image(path, photo / 255.0)
    image = load_image(path)
    lossless = ext in (".png", ".bmp", ".tiff")
    assert np.abs(image - photo / 255.0).max() < (1e-6 if lossless else 0.5)
    assert np.abs(image - photo / 255.0).mean() < (1e-6 if lossless else 0.02)
    assert os.listdir(tmp_path) == [path.name]  # the temp file was renamed, not left behind


def test_save_image_replaces_atomically_and_checks_the_folder(tmp_path, photo):
    path = tmp_path / "out.png"
    save_image(path, photo)
    save_image(path, photo[:10, :10])
    assert load_image(path).shape == (10, 10, 3)
    with pytest.raises(UserError, match="does not exist"):
        save_image(tmp_path / "missing" / "out.png", photo)
    with pytest.raises(UserError, match="unknown extension"):
        save_image(tmp_path / "out.xyz", photo)
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_missing_or_broken_image_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found") as excinfo:
        load_image(tmp_path / "nope.jpg")
    assert str(tmp_path / "nope.jpg") in str(excinfo.value)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(UserError, match="cannot read image") as excinfo:
        load_image(broken)
    assert "\n" not in str(excinfo.value)


def test_converters():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255]
    u = np.array([0, 128, 255], dtype=np.uint8)
    assert to_uint8(u) is u
    np.testing.assert_allclose(to_float(u), [0.0, 128 / 255, 1.0])
    assert to_float(u).dtype == np.float32
    assert to_uint8(np.array([0, 65535, 257 * 100], dtype=np.uint16)).tolist() == [0, 255, 100]
    np.testing.assert_allclose(to_float(np.array([65535], dtype=np.uint16)), [1.0])
    assert np.array_equal(to_uint8(to_float(u)), u)
    with pytest.raises(TypeError):
        to_uint8(np.array(["a"]))
