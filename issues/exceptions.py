"""What the service layer raises; views answer with a message, the API with a status code.

- django.core.exceptions.ValidationError (field errors): form errors / HTTP 400
- IssueActionForbidden: the user may not do this to this issue: HTTP 403
- TransitionNotAllowedNow: not from the issue's current state (or a guard failed): HTTP 409
- IssueChangedConcurrently: someone else changed the issue first; nothing was saved: HTTP 409
"""


class IssueServiceError(Exception):
    default_message = "This action could not be completed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class IssueActionForbidden(IssueServiceError):
    default_message = "You cannot do that to this issue."


class TransitionNotAllowedNow(IssueServiceError):
    default_message = "That step is not possible at this stage of the issue."


class IssueChangedConcurrently(IssueServiceError):
    default_message = "This issue was changed by someone else. Check the latest details and try again."
