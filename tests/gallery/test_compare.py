"""Compare: two of a person's own images side by side, with their parameters' differences; and
the one table of parameters it reads (nothing invented, every known one named)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gallery import services
from gallery.parameters import image_parameters_table, parameters_compared
from tests.factories import distinct_png, make_images

pytestmark = pytest.mark.django_db

A1111 = (
    "a copper teapot\nNegative prompt: blurry, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: 1250021385, Size: 32x24, "
    "Model: dreamshaper_8"
)


def imported(owner, parameters: str):
    result = services.image_import(
        owner=owner, data=distinct_png(text={"parameters": parameters}), filename="teapot.png"
    )
    assert result.status == "imported", result.reason
    return result.image


def test_an_imported_images_parameters_are_all_named(user):
    image = imported(user, A1111)
    table = {p.label: p.value for p in image_parameters_table(image)}
    assert table["Prompt"] == "a copper teapot"
    assert table["Negative prompt"] == "blurry, lowres"
    assert (table["Seed"], table["Steps"], table["Sampler"], table["CFG scale"]) == (
        "1250021385",
        "28",
        "DPM++ 2M",
        "6.5",
    )
    assert table["Model"] == "dreamshaper_8"
    assert table["Source"] == "Imported from teapot.png, written by Stable Diffusion web UI (A1111)"


def test_a_generated_image_has_no_invented_seed(user):
    [image] = make_images(user, 1)
    labels = [p.label for p in image_parameters_table(image)]
    assert "Seed" not in labels and "Steps" not in labels
    assert labels[0] == "Prompt" and labels[-1] == "Source"


def test_differences_are_marked_and_a_missing_value_is_a_dash(user):
    first = imported(user, A1111)
    second = imported(user, A1111.replace("Seed: 1250021385", "Seed: 7").replace("Steps: 28, ", ""))
    rows = {label: (a, b, differs) for label, a, b, differs in parameters_compared(first, second)}
    assert rows["Seed"] == ("1250021385", "7", True)
    assert rows["Steps"] == ("28", "—", True)
    assert rows["Sampler"] == ("DPM++ 2M", "DPM++ 2M", False)


def test_the_compare_page_shows_both_and_counts_the_differences(client, user):
    first = imported(user, A1111)
    second = imported(user, A1111.replace("Seed: 1250021385", "Seed: 7"))
    client.force_login(user)
    url = reverse("gallery:compare") + f"?a={first.pk}&b={second.pk}&back=/?tag=sea"
    page = client.get(url).content.decode()
    assert "1 parameter differs" in page
    assert page.count('alt="a copper teapot"') == 2
    assert 'href="/?tag=sea"' in page
    # Another site's address is never a way back.
    page = client.get(url.replace("back=/?tag=sea", "back=//evil.example/")).content.decode()
    assert "evil.example" not in page


def test_compare_needs_two_of_ones_own_images(client, user, other_user):
    [mine] = make_images(user, 1)
    [theirs] = make_images(other_user, 1)
    client.force_login(user)
    url = reverse("gallery:compare")
    assert client.get(f"{url}?a={mine.pk}&b={theirs.pk}").status_code == 404
    assert client.get(f"{url}?a={mine.pk}&b=nonsense").status_code == 404
    assert client.get(f"{url}?a={mine.pk}").status_code == 404


# -- exports never invent a value ------------------------------------------------------------


def comfy_png() -> bytes:
    import json as _json

    graph = {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 1250021385,
                "steps": 30,
                "cfg": 7.5,
                "sampler_name": "euler",
                "positive": ["6", 0],
                "negative": ["7", 0],
            },
        },
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse in fog"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry"}},
    }
    return distinct_png(text={"prompt": _json.dumps(graph)})


def test_a_file_with_its_own_parameters_downloads_byte_for_byte(user):
    data = distinct_png(text={"parameters": A1111})
    image = services.image_import(owner=user, data=data, filename="teapot.png").image
    downloaded, _ = services.image_download(image=image)
    assert downloaded == data


def test_a_comfyui_import_downloads_with_its_real_seed_not_zero(user):
    import io

    from PIL import Image as PILImage

    image = services.image_import(owner=user, data=comfy_png(), filename="comfy.png").image
    downloaded, _ = services.image_download(image=image)
    text = PILImage.open(io.BytesIO(downloaded)).text["parameters"]
    prompt, negative, line = text.split("\n")
    assert prompt == "a lighthouse in fog"
    assert negative == "Negative prompt: blurry"
    assert "Seed: 1250021385" in line and "Steps: 30" in line and "CFG scale: 7.5" in line
    assert "Sampler: euler" in line and "Model: sdxl.safetensors" in line
    assert "Seed: 0" not in line and "Generator" not in line


def test_a_generated_image_downloads_without_a_made_up_seed(user):
    import io

    from PIL import Image as PILImage

    [image] = make_images(user, 1)
    downloaded, _ = services.image_download(image=image)
    line = PILImage.open(io.BytesIO(downloaded)).text["parameters"].split("\n")[-1]
    assert "Seed" not in line and "Generator: Novisurf" in line


def test_the_image_page_shows_every_known_parameter(client, user):
    image = imported(user, A1111)
    client.force_login(user)
    page = client.get(reverse("gallery:image", args=[image.pk])).content.decode()
    for label, value in (
        ("Negative prompt", "blurry, lowres"),
        ("Seed", "1250021385"),
        ("Steps", "28"),
        ("Sampler", "DPM++ 2M"),
        ("CFG scale", "6.5"),
        ("Model", "dreamshaper_8"),
        ("Source", "Imported from teapot.png"),
    ):
        assert f"<dt>{label}</dt>" in page, label
        assert value in page, value
