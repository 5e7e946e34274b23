"""API keys found are kept per process, and any revocation is seen at once, in every process."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from api import services
from api.models import ApiKey
from api.services import apikey_authenticate, apikey_create, apikey_revoke

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_key_found_once_is_found_again_without_the_database(user, django_assert_num_queries):
    api_key, raw_key = apikey_create(owner=user, name="x")
    with django_assert_num_queries(2):  # the lookup, and last_used_at
        assert apikey_authenticate(raw_key=raw_key).pk == api_key.pk
    with django_assert_num_queries(0):
        found = apikey_authenticate(raw_key=raw_key)
    assert found.pk == api_key.pk and found.owner == user


def test_each_request_gets_its_own_copy(user):
    _, raw_key = apikey_create(owner=user, name="x")
    first = apikey_authenticate(raw_key=raw_key)
    first.name = "changed by one request"
    assert apikey_authenticate(raw_key=raw_key).name == "x"


def test_a_revocation_refuses_the_key_at_once(user):
    api_key, raw_key = apikey_create(owner=user, name="x")
    assert apikey_authenticate(raw_key=raw_key) is not None
    apikey_revoke(api_key=api_key)
    assert apikey_authenticate(raw_key=raw_key) is None


def test_a_revocation_in_the_admin_refuses_the_key_at_once(user):
    api_key, raw_key = apikey_create(owner=user, name="x")
    assert apikey_authenticate(raw_key=raw_key) is not None
    api_key.revoked_at = api_key.created_at
    api_key.save()  # what the admin's change form does
    assert apikey_authenticate(raw_key=raw_key) is None


def test_a_deactivated_owner_is_refused_at_once(user):
    _, raw_key = apikey_create(owner=user, name="x")
    assert apikey_authenticate(raw_key=raw_key) is not None
    user.is_active = False
    user.save()
    assert apikey_authenticate(raw_key=raw_key) is None


def test_a_revocation_in_another_process_is_seen_at_once(user):
    """Another process revokes: its own keys are forgotten there, and the version it changes
    in the shared cache tells this process to look again."""
    api_key, raw_key = apikey_create(owner=user, name="x")
    assert apikey_authenticate(raw_key=raw_key) is not None
    # The other process: the row changes in the database, and the shared version with it;
    # nothing in this process's memory is touched.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=api_key.created_at)
    assert apikey_authenticate(raw_key=raw_key) is not None  # (no one said anything yet)
    cache.set(services._KEY_VERSION, "changed elsewhere", timeout=None)
    assert apikey_authenticate(raw_key=raw_key) is None


def test_a_kept_key_is_looked_up_again_after_its_lifetime(user):
    api_key, raw_key = apikey_create(owner=user, name="x")
    assert apikey_authenticate(raw_key=raw_key) is not None
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=api_key.created_at)
    assert apikey_authenticate(raw_key=raw_key) is not None  # kept, and nobody said
    key_hash = services.hash_key(raw_key)
    kept, _, version = services._keys_found[key_hash]
    services._keys_found[key_hash] = (kept, 0.0, version)  # its lifetime is over
    assert apikey_authenticate(raw_key=raw_key) is None


def test_unknown_keys_are_not_kept(user):
    for number in range(5):
        assert apikey_authenticate(raw_key=f"dkai_unknown{number}") is None
    assert not any(
        found.key_hash == services.hash_key("dkai_unknown0")
        for found, _, _ in services._keys_found.values()
    )
