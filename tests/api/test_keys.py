"""API keys: made by `createapikey`, stored hashed, revocable, recorded on use, rate limited."""

from __future__ import annotations

import hashlib
import io

import pytest
import requests
from django.core.management import CommandError, call_command

from api.models import ApiKey
from api.services import apikey_create, apikey_revoke

BODY = {"prompt": "a red fox", "size": "256x256", "response_format": "b64_json"}


def create_key(*args: str) -> tuple[str, str]:
    """Run `createapikey`; returns its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("createapikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def generate(endpoint_url: str, raw_key: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{endpoint_url}/images/generations",
        json=BODY,
        headers={"Authorization": f"Bearer {raw_key}", **headers},
        timeout=30,
    )


# -- the command ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_createapikey_prints_the_key_last(user):
    out, err = create_key("alice", "--name", "x")
    raw_key = out.strip().splitlines()[-1]
    assert raw_key.startswith("dkai_")
    assert len(raw_key) > 40
    assert "alice" in err

    api_key = ApiKey.objects.get()
    assert api_key.owner == user
    assert api_key.name == "x"
    assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key.startswith(api_key.prefix)
    assert api_key.revoked_at is None
    assert api_key.last_used_at is None


@pytest.mark.django_db
def test_only_the_hash_is_stored(user):
    out, _ = create_key("alice", "--name", "x")
    raw_key = out.strip().splitlines()[-1]
    row = ApiKey.objects.filter(owner=user).values().get()
    stored = " ".join(str(value) for value in row.values())
    assert raw_key not in stored
    # Not the secret part either, only the short prefix that identifies it.
    assert raw_key[12:] not in stored
    assert len(row["prefix"]) <= 16


@pytest.mark.django_db
def test_each_key_is_different(user):
    keys = {create_key("alice")[0].strip().splitlines()[-1] for _ in range(3)}
    assert len(keys) == 3
    assert ApiKey.objects.filter(owner=user).count() == 3


@pytest.mark.django_db
def test_createapikey_service_marks_the_gallerys_own_key(user):
    """A deployment makes the gallery's key with --service: its answers are not kept a second
    time (the gallery stores them) and the key does not count against the person's key cap."""
    out, _ = create_key("alice", "--name", "gallery", "--service")
    raw_key = out.strip().splitlines()[-1]
    assert raw_key.startswith("dkai_")
    assert ApiKey.objects.get().is_service
    create_key("alice", "--name", "script")
    assert not ApiKey.objects.get(name="script").is_service


@pytest.mark.django_db
def test_createapikey_unknown_user():
    with pytest.raises(CommandError, match="nobody"):
        create_key("nobody", "--name", "x")
    assert not ApiKey.objects.exists()


# -- the key in use -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_key_from_the_command_works_and_records_its_use(user, endpoint_url):
    out, _ = create_key("alice", "--name", "laptop")
    raw_key = out.strip().splitlines()[-1]
    assert ApiKey.objects.get().last_used_at is None

    response = generate(endpoint_url, raw_key)
    assert response.status_code == 200, response.text

    api_key = ApiKey.objects.get()
    assert api_key.last_used_at is not None
    assert api_key.last_used_at >= api_key.created_at


