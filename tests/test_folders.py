"""Tests of `keras_nas.data.folders`: class folders read as Keras reads them."""

import io
import os
import struct
import wave

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.data import folders
from keras_nas.split_indices import DatasetError

SHARED = "/work/shared/data"

# A 1x1 GIF of two frames: red, then black (no transparency).
GIF = (
    b"GIF89a\x01\x00\x01\x00\x81\x00\x00"  # screen, 4-colour global table
    + b"\xff\x00\x00\x00\x00\x00\x00\x00\xff\x00\xff\x00"  # red, black, ...
    + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00"  # colour 0
    + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x4c\x01\x00"  # colour 1
    + b"\x3b"
)


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def _png(image):
    return tf.io.encode_png(image).numpy()


def _jpeg(image):
    return tf.io.encode_jpeg(image).numpy()


def _bmp(image):
    """A 24-bit BMP of an RGB uint8 image, written by hand."""
    height, width, _ = image.shape
    pad = b"\0" * ((-3 * width) % 4)
    rows = b"".join(image[r, :, ::-1].tobytes() + pad for r in range(height)[::-1])
    info = struct.pack(
        "<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(rows), 0, 0, 0, 0
    )
    return b"BM" + struct.pack("<IHHI", 54 + len(rows), 0, 0, 54) + info + rows


def _wav(samples, rate=8000, width=2, channels=1):
    """The bytes of a PCM WAV file of integer samples, `(frames, channels)`."""
    dtype = {1: "u1", 2: "<i2", 4: "<i4"}.get(width)
    values = np.asarray(samples).reshape(-1, channels)
    if dtype:
        data = values.astype(dtype).tobytes()
    else:  # 24-bit: the three low bytes of each int32, little-endian.
        data = values.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(channels)
        clip.setsampwidth(width)
        clip.setframerate(rate)
        clip.writeframes(data)
    return buffer.getvalue()


def _float_wav(samples, rate=8000):
    """A WAV file of float32 samples (format tag 3, IEEE float)."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _folder(root, files):
    """Writes `{relative path: bytes or str}` under `root`; returns `root`."""
    for name, contents in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as stream:
            stream.write(contents.encode() if isinstance(contents, str) else contents)
    return str(root)


def _message(excinfo, limit=250):
    """The error's message, checked to be one short line."""
    message = str(excinfo.value)
    assert "\n" not in message
    assert len(message) <= limit, message
    return message


def test_listing_and_pixels_match_keras(tmp_path):
    rgb = _pixels((6, 5, 3))
    files = {
        "b_dog/10.png": _png(rgb),
        "b_dog/2.jpg": _jpeg(_pixels((6, 5, 3), 1)),
        "b_dog/z/0.PNG": _png(_pixels((6, 5, 1), 2)),  # grey, nested, upper case
        "a_cat/x.bmp": _bmp(_pixels((6, 5, 3), 3)),
        "a_cat/a.png": _png(_pixels((6, 5, 4), 4)),  # RGBA
        "a_cat/notes.csv": "ignored",
        "c_cow/1.jpeg": _jpeg(_pixels((6, 5, 3), 5)),
        "top.png": _png(rgb),  # not in a class folder
    }
    root = _folder(tmp_path, files)
    listing = folders.scan_folder(root)
    keras_data = keras.utils.image_dataset_from_directory(
        root, shuffle=False, batch_size=None, image_size=(6, 5), verbose=False
    )
    keras_files = [os.path.relpath(p, root) for p in keras_data.file_paths]
    assert listing.class_names == tuple(keras_data.class_names)
    assert listing.files == tuple(keras_files)
    assert listing.files[:2] == ("a_cat/a.png", "a_cat/x.bmp")
    assert listing.labels.dtype == np.int32
    assert listing.modality == "image"
    assert listing.reason == (
        "a folder of 3 class folders holding 6 .png/.jpg/.jpeg/.bmp files: image "
        "(1 other file ignored)"
    )
    images = folders.read_images(listing)
    keras_x, keras_y = zip(*[(x.numpy(), y.numpy()) for x, y in keras_data])
    assert images.x.dtype == np.uint8 and images.x.shape == (6, 6, 5, 3)
    np.testing.assert_array_equal(images.x, np.stack(keras_x))
    np.testing.assert_array_equal(images.labels, keras_y)
    assert images.files == listing.files and images.skipped == ()


def test_hidden_files_and_folders_are_ignored(tmp_path):
    image = _png(_pixels((4, 4, 3)))
    names = ["a/1.png", "a/.2.png", "a/.cache/3.png", ".hidden/4.png", "b/5.png"]
    root = _folder(tmp_path, dict.fromkeys(names, image))
    listing = folders.scan_folder(root)
    assert listing.class_names == ("a", "b")
    assert listing.files == ("a/1.png", "b/5.png")
    np.testing.assert_array_equal(listing.labels, [0, 1])


