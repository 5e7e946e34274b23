"""Formats live in one table (novisurf.protocol.IMAGE_FORMATS), and each image records the format
its thumbnail was made in: the thumbnail is served as what the row says it is."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from gallery import imaging
from gallery.models import Image
from novisurf import protocol
from tests.factories import make_images

pytestmark = pytest.mark.django_db


def test_one_table_names_every_format():
    assert imaging.CONTENT_TYPES is protocol.CONTENT_TYPES
    assert tuple(protocol.IMAGE_FORMATS) == protocol.OUTPUT_FORMATS
    for name, image_format in protocol.IMAGE_FORMATS.items():
        assert protocol.CONTENT_TYPES[name] == image_format.content_type
        assert imaging.ALLOWED_FORMATS[image_format.pillow] == image_format.extension


# Served from disk: on S3 the thumbnail is a redirect to the bucket, which the bucket serves.
@pytest.mark.filesystem
def test_a_stored_image_records_its_thumbnails_format(client, user):
    image = make_images(user, 1)[0]
    assert image.thumbnail_format == protocol.THUMBNAIL_FORMAT.name
    assert image.thumbnail.name.endswith("." + protocol.THUMBNAIL_FORMAT.extension)
    client.force_login(user)
    answer = client.get(f"/images/{image.pk}/thumbnail")
    body = b"".join(answer.streaming_content) if answer.streaming else answer.content
    assert answer["Content-Type"] == protocol.THUMBNAIL_FORMAT.content_type
    assert PILImage.open(io.BytesIO(body)).format == protocol.THUMBNAIL_FORMAT.pillow

    # A row made when thumbnails were another format is still served as what it is.
    Image.objects.filter(pk=image.pk).update(thumbnail_format="png")
    assert client.get(f"/images/{image.pk}/thumbnail")["Content-Type"] == "image/png"
