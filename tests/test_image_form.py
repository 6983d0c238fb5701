"""Images as users hold them, brought to the training images' form (reprolab/data/image_form.py):
mnist's recipe on digits rendered from fonts, dark on light; cifar10's centred square; an
image already in form passes unchanged."""

from __future__ import annotations

from collections import Counter

import numpy as np

from bench.fontdigits import digits
from reprolab.data import image_form

MNIST, CIFAR = (1, 28, 28), (3, 32, 32)


def test_font_digits_dark_on_light_become_mnist_digits():
    done, rendered = Counter(), digits()[::7]  # every digit, font, canvas and place is among them
    for label, grey in rendered:
        assert grey[0, 0] > 150  # dark on a light ground, as drawn
        (image,) = image_form.conform(grey, MNIST, done, "digit")
        assert image.shape == (28, 28) and image.dtype == np.uint8
        assert np.median(image) == 0 and image.max() > 200, label  # a light digit on a dark ground
        rows, cols = np.nonzero(image)
        assert np.ptp(rows) < 20 and np.ptp(cols) < 20, label  # its box fits 20x20
        ys, xs = np.indices(image.shape)
        weight = image.astype(np.float64)
        centre = ((ys * weight).sum() / weight.sum(), (xs * weight).sum() / weight.sum())
        assert np.allclose(centre, 13.5, atol=0.75), (label, centre)  # its centre of mass at the centre
    assert done == Counter({key: len(rendered) for key in ("converted", "inverted", "cropped", "resized")})


def test_an_image_in_the_training_form_passes_unchanged_and_any_other_is_converted():
    rng = np.random.default_rng(0)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 10:18] = rng.integers(0, 256, (16, 8))  # a dark ground
    done = Counter()
    assert np.array_equal(image_form.conform(digit, MNIST, done, "digit")[0], digit) and not done
    image_form.conform(255 - digit, MNIST, done, "digit")  # 28x28, but dark on light: the recipe
    assert done == Counter(converted=1, inverted=1, cropped=1, resized=1)
    photo = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(image_form.conform(photo, CIFAR, done, "photo"), photo.transpose(2, 0, 1))


def test_a_wide_photo_is_cropped_to_its_centre_not_squashed():
    photo = np.zeros((32, 64, 3), np.uint8)
    photo[:, :16] = (255, 0, 0)
    photo[:, 16:48] = (0, 255, 0)
    photo[:, 48:] = (0, 0, 255)
    done = Counter()
    image = image_form.conform(photo, CIFAR, done, "photo")
    assert (image[1] == 255).all() and (image[[0, 2]] == 0).all()  # the middle alone: green
    assert done == Counter(converted=1, cropped=1)
    image_form.conform(np.repeat(np.repeat(photo, 3, axis=0), 3, axis=1), CIFAR, done, "photo")
    assert done == Counter(converted=2, cropped=2, resized=1)
    assert image_form.summary(done, 3, CIFAR) == "2 of 3 images converted to 32x32 RGB (1 resized, 2 cropped)"


def test_one_colour_is_predicted_as_it_is_and_said_blank():
    done = Counter()
    (image,) = image_form.conform(np.full((40, 40), 255, np.uint8), MNIST, done, "digit")
    assert (image == 255).all() and done == Counter(converted=1, blank=1)
    assert image_form.summary(done, 1, MNIST) == (
        "1 of 1 images converted to 28x28 L; 1 of one colour (blank: nothing to centre), predicted as they are"
    )
