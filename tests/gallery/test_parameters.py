"""One table of parameters and what reads it: Compare (two images side by side), the image page
and the downloads (nothing invented, every known one named); and an import's own date."""

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


# -- an import keeps the file's own date ---------------------------------------------------------


def png_with_time(year: int, month: int, day: int) -> bytes:
    import struct
    import zlib

    png = distinct_png()
    body = struct.pack(">HBBBBB", year, month, day, 14, 3, 22)
    chunk = struct.pack(">I", 7) + b"tIME" + body + struct.pack(">I", zlib.crc32(b"tIME" + body))
    ihdr_end = 8 + 25
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def jpeg_taken(when: str, offset: str | None = None) -> bytes:
    import io

    from PIL import Image as PILImage

    image = PILImage.new("RGB", (24, 16), (10, 120, 200))
    exif = PILImage.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = when
    if offset:
        ifd[0x9011] = offset
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_an_import_is_dated_by_the_pngs_time_chunk(user):
    from datetime import UTC, datetime

    image = services.image_import(owner=user, data=png_with_time(2020, 5, 17), filename="a.png")
    assert image.image.created_at == datetime(2020, 5, 17, 14, 3, 22, tzinfo=UTC)


def test_an_import_is_dated_by_exif_date_time_original(user):
    from datetime import UTC, datetime

    taken = services.image_import(
        owner=user, data=jpeg_taken("2019:08:01 09:30:00", "+02:00"), filename="b.jpg"
    ).image
    assert taken.created_at == datetime(2019, 8, 1, 7, 30, tzinfo=UTC)


def test_an_import_without_a_date_takes_the_files_modification_time(client, user):
    from datetime import UTC, datetime

    from django.core.files.uploadedfile import SimpleUploadedFile

    from gallery.models import Image

    client.force_login(user)
    modified = int(datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp() * 1000)
    response = client.post(
        reverse("gallery:upload"),
        {
            "files": [
                SimpleUploadedFile("plain.png", distinct_png(), content_type="image/png"),
                SimpleUploadedFile(
                    "dated.png", png_with_time(2020, 1, 2), content_type="image/png"
                ),
            ],
            "last_modified": [str(modified), str(modified)],
        },
        headers={"Accept": "application/json"},
    )
    assert [r["status"] for r in response.json()["results"]] == ["imported", "imported"]
    plain = Image.objects.get(metadata__imported_from="plain.png")
    dated = Image.objects.get(metadata__imported_from="dated.png")
    assert plain.created_at == datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert dated.created_at.year == 2020  # the file's own date comes first
    # A date from the future or from a camera's unset clock is not believed.
    again = services.image_import(
        owner=user,
        data=distinct_png(),
        filename="c.png",
        modified_at=datetime(1970, 1, 1, tzinfo=UTC),
    ).image
    assert again.created_at.year >= 2025


# -- "Use these settings" and "Copy as API call" say what they leave out --------------------------


def test_use_these_settings_on_an_import_says_what_it_could_not_carry(client, user):
    image = imported(user, A1111)
    client.force_login(user)
    page = client.get(reverse("gallery:home") + f"?from={image.pk}")
    html = page.content.decode()
    assert "Not carried over:" in html
    assert "the model “dreamshaper_8”, not offered here" in html
    assert "the size 32x24" in html
    assert "Negative prompt, Seed, Steps, Sampler, CFG scale: the endpoint" in html
    form = page.context["form"]
    assert form.initial["prompt"] == "a copper teapot"
    assert form.initial["model"] != "dreamshaper_8"


def test_use_these_settings_on_a_generated_image_carries_everything(client, user):
    from gallery.models import Generation

    [image] = make_images(user, 1)
    Generation.objects.filter(pk=image.generation_id).update(size="512x512")
    client.force_login(user)
    page = client.get(reverse("gallery:home") + f"?from={image.pk}")
    assert "Not carried over:" not in page.content.decode()
    assert page.context["form"].initial["model"] == image.model


def test_copy_as_api_call_names_what_it_left_out(client, user):
    image = imported(user, A1111)
    client.force_login(user)
    html = client.get(reverse("gallery:image", args=[image.pk])).content.decode()
    assert "Left out:" in html
    curl = html.split('id="api-call-curl">')[1].split("</pre>")[0]
    assert "a copper teapot" in curl
    assert "dreamshaper_8" not in curl and "32x24" not in curl
