"""The ESP webhooks we support and test, at anymail's usual paths under /webhooks/anymail/.

smartcard_route/urls.py includes these before anymail's own URLs, so Amazon SES and Postmark get the
views of issues.webhooks (400 on malformed payloads, large posts allowed); other ESPs fall through
to anymail's views unchanged.
"""

from django.urls import path

from issues import webhooks

app_name = "mail_webhooks"

urlpatterns = [
    path("amazon_ses/inbound/", webhooks.AmazonSESInboundView.as_view(), name="amazon_ses_inbound"),
    path("amazon_ses/tracking/", webhooks.AmazonSESTrackingView.as_view(), name="amazon_ses_tracking"),
    path("postmark/inbound/", webhooks.PostmarkInboundView.as_view(), name="postmark_inbound"),
    path("postmark/tracking/", webhooks.PostmarkTrackingView.as_view(), name="postmark_tracking"),
]