def test_modality_detection_and_override(tmp_path):
    clip = _wav([0, 1, 2])
    files = {"a/1.wav": clip, "a/2.WAV": clip, "b/3.wav": clip}
    files.update({"a/n.txt": "a", "b/n.txt": "b", "b/x.csv": "1,2"})
    root = _folder(tmp_path, files)
    listing = folders.scan_folder(root)
    assert listing.modality == "audio"
    assert listing.files == ("a/1.wav", "a/2.WAV", "b/3.wav")
    assert listing.reason == (
        "a folder of 2 class folders holding 3 .wav files: audio "
        "(3 other files ignored)"
    )
    texts = folders.scan_folder(root, modality="text")
    assert texts.files == ("a/n.txt", "b/n.txt")
    assert texts.reason == "modality='text' as given"
    with pytest.raises(ValueError, match="modality='video'"):
        folders.scan_folder(root, modality="video")
    with pytest.raises(ValueError, match="listing"):
        folders.read_images(listing)


@pytest.mark.parametrize(
    "files, given, expected",
    [
        ({"a/1.png": b"x", "b/2.png": b"x"}, "a/1.png", "is not a folder"),
        ({"1.png": b"x"}, ".", "holds no class sub-folders"),
        ({"a/1.csv": b"x", "b/2.md": b"x"}, ".", "hold no .png/.jpg/.jpeg/.bmp/.gif"),
        ({"a/1.png": b"x", "b/2.txt": b"x"}, ".", "class 'b' (b/) holds no .png/"),
        ({"a/1.png": b"x", "b/sub/.2.png": b"x"}, ".", "class 'b' (b/) holds no"),
        ({"a/1.png": b"x"}, ".", "single class folder (a/): needs at least 2"),
    ],
)
def test_scan_folder_errors(tmp_path, files, given, expected):
    root = _folder(tmp_path, files)
    path = os.path.normpath(os.path.join(root, given))
    with pytest.raises(DatasetError) as excinfo:
        folders.scan_folder(path)
    message = _message(excinfo, limit=200 + len(path))
    assert expected in message


def test_bad_images_raise_or_are_skipped(tmp_path):
    good = _png(_pixels((4, 4, 3)))
    files = {
        "a/1.png": good,
        "a/2.png": good[:40],  # truncated
        "b/3.jpg": b"not an image",
        "b/4.png": good,
    }
    listing = folders.scan_folder(_folder(tmp_path, files))
    with pytest.raises(DatasetError) as excinfo:
        folders.read_images(listing)
    message = _message(excinfo)
    assert message.startswith("a/2.png cannot be decoded as an image (")
    assert "--skip-bad-files" in message
    images = folders.read_images(listing, skip_bad=True)
    assert images.files == ("a/1.png", "b/4.png")
    assert images.x.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(images.labels, [0, 1])
    assert [file for file, _ in images.skipped] == ["a/2.png", "b/3.jpg"]
    assert "Unknown image file format" in images.skipped[1][1]


def test_a_class_losing_all_its_files_is_an_error(tmp_path):
    files = {"a/1.png": _png(_pixels((4, 4, 3))), "b/2.png": b"x", "b/3.gif": b"y"}
    listing = folders.scan_folder(_folder(tmp_path, files))
    with pytest.raises(DatasetError) as excinfo:
        folders.read_images(listing, skip_bad=True)
    message = _message(excinfo)
    assert message.startswith(
        "class 'b' (b/) has no file left (2 skipped, e.g. b/2.png"
    )
    assert "b/2.png" in message


def test_channel_conversions_gif_and_bmp(tmp_path):
    rgb, grey, rgba = (
        _pixels((3, 2, 3), 1),
        _pixels((3, 2, 1), 2),
        _pixels((3, 2, 4), 3),
    )
    files = {
        "a/1_rgb.png": _png(rgb),
        "a/2_grey.png": _png(grey),
        "b/3_rgba.png": _png(rgba),
        "b/4.bmp": _bmp(rgb),
        "b/5.gif": GIF,
    }
    listing = folders.scan_folder(_folder(tmp_path, files))
    images = folders.read_images(listing, image_size=tuple(np.array([3, 2])))
    assert images.x.shape == (5, 3, 2, 3)
    np.testing.assert_array_equal(images.x[0], rgb)
    np.testing.assert_array_equal(images.x[1], np.repeat(grey, 3, axis=2))
    np.testing.assert_array_equal(images.x[2], rgba[..., :3])
    np.testing.assert_array_equal(images.x[3], rgb)
    np.testing.assert_array_equal(images.x[4], np.full((3, 2, 3), [255, 0, 0]))
    grey_images = folders.read_images(listing, image_size=(3, 2), channels=1)
    np.testing.assert_array_equal(grey_images.x[0], tf.image.rgb_to_grayscale(rgb))
    np.testing.assert_array_equal(grey_images.x[1], grey)
    np.testing.assert_array_equal(
        grey_images.x[2], tf.image.rgb_to_grayscale(rgba[..., :3])
    )
    with pytest.raises(ValueError, match="channels=2"):
        folders.read_images(listing, channels=2)
    with pytest.raises(ValueError, match="image_size"):
        folders.read_images(listing, image_size=(3,))


