import base64
import io

import openai
import pytest
from PIL import Image


@pytest.mark.django_db(transaction=True)
def test_sdk_b64(endpoint_url, api_key):
    client = openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)
    result = client.images.generate(prompt="a red fox", response_format="b64_json", n=2)
    assert len(result.data) == 2
    img = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
    assert img.size == (1024, 1024)
