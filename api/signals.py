"""Keys found and kept per process are forgotten whenever a key or its owner changes.

A signal rather than a call in each service: the admin edits keys and people directly (revokes a
key, deactivates a person), and that must close the door at once as ``apikey_revoke`` does.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import ApiKey
from .services import apikeys_changed


@receiver(post_save, sender=ApiKey, dispatch_uid="api.apikey_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="api.apikey_deleted")
def _apikey_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("created") or kwargs.get("update_fields") == frozenset({"last_used_at"}):
        return  # a new key was never found; a use changes nothing a lookup decides
    apikeys_changed()


@receiver(post_save, sender=get_user_model(), dispatch_uid="api.owner_saved")
@receiver(post_delete, sender=get_user_model(), dispatch_uid="api.owner_deleted")
def _owner_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("created") or kwargs.get("update_fields") == frozenset({"last_login"}):
        return  # a login is not a change to what a key may do
    apikeys_changed()
