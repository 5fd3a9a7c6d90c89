"""Correspondence about issues, over the mail layer (smartcard_route.mail), which knows no issue:
what issue mail says and its link rows (outbound), matching inbound mail to its issues (inbound),
delivery news and the bouncing RA (tracking), the LPC's addresses, the RA correspondence and the
forwards (forwards), and the mail layer's signals connected to them (hooks, from IssuesConfig.ready())."""
