"""The generation form: its choices and its rules come from novisurf.protocol."""

from __future__ import annotations

import json

from django import forms
from django.forms.boundfield import BoundField

from novisurf import protocol

# Options a generation carries besides the form's own fields (quality, style, background, ...),
# kept when a person starts from an image's settings.
CORE_FIELDS = frozenset({"prompt", "model", "n", "size", "response_format", "stream"})
OPTION_FIELDS = protocol.KNOWN_FIELDS - CORE_FIELDS


def model_specs(model_ids) -> dict[str, dict]:
    """What each offered model accepts, for the page's script: sizes, largest n, whether it
    takes a response format. From novisurf.protocol, the one table."""
    specs = {}
    for model_id in model_ids:
        spec = protocol.MODELS.get(model_id)
        sizes = list(protocol.sizes_for(model_id))
        specs[model_id] = {
            "sizes": sizes,
            "default_size": spec.default_size if spec else sizes[0],
            "max_n": spec.max_n if spec else protocol.MAX_N,
            "response_format": protocol.accepts_response_format(model_id),
        }
    return specs


def split_tags(text: str) -> list[str]:
    """Tags separated by commas only, so that "fog lights" is one tag; duplicates dropped."""
    names: dict[str, str] = {}
    for part in text.split(","):
        name = " ".join(part.split())[:100]
        if name:
            names.setdefault(name.lower(), name)
    return list(names.values())


# Rendered widgets of unbound forms, keyed by everything a widget's HTML is made of (its class,
# name, id, value, attributes, choices, renderer): the same key always gives the same HTML, so
# nothing here can go stale. Rendering the select menus through the widget templates was a
# tenth of the home page's CPU. Bounded, as values (the last tags) vary with the person.
_WIDGET_HTML: dict[tuple, str] = {}
_WIDGET_HTML_LIMIT = 512


class _RememberedBoundField(BoundField):
    def as_widget(self, widget=None, attrs=None, only_initial=False):
        if widget is not None or attrs or only_initial or self.form.is_bound:
            return super().as_widget(widget, attrs, only_initial)
        widget = self.field.widget
        key = (
            type(widget),
            self.html_name,
            self.auto_id,
            repr(self.value()),
            repr(self.build_widget_attrs({}, widget)),
            repr(widget.attrs),
            repr(getattr(widget, "choices", None)),
            widget.is_required,
            self.field.localize,
            self.form.renderer,
        )
        html = _WIDGET_HTML.get(key)
        if html is None:
            html = super().as_widget()
            if len(_WIDGET_HTML) >= _WIDGET_HTML_LIMIT:
                _WIDGET_HTML.clear()
            _WIDGET_HTML[key] = html
        return html


