"""templates/_forms.jinja: Django form fields drawn with NHS.UK components."""

from __future__ import annotations

import re

from django import forms
from django.template import engines

from issues.forms import NhsukForm


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
        '{% from "_forms.jinja" import checkbox_field, checkboxes_field, error_summary %}'
        "{{ error_summary(form) }}"
        '{{ input_field(form["email"], type="email") }}{{ textarea_field(form["details"]) }}'
        '{{ radios_field(form["kind"]) }}{{ select_field(form["body"]) }}'
        '{{ checkbox_field(form["urgent"]) }}{{ checkboxes_field(form["steps"]) }}'
    )
    return template.render({"form": form})


def test_it_draws_each_field_with_its_label_hint_and_value():
    html = render(ExampleForm(initial={"email": "a@b.example", "kind": "lost", "body": "csu", "steps": ["reader"]}))

    assert "nhsuk-error-summary" not in html
    # Labels are size "s" unless asked otherwise.
    assert re.search(r'<label\s+class="nhsuk-label nhsuk-label--s"\s+for="id_email"', html)
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


def draw(source: str, **context: object) -> str:
    """The macros' HTML with each run of white space as one space."""
    template = engines["jinja2"].from_string('{% from "_forms.jinja" import ' + IMPORTS + " %}" + source)
    return " ".join(template.render(context).split())


IMPORTS = "error_summary, input_field, password_field, textarea_field, radios_field, checkbox_field, auto_field"


class LogInForm(forms.Form):
    username = forms.EmailField(label="Email address")
    password = forms.CharField(label="Password", widget=forms.PasswordInput)

    def clean(self):
        raise forms.ValidationError("Enter the email address and password of your account")


def test_it_draws_a_password_with_the_show_button_and_never_its_value():
    form = LogInForm(data={"username": "a@b.example", "password": "secret-typed"})
    form.is_valid()

    html = draw(
        '{{ input_field(form["username"], type="email", with_form_errors=true) }}'
        '{{ password_field(form["password"], autocomplete="new-password") }}',
        form=form,
    )

    assert 'id="id_password" name="password" type="password"' in html
    assert 'autocomplete="new-password"' in html
    assert "nhsuk-js-password-input-toggle" in html  # NHS.UK's "Show" button
    assert "secret-typed" not in html
    # The form-wide error is shown inline on the field asked for, and only there.
    assert 'id="id_username-error" > <span class="nhsuk-u-visually-hidden">Error: </span>Enter the' in html
    assert "id_password-error" not in html


class ExampleIssueForm(NhsukForm):
    note = forms.CharField(label="Note", widget=forms.Textarea)
    step = forms.ChoiceField(label="Step", choices=[("ra", "The RA"), ("lpc", "The LPC")])
    urgent = forms.BooleanField(label="Urgent", required=False)
    name = forms.CharField(label="Name")


def test_it_draws_any_field_by_its_widget_with_the_forms_own_ids():
    form = ExampleIssueForm(prefix="resolve", data={"resolve-step": "lpc", "resolve-urgent": "on"})
    form.is_valid()

    html = draw("{{ error_summary(form) }}{% for field in form %}{{ auto_field(field) }}{% endfor %}", form=form)

    assert 'class="nhsuk-textarea nhsuk-textarea--error" id="resolve-note" name="resolve-note" rows="3"' in html
    assert 'id="resolve-step-2" name="resolve-step" type="radio" value="lpc" checked' in html
    assert 'id="resolve-urgent" name="resolve-urgent" type="checkbox" value="on" checked' in html
    assert 'id="resolve-name" name="resolve-name" type="text"' in html
    summary = html.split('class="nhsuk-error-summary"', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r'<a href="#([\w-]+)"', summary) == ["resolve-note", "resolve-name"]


def test_it_checks_the_radio_of_the_fields_value_among_items_given():
    form = ExampleIssueForm(initial={"step": "ra"})
    items = [
        {"value": "ra", "text": "The RA", "hint": {"text": "Your Registration Authority"}},
        {"value": "lpc", "text": "The LPC"},
    ]

    html = draw(
        '{{ radios_field(form["step"], "Who fixed it?", items=items, page_heading=true, caption="Resolve") }}',
        form=form,
        items=items,
    )

    assert 'id="step" name="step" type="radio" value="ra" checked' in html
    assert 'value="lpc" checked' not in html
    assert "Your Registration Authority" in html
    assert 'class="nhsuk-fieldset__legend nhsuk-fieldset__legend--l" > <h1 class="nhsuk-fieldset__heading" >' in html
    assert '<span class="nhsuk-caption-l" > Resolve </span> Who fixed it? </h1>' in html


def test_it_draws_a_plain_label_or_a_small_checkbox_when_asked():
    form = ExampleIssueForm()

    html = draw(
        '{{ input_field(form["name"], size="") }}{{ checkbox_field(form["urgent"], "Only urgent", small=true) }}',
        form=form,
    )

    assert '<label class="nhsuk-label" for="name"' in html
    assert "nhsuk-checkboxes--small" in html
    assert "Only urgent" in html
