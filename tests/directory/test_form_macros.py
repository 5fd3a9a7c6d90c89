"""templates/_forms.jinja and _error_summary.jinja: Django form fields drawn with NHS.UK components."""

from __future__ import annotations

import re

from django import forms
from django.template import engines


class ExampleForm(forms.Form):
    email = forms.EmailField(label="Email address", help_text="We reply to this address")
    details = forms.CharField(label="Details", widget=forms.Textarea)
    kind = forms.ChoiceField(
        label="Kind of problem", choices=[("", "Choose"), ("locked", "Locked card"), ("lost", "Lost card")]
    )
    body = forms.ChoiceField(label="Body", choices=[("icb", "ICB"), ("csu", "CSU")], required=False)
    urgent = forms.BooleanField(label="This is an emergency", required=False)
    steps = forms.MultipleChoiceField(
        label="Steps tried", choices=[("restart", "Restarted"), ("reader", "Other reader")], required=False
    )

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("urgent") and not cleaned.get("details"):
            raise forms.ValidationError("Say why it is an emergency")
        return cleaned


def render(form: forms.Form) -> str:
    template = engines["jinja2"].from_string(
        '{% from "_forms.jinja" import input_field, textarea_field, radios_field, select_field %}'
        '{% from "_forms.jinja" import checkbox_field, checkboxes_field %}'
        '{% include "_error_summary.jinja" %}'
        '{{ input_field(form["email"], type="email") }}{{ textarea_field(form["details"]) }}'
        '{{ radios_field(form["kind"]) }}{{ select_field(form["body"]) }}'
        '{{ checkbox_field(form["urgent"]) }}{{ checkboxes_field(form["steps"]) }}'
    )
    return template.render({"form": form})


def test_it_draws_each_field_with_its_label_hint_and_value():
    html = render(ExampleForm(initial={"email": "a@b.example", "kind": "lost", "body": "csu", "steps": ["reader"]}))

    assert "nhsuk-error-summary" not in html
    assert re.search(r'<label\s+class="nhsuk-label"\s+for="id_email"', html)
    assert 'id="id_email-hint"' in html and "We reply to this address" in html
    assert re.search(r'id="id_email" name="email" type="email" value="a@b.example"', html)
    assert '<textarea class="nhsuk-textarea" id="id_details" name="details"' in html
    assert re.search(r'id="id_kind-2" name="kind" type="radio" value="lost"\s+checked', html)
    assert 'value=""' not in html.split('name="kind"', 1)[1].split("</fieldset>", 1)[0]  # no blank radio
    assert re.search(r'<option value="csu"\s+selected', html)
    assert 'id="id_urgent" name="urgent" type="checkbox" value="on"' in html
    assert re.search(r'id="id_steps-2" name="steps" type="checkbox" value="reader"\s+checked', html)


def test_it_summarises_every_error_and_links_each_to_its_field():
    form = ExampleForm(data={"email": "not-an-email", "details": "", "kind": "", "urgent": "on"})
    form.is_valid()

    html = render(form)

    summary = html.split('class="nhsuk-error-summary"', 1)[1].split("</ul>", 1)[0]
    links = re.findall(r'<a href="#(\w+)"\s*>\s*([^<]+?)\s*</a>', summary)
    assert links == [
        ("id_email", "Say why it is an emergency"),  # a form-wide error links to the first field
        ("id_email", "Enter a valid email address."),
        ("id_details", "This field is required."),
        ("id_kind", "This field is required."),
    ]
    assert 'id="id_kind"' in html  # the first radio carries the id the summary links to
    assert html.count("nhsuk-form-group--error") == 3
    assert 'aria-describedby="id_email-hint id_email-error"' in html