class GenerationForm(forms.Form):
    bound_field_class = _RememberedBoundField

    prompt = forms.CharField(
        label="Prompt",
        max_length=protocol.MAX_PROMPT_CHARS,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "placeholder": "A lighthouse on a cliff at dawn, soft pastel light",
                "aria-keyshortcuts": "Control+Enter Meta+Enter",
            }
        ),
    )
    model = forms.ChoiceField(label="Model")
    n = forms.IntegerField(
        label="Number of images", min_value=protocol.MIN_N, max_value=protocol.MAX_N, initial=1
    )
    size = forms.ChoiceField(label="Size", initial="1024x1024")
    response_format = forms.ChoiceField(
        label="Response format",
        required=False,  # a model that takes none has the menu disabled, and sends nothing
        choices=[("url", "URL (downloaded at once)"), ("b64_json", "Base64 in the answer")],
        initial=protocol.DEFAULT_RESPONSE_FORMAT,
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        max_length=500,
        help_text="Separate with commas.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. landscape, blue"}),
    )
    # "Use these settings": the image it starts from, and that generation's other options.
    parent_image = forms.UUIDField(required=False, widget=forms.HiddenInput)
    options = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)

    def __init__(self, *args, model_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        ids = [model_id for model_id, _ in model_choices]
        self.fields["model"].choices = model_choices
        if self.initial.get("model") not in ids:
            # The last model may be gone (a provider removed): say so by showing the default,
            # never by sending it again unseen.
            self.initial.pop("model", None)
        if self.fields["model"].initial is None and "model" not in self.initial:
            self.initial["model"] = (
                protocol.DEFAULT_MODEL if protocol.DEFAULT_MODEL in ids else ids[0]
            )
        self.specs = model_specs(ids)
        sizes = dict.fromkeys(size for spec in self.specs.values() for size in spec["sizes"])
        self.fields["size"].choices = [(size, size_label(size)) for size in sizes]
        # Without the page's script, the server still offers only what the model takes.
        chosen = self.data.get("model") if self.is_bound else self.initial.get("model")
        spec = self.specs.get(chosen or "")
        if spec is not None:
            # Only the menu narrows: validation takes every size, so that a size the model does
            # not take is refused with the protocol's own words.
            self.fields["size"].widget.choices = [(s, size_label(s)) for s in spec["sizes"]]
            self.fields["n"].widget.attrs["max"] = spec["max_n"]
            if not spec["response_format"]:
                self.fields["response_format"].widget.attrs["disabled"] = True
                self.fields["response_format"].help_text = "This model always answers in Base64."

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if not prompt.strip():
            raise forms.ValidationError("Write what the image should show.")
        return prompt.strip()

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data.get("tags", ""))[:20]

    def clean_options(self) -> dict:
        text = self.cleaned_data.get("options") or ""
        if not text:
            return {}
        try:
            options = json.loads(text)
        except (ValueError, RecursionError):
            raise forms.ValidationError("The options are not valid JSON.") from None
        if not isinstance(options, dict):
            raise forms.ValidationError("The options must be a JSON object.")
        return {k: v for k, v in options.items() if k in OPTION_FIELDS and v is not None}

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        model = data["model"]
        if not protocol.accepts_response_format(model):
            data["response_format"] = "b64_json"
        data["response_format"] = data.get("response_format") or protocol.DEFAULT_RESPONSE_FORMAT
        try:
            protocol.validate_generation(
                {
                    "prompt": data["prompt"],
                    "model": model,
                    "n": data["n"],
                    "size": data["size"],
                    "response_format": data["response_format"],
                    **data.get("options", {}),
                },
                serves=lambda model: True,
            )
        except protocol.ProtocolError as error:
            field = error.param if error.param in self.fields else None
            self.add_error(field, error.message)
        return data


def size_label(size: str) -> str:
    """One way to write a size everywhere: ``1024 \N{MULTIPLICATION SIGN} 768``; ``auto`` says who
    decides."""
    return (
        "auto (model decides)" if size == "auto" else size.replace("x", " \N{MULTIPLICATION SIGN} ")
    )


class TagForm(forms.Form):
    tag = forms.CharField(label="Add tag", max_length=100)

    def clean_tag(self) -> list[str]:
        names = split_tags(self.cleaned_data["tag"])
        if not names:
            raise forms.ValidationError("Type a tag name.")
        return names


class EditForm(forms.Form):
    """An edit of one image: what to change, and optionally where (a mask painted on the page
    or uploaded). The model menu lists the models that edit; choices are passed in."""

    prompt = forms.CharField(
        label="What to change",
        max_length=protocol.MAX_PROMPT_CHARS,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. make the sky a deep violet with two moons"}
        ),
    )
    model = forms.ChoiceField(label="Model")
    mask = forms.FileField(
        label="Mask (optional)",
        required=False,
        help_text=(
            "A PNG the size of the image: its transparent pixels are what may change. "
            "Or paint over the image."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png"}),
    )

    def __init__(self, *args, model_choices: list[tuple[str, str]], initial_model: str, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(m, label) for m, label in model_choices if protocol.spec_for(m).edits]
        if initial_model not in dict(choices):
            choices.insert(
                0, (initial_model, protocol.spec_for(initial_model).title or initial_model)
            )
        self.fields["model"].choices = choices
        self.fields["model"].initial = initial_model

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"].strip()
        if not prompt:
            raise forms.ValidationError("Say what to change.")
        return prompt

    def clean_mask(self) -> bytes | None:
        upload = self.cleaned_data.get("mask")
        if not upload:
            return None
        from .services.edits import MAX_MASK_BYTES

        if upload.size > MAX_MASK_BYTES:
            raise forms.ValidationError("The mask is too large a file.")
        return upload.read()