@pytest.mark.django_db(transaction=True)
def test_models_list_records_use_too(user, endpoint_url):
    api_key, raw_key = apikey_create(owner=user, name="x")
    response = requests.get(f"{endpoint_url}/models", headers={"X-API-Key": raw_key}, timeout=10)
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused(user, endpoint_url):
    api_key, raw_key = apikey_create(owner=user, name="x")
    assert generate(endpoint_url, raw_key).status_code == 200

    apikey_revoke(api_key=api_key)
    response = generate(endpoint_url, raw_key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    # Revoking is for good: the revocation time stays as it was.
    revoked_at = ApiKey.objects.get().revoked_at
    apikey_revoke(api_key=ApiKey.objects.get())
    assert ApiKey.objects.get().revoked_at == revoked_at


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_users_key_is_refused(user, endpoint_url):
    _, raw_key = apikey_create(owner=user, name="x")
    user.is_active = False
    user.save()
    assert generate(endpoint_url, raw_key).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_does_not_touch_other_keys(user, endpoint_url):
    apikey_create(owner=user, name="x")
    assert generate(endpoint_url, "dkai_wrong").status_code == 401
    assert ApiKey.objects.get().last_used_at is None


# -- rate limits --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_rate_limit_per_key(settings, user, other_user, endpoint_url):
    settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 2
    _, busy_key = apikey_create(owner=user, name="busy")
    _, quiet_key = apikey_create(owner=other_user, name="quiet")
    _, second_key_same_user = apikey_create(owner=user, name="second")

    statuses = []
    for _ in range(6):
        response = generate(endpoint_url, busy_key)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    # At least two went through before the limit (more only if a minute turned over meanwhile).
    assert statuses[-1] == 429, statuses
    assert statuses[:2] == [200, 200]
    assert set(statuses[:-1]) == {200}

    assert response.headers["Content-Type"] == "application/json"
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "requests"
    assert set(error) == {"message", "type", "param", "code"}

    # Other keys, of another user or of the same one, are not held back.
    assert generate(endpoint_url, quiet_key).status_code == 200
    assert generate(endpoint_url, second_key_same_user).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_is_a_401_not_a_429(settings, user, endpoint_url):
    settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 1
    for _ in range(3):
        assert generate(endpoint_url, "dkai_wrong").status_code == 401


# -- in the browser: the admin and a person's own keys page -----------------------------------


@pytest.mark.django_db
def test_admin_makes_a_key_and_shows_it_once(client, admin_user, user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/api/apikey/add/", {"owner": user.pk, "name": "from admin"}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    [shown] = [m for m in messages if m.startswith("New API key")]
    raw_key = shown.split()[-1]
    # Only that message holds the whole key; the others name its prefix.
    assert sum(raw_key in m for m in messages) == 1
    stored = ApiKey.objects.get(name="from admin")
    assert stored.owner == user
    assert stored.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()


@pytest.mark.django_db
def test_keys_page_makes_and_revokes_own_keys(client, user, other_user):
    _, others = apikey_create(owner=other_user, name="bob's")
    client.force_login(user)
    created = client.post("/keys/", {"name": "laptop"})
    assert created.status_code == 302 and created["Location"] == "/keys/"
    page = client.get("/keys/")
    mine = ApiKey.objects.get(owner=user, name="laptop")
    html = page.content.decode()
    raw_key = html.split('id="new-key">')[1].split("<")[0]
    assert hashlib.sha256(raw_key.encode()).hexdigest() == mine.key_hash
    assert "bob's" not in html and others not in html
    # Another person's key cannot be revoked from here.
    bobs = ApiKey.objects.get(owner=other_user)
    assert client.post(f"/keys/{bobs.pk}/revoke").status_code == 404
    assert client.get(f"/keys/{bobs.pk}/revoke").status_code == 404
    # Revoke asks first: the GET names the key and changes nothing.
    asking = client.get(f"/keys/{mine.pk}/revoke").content.decode()
    assert mine.prefix in asking and "cannot be undone" in asking
    mine.refresh_from_db()
    assert mine.revoked_at is None
    assert client.post(f"/keys/{mine.pk}/revoke").status_code == 302
    mine.refresh_from_db()
    bobs.refresh_from_db()
    assert mine.revoked_at is not None and bobs.revoked_at is None
    # The raw key is never shown again.
    assert raw_key not in client.get("/keys/").content.decode()


@pytest.mark.django_db
def test_reloading_after_making_a_key_makes_no_second_one(client, user):
    client.force_login(user)
    page = client.post("/keys/", {"name": "laptop"}, follow=True)
    assert page.redirect_chain == [("/keys/", 302)]
    assert 'id="new-key"' in page.content.decode()
    assert ">Copy</button>" in page.content.decode()
    reloaded = client.get("/keys/")  # what the browser's reload sends after the redirect
    assert 'id="new-key"' not in reloaded.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 1