def test_default_channels_are_grey_when_every_image_is(tmp_path):
    files = {"a/1.png": _png(_pixels((5, 5, 1))), "b/2.png": _png(_pixels((5, 5, 2)))}
    images = folders.read_images(folders.scan_folder(_folder(tmp_path, files)))
    assert images.x.shape == (2, 5, 5, 1)


def test_default_size_is_the_median_capped_at_64(tmp_path):
    big = _pixels((100, 200, 3))
    files = {
        "a/1.png": _png(big),
        "b/2.png": _png(big),
        "b/3.png": _png(_pixels((20, 8, 3))),
    }
    images = folders.read_images(folders.scan_folder(_folder(tmp_path, files)))
    assert images.x.shape == (3, 32, 64, 3)
    resized = tf.image.resize(big, (32, 64), method="bilinear").numpy()
    np.testing.assert_array_equal(images.x[0], np.clip(np.round(resized), 0, 255))
    shapes = [(10, 30), (20, 40), (40, 30)]
    files = {
        f"{c}/{i}.png": _png(_pixels((*s, 3)))
        for i, (c, s) in enumerate(zip("abb", shapes))
    }
    images = folders.read_images(folders.scan_folder(_folder(tmp_path / "m", files)))
    assert images.x.shape == (3, 20, 30, 3)


def test_pcm_sample_values(tmp_path):
    files = {
        "a/8bit.wav": _wav([128, 0, 255, 192], width=1),
        "a/16bit.wav": _wav([0, 16384, -32768, 32767]),
        "b/24bit.wav": _wav([-(2**23), 2**22, 2**23 - 1, -1], width=3),
        "b/32bit.wav": _wav([2**31 - 1, -(2**31), 2**30, 0], width=4),
        "b/stereo.wav": _wav(
            [[16384, 0], [-32768, -16384], [0, 0], [1, 1]], channels=2
        ),
    }
    audio = folders.read_audio(folders.scan_folder(_folder(tmp_path, files)))
    assert audio.x.dtype == np.float32 and audio.x.shape == (5, 4)
    assert audio.sample_rate == 8000
    below_one = np.nextafter(np.float32(1), np.float32(0))
    expected = {
        "a/8bit.wav": [0, -1, 127 / 128, 0.5],
        "a/16bit.wav": [0, 0.5, -1, 32767 / 32768],
        "b/24bit.wav": [-1, 0.5, (2**23 - 1) / 2**23, -(2**-23)],
        "b/32bit.wav": [below_one, -1, 0.5, 0],
        "b/stereo.wav": [0.25, -0.75, 0, 1 / 32768],
    }
    for file, row in zip(audio.files, audio.x):
        np.testing.assert_array_equal(row, np.float32(expected[file]), err_msg=file)
    assert audio.x.max() < 1


def test_clips_are_padded_and_cropped(tmp_path):
    files = {
        "a/short.wav": _wav([100, 200, 300], rate=8),
        "b/long.wav": _wav([1, 2, 3, 4, 5, 6], rate=8),
    }
    listing = folders.scan_folder(_folder(tmp_path, files))
    audio = folders.read_audio(listing)
    np.testing.assert_array_equal(
        audio.x * 32768, [[100, 200, 300, 0, 0, 0], [1, 2, 3, 4, 5, 6]]
    )
    np.testing.assert_array_equal(audio.lengths, [3, 6])
    cropped = folders.read_audio(listing, max_seconds=0.5)
    np.testing.assert_array_equal(cropped.x * 32768, [[100, 200, 300, 0], [1, 2, 3, 4]])
    np.testing.assert_array_equal(cropped.lengths, [3, 6])
    with pytest.raises(ValueError, match="max_seconds"):
        folders.read_audio(listing, max_seconds=0)


def test_non_pcm_wav_raises_or_is_skipped(tmp_path):
    files = {
        "a/1.wav": _wav([1, 2]),
        "a/float.wav": _float_wav([0.5, -0.5]),
        "b/2.wav": _wav([3, 4]),
    }
    listing = folders.scan_folder(_folder(tmp_path, files))
    with pytest.raises(DatasetError) as excinfo:
        folders.read_audio(listing)
    message = _message(excinfo)
    assert message.startswith("a/float.wav is not a PCM WAV file (unknown format: 3)")
    assert "ffmpeg -i in.wav -c:a pcm_s16le out.wav" in message
    audio = folders.read_audio(listing, skip_bad=True)
    assert audio.files == ("a/1.wav", "b/2.wav")
    assert audio.skipped == (
        ("a/float.wav", "is not a PCM WAV file (unknown format: 3)"),
    )


