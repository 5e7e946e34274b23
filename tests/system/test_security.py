"""Closed to abuse: login throttling, CSP, deploy settings, keys that stay secret and safe."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from api.models import ApiKey
from api.services import apikey_authenticate, apikey_create, apikey_revoke
from gallery import services
from gallery.models import Generation, Tag

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"


@pytest.mark.django_db
@pytest.mark.parametrize("url", [LOGIN, "/admin/login/"])
def test_twenty_wrong_passwords_lock_the_account_with_a_clear_message(client, user, url):
    for _ in range(20):
        response = client.post(url, {"username": "alice", "password": "wrong"})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "Try again in 15 minutes" in page

    # Even the right password is refused while the lock holds.
    right = client.post(url, {"username": "alice", "password": "alice-password-123"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_another_address_is_locked_out_of_the_same_account(client, user):
    for _ in range(6):
        client.post(LOGIN, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    other = client.post(
        LOGIN, {"username": "alice", "password": "alice-password-123"}, REMOTE_ADDR="10.0.0.2"
    )
    assert other.status_code == 429


@pytest.mark.django_db
def test_a_few_mistakes_then_the_right_password_logs_in(client, user):
    for _ in range(3):
        client.post(LOGIN, {"username": "alice", "password": "wrong"})
    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-123"})
    assert response.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("url", [LOGIN, "/", "/keys/", "/v1/models"])
def test_every_page_carries_a_content_security_policy_without_inline_script(client, user, url):
    if url != LOGIN:
        client.force_login(user)
    response = client.get(url)
    policy = response["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_no_template_has_inline_script_or_event_handlers():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "application/json" not in tag:
                offenders.append(f"{path.name}: {tag}")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", text):
            offenders.append(f"{path.name}: inline event handler")
    assert offenders == []


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "q7#Lm2$vR9!kP4&zW8^nB3*dF6-aY5@tG1%hJ0(sE2)uC7+wX4=oI9~pK3",
        "ALLOWED_HOSTS": "images.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_PROXY_SSL": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_the_page_that_shows_a_new_key_is_not_cached_and_sets_no_cookie_with_it(client, user):
    client.force_login(user)
    response = client.post("/keys/", {"name": "laptop"}, follow=True)
    page = response.content.decode()
    [raw_key] = re.findall(r"dkai_[A-Za-z0-9_-]{20,}", page)
    assert "no-store" in response["Cache-Control"]
    for morsel in response.cookies.values():
        assert raw_key not in morsel.value
    assert raw_key not in str(client.session.items())


@pytest.mark.django_db
def test_a_person_may_hold_only_so_many_keys(client, user, settings):
    settings.NOVISURF_MAX_KEYS_PER_USER = 2
    client.force_login(user)
    client.post("/keys/", {"name": "one"})
    client.post("/keys/", {"name": "two"})
    third = client.post("/keys/", {"name": "three"})
    assert "the most one person may have" in third.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 2


@pytest.mark.django_db
def test_urls_issued_under_a_key_stop_working_when_it_is_revoked(client, user, api_key):
    answer = client.post(
        "/v1/images/generations",
        {"prompt": "a fox", "size": "256x256", "response_format": "url"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    ).json()
    url = answer["data"][0]["url"]
    path = url.split("testserver", 1)[1]
    assert client.get(path).status_code == 200
    apikey_revoke(api_key=apikey_authenticate(raw_key=api_key))
    gone = client.get(path)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_tags_are_per_owner_and_reveal_nothing(user, other_user, client):
    settings_free = Generation.objects.create(
        owner=user, prompt="p", model="dall-e-2", n=1, size="256x256", response_format="url"
    )
    from tests.utils import png_bytes

    mine = services.image_store(generation=settings_free, index=0, data=png_bytes())
    services.image_tag_add(image=mine, names=["Secret Project"])
    theirs_generation = Generation.objects.create(
        owner=other_user, prompt="q", model="dall-e-2", n=1, size="256x256", response_format="url"
    )
    theirs = services.image_store(generation=theirs_generation, index=0, data=png_bytes())
    services.image_tag_add(image=theirs, names=["secret project"])

    # Bob's tag keeps Bob's spelling: nothing of Alice's leaks through case-folding.
    assert [t.name for t in theirs.tags.all()] == ["secret project"]
    assert Tag.objects.filter(owner=user).count() == 1
    assert Tag.objects.filter(owner=other_user).count() == 1
    client.force_login(other_user)
    page = client.get("/").content.decode()
    assert "Secret Project" not in page
    assert client.get("/?tag=Secret+Project").content.decode().count("<img") <= 2


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["a/b", "..", "../x", "100%", "%2F", "?x=1"])
def test_odd_tags_can_be_added_shown_and_removed(client, user, name):
    from urllib.parse import quote

    from tests.utils import png_bytes

    generation = Generation.objects.create(
        owner=user, prompt="p", model="dall-e-2", n=1, size="256x256", response_format="url"
    )
    image = services.image_store(generation=generation, index=0, data=png_bytes())
    client.force_login(user)
    client.post(f"/images/{image.pk}/tags", {"tag": name})
    assert [t.name for t in image.tags.all()] == [name]
    page = client.get(f"/images/{image.pk}/")
    assert page.status_code == 200
    filtered = client.get("/", {"tag": name})
    assert filtered.status_code == 200
    removed = client.post(f"/images/{image.pk}/tags/{quote(name, safe='')}/remove")
    assert removed.status_code == 302
    assert list(image.tags.all()) == []


# -- the gallery's own key -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_gallerys_own_key_is_not_listed_or_revocable_by_a_person(client, user):
    service_key, _ = apikey_create(owner=user, name="Gallery", is_service=True)
    personal, _ = apikey_create(owner=user, name="mine")
    client.force_login(user)
    page = client.get("/keys/").content.decode()
    assert personal.prefix in page
    assert service_key.prefix not in page
    assert client.post(f"/keys/{service_key.pk}/revoke").status_code == 404
    service_key.refresh_from_db()
    assert service_key.revoked_at is None


@pytest.mark.django_db
def test_the_gallerys_key_is_not_throttled_like_an_outside_client(client, user, settings):
    settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 2
    _, service_raw = apikey_create(owner=user, is_service=True)
    _, personal_raw = apikey_create(owner=user)
    body = {"prompt": "a fox", "size": "256x256", "response_format": "b64_json"}

    def post(key):
        return client.post(
            "/v1/images/generations",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        ).status_code

    assert [post(personal_raw) for _ in range(3)] == [200, 200, 429]
    assert [post(service_raw) for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db
def test_make_run_repairs_a_revoked_gallery_key(user, settings, tmp_path, monkeypatch):
    user.is_superuser = True
    user.save()
    monkeypatch.delenv("NOVISURF_API_BASE", raising=False)
    key, raw = apikey_create(owner=user, is_service=True)
    apikey_revoke(api_key=key)
    settings.NOVISURF_API_KEY = raw
    env_file = tmp_path / ".env"
    env_file.write_text(f"NOVISURF_API_KEY={raw}\n")
    call_command("bootstrap_local", env_file=str(env_file), stdout=io.StringIO())
    [line] = [x for x in env_file.read_text().splitlines() if x.startswith("NOVISURF_API_KEY=")]
    new_raw = line.split("=", 1)[1]
    assert new_raw != raw
    new_key = apikey_authenticate(raw_key=new_raw)
    assert new_key is not None and new_key.is_service


@pytest.mark.django_db
def test_a_refused_gallery_key_says_what_to_do(settings, httpserver, user):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "dkai_revoked"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    httpserver.expect_request("/v1/images/generations").respond_with_json(
        {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}},
        status=401,
    )
    generation = services.generation_create(
        owner=user,
        prompt="p",
        model="dall-e-2",
        n=1,
        size="256x256",
        response_format="url",
        tags=[],
    )
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED
    assert "Incorrect API key provided" in generation.error
    assert "run `make run` again" in generation.error


@pytest.mark.django_db
def test_interleaved_good_logins_do_not_reset_another_accounts_failures(client, user, other_user):
    # Four guesses at alice, one good login to bob from the same address, repeated: the good
    # logins forget only bob's failures, so alice is locked at her fifth wrong password.
    statuses = []
    for _ in range(3):
        for _ in range(4):
            statuses.append(client.post(LOGIN, {"username": "alice", "password": "guess"}))
        client.post(LOGIN, {"username": "bob", "password": "bob-password-123"})
        client.logout()
    assert [r.status_code for r in statuses[:5]] == [200, 200, 200, 200, 429]
    right = client.post(LOGIN, {"username": "alice", "password": "alice-password-123"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_good_login_forgets_that_accounts_own_failures(client, user):
    for _ in range(3):
        client.post(LOGIN, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    client.post(
        LOGIN, {"username": "alice", "password": "alice-password-123"}, REMOTE_ADDR="10.0.0.9"
    )
    client.logout()
    for _ in range(4):
        response = client.post(
            LOGIN, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.9"
        )
    assert response.status_code == 200  # 4 since the success, not 7


@pytest.mark.django_db
def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(client, user, settings):
    # Without trusted proxies, a made-up header from loopback does not move the lockout.
    for number in range(6):
        response = client.post(
            LOGIN,
            {"username": f"nobody{number}", "password": "wrong"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{number}",
        )
    assert response.status_code == 429


@pytest.mark.django_db
def test_a_trusted_proxy_names_the_client(client, user, settings):
    settings.NOVISURF_TRUSTED_PROXIES = ["10.9.0.0/16"]
    for _ in range(5):
        client.post(
            LOGIN,
            {"username": "mallory", "password": "wrong"},
            REMOTE_ADDR="10.9.0.2",
            HTTP_X_FORWARDED_FOR="spoofed, 198.51.100.7",
        )
    # Another client behind the same proxy is not locked out by mallory's address.
    response = client.post(
        LOGIN,
        {"username": "alice", "password": "alice-password-123"},
        REMOTE_ADDR="10.9.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.8",
    )
    assert response.status_code == 302
