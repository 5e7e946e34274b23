"""The generation form: its choices and its rules come from novisurf.protocol."""

from __future__ import annotations

from django import forms

from novisurf import protocol

from .endpoint import model_choices


def split_tags(text: str) -> list[str]:
    """Tags separated by commas only, so that "fog lights" is one tag; duplicates dropped."""
    names: dict[str, str] = {}
    for part in text.split(","):
        name = " ".join(part.split())[:100]
        if name:
            names.setdefault(name.lower(), name)
    return list(names.values())


class GenerationForm(forms.Form):
    prompt = forms.CharField(
        label="Prompt",
        max_length=protocol.MAX_PROMPT_CHARS,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "A lighthouse on a cliff at dawn, soft pastel light",
                "autofocus": True,
            }
        ),
    )
    model = forms.ChoiceField(label="Model")
    n = forms.IntegerField(
        label="Number of images", min_value=protocol.MIN_N, max_value=protocol.MAX_N, initial=1
    )
    size = forms.ChoiceField(
        label="Size", choices=[(s, s) for s in protocol.ALL_SIZES], initial="1024x1024"
    )
    response_format = forms.ChoiceField(
        label="Response format",
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = model_choices()
        self.fields["model"].choices = choices
        self.fields["model"].initial = (
            protocol.DEFAULT_MODEL if protocol.DEFAULT_MODEL in dict(choices) else choices[0][0]
        )
        # The size list each model allows, for the page's script to narrow the Size menu.
        self.sizes_by_model = {
            model_id: list(protocol.sizes_for(model_id)) for model_id, _ in choices
        }

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if not prompt.strip():
            raise forms.ValidationError("Write what the image should show.")
        return prompt.strip()

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data.get("tags", ""))[:20]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            protocol.validate_generation(
                {
                    "prompt": data["prompt"],
                    "model": data["model"],
                    "n": data["n"],
                    "size": data["size"],
                    "response_format": data["response_format"],
                },
                serves=lambda model: True,
            )
        except protocol.ProtocolError as error:
            field = error.param if error.param in self.fields else None
            self.add_error(field, error.message)
        return data


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
