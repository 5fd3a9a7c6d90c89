"""Forms for logging in and resetting a password, worded in the NHS.UK way.

The login form keeps Django's field names `username` and `password` (django-axes and the
browser tests read them); its username is the email address.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm

from directory.accounts.tasks import send_password_reset_email


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.CharField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        error_messages={"required": "Enter your email address"},
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Enter your password"},
    )

    error_messages = {
        "invalid_login": "Enter the email address and password of your Smartcard Route account",
        "inactive": "This account is closed. Ask the person who manages accounts for your team to reopen it",
    }

    def clean_username(self) -> str:
        # Accounts store their address in lower case; the lock-out counts by the same spelling.
        return str(self.cleaned_data["username"]).strip().lower()


class PasswordResetRequestForm(PasswordResetForm):
    """Asks for the address; the email itself is written and sent by a Celery task.

    The page answers the same, just as fast, whether or not an account has that address: the
    task, not the request, looks the account up, so neither the words nor the timing tell.
    """

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address in the correct format, like name@example.com",
        },
    )

    def save(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        send_password_reset_email.delay(self.cleaned_data["email"])


class NewPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    error_messages = {"password_mismatch": "The passwords do not match. Enter the same password twice"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "New password"
        self.fields["new_password1"].error_messages["required"] = "Enter a new password"
        self.fields["new_password2"].label = "Confirm new password"
        self.fields["new_password2"].error_messages["required"] = "Enter the new password again"
