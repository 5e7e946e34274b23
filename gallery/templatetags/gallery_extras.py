from django import template

from gallery.endpoint import model_label as _model_label

register = template.Library()


@register.filter
def model_label(model_id: str) -> str:
    """A model's name as a person should read it: the built-in one says it is procedural."""
    return _model_label(model_id)