def test_empty_and_truncated_wavs(tmp_path):
    files = {
        "a/1.wav": _wav([1, 2, 3, 4]),
        "a/cut.wav": _wav([1, 2, 3, 4])[:-3],
        "b/2.wav": _wav([5]),
        "b/empty.wav": b"",
    }
    listing = folders.scan_folder(_folder(tmp_path, files))
    with pytest.raises(DatasetError) as excinfo:
        folders.read_audio(listing)
    message = _message(excinfo)
    assert message.startswith("b/empty.wav is not a PCM WAV file (it ends early)")
    audio = folders.read_audio(listing, skip_bad=True)
    assert audio.files == ("a/1.wav", "b/2.wav")
    assert audio.skipped == (
        ("a/cut.wav", "is truncated: its header says 4 samples, it has 2"),
        ("b/empty.wav", "is not a PCM WAV file (it ends early)"),
    )
    np.testing.assert_array_equal(audio.x * 32768, [[1, 2, 3, 4], [5, 0, 0, 0]])


def test_differing_sampling_rates(tmp_path):
    files = {
        "a/1.wav": _wav([1, 2]),
        "a/2.wav": _wav([1, 2]),
        "b/3.wav": _wav([1, 2], rate=16000),
        "b/4.wav": _wav([1, 2]),
    }
    listing = folders.scan_folder(_folder(tmp_path, files))
    with pytest.raises(DatasetError) as excinfo:
        folders.read_audio(listing)
    message = _message(excinfo)
    assert "8,000 Hz (3 files), 16,000 Hz (1 file, e.g. b/3.wav)" in message
    assert "resample them to 8,000 Hz" in message
    audio = folders.read_audio(listing, skip_bad=True)
    assert audio.files == ("a/1.wav", "a/2.wav", "b/4.wav")
    assert audio.skipped == (("b/3.wav", "sampled at 16,000 Hz, not 8,000 Hz"),)


def test_texts_utf8_bom_and_bad_bytes(tmp_path):
    files = {
        "neg/1.txt": "bad café".encode(),
        "neg/2.txt": b"\xef\xbb\xbfwith a BOM",
        "pos/3.txt": b"good \xe9t\xe9",  # Latin-1
        "pos/4.txt": "great",
    }
    listing = folders.scan_folder(_folder(tmp_path, files))
    with pytest.raises(DatasetError) as excinfo:
        folders.read_texts(listing)
    message = _message(excinfo)
    assert message.startswith("pos/3.txt is not UTF-8 (byte 0xe9 at offset 5)")
    texts = folders.read_texts(listing, skip_bad=True)
    assert texts.x.dtype.kind == "U"
    assert texts.x.tolist() == ["bad café", "with a BOM", "great"]
    np.testing.assert_array_equal(texts.labels, [0, 0, 1])
    assert [file for file, _ in texts.skipped] == ["pos/3.txt"]


def test_cifar10_folder_matches_its_npz():
    root = os.path.join(SHARED, "cifar10_dev_folders", "test")
    if not os.path.isdir(root):
        pytest.skip(f"{root} is missing")
    listing = folders.scan_folder(root)
    assert len(listing.class_names) == 10 and len(listing.files) == 1000
    images = folders.read_images(listing)
    assert images.x.shape == (1000, 32, 32, 3) and images.x.dtype == np.uint8
    npz = np.load(os.path.join(SHARED, "cifar10_dev_test.npz"))
    assert listing.class_names == tuple(npz["class_names"])
    for i in np.random.default_rng(0).choice(1000, 50, replace=False):
        row = int(os.path.splitext(os.path.basename(images.files[i]))[0])
        np.testing.assert_array_equal(images.x[i], npz["x"][row])
        assert images.labels[i] == npz["y"][row]


def test_spoken_digits_folder_matches_its_npz():
    root = os.path.join(SHARED, "spoken_digits_az_folders", "test")
    if not os.path.isdir(root):
        pytest.skip(f"{root} is missing")
    audio = folders.read_audio(folders.scan_folder(root))
    assert audio.x.shape == (50, 8000) and audio.sample_rate == 8000
    npz = np.load(os.path.join(SHARED, "spoken_digits_az_test.npz"))
    ours = dict(zip((row.tobytes() for row in audio.x), audio.labels))
    theirs = dict(zip((row.tobytes() for row in npz["x"]), npz["y"]))
    assert sorted(ours) == sorted(theirs)
    assert all(ours[key] == theirs[key] for key in ours)
