"""The issue pages, one module per page family: the start page (home), reporting a problem (report),
the issue page and its actions (detail), contacting the RA (contact_ra), the list and the dashboards
(lists), CPE IT's unmatched mail (unmatched_mail), and the reminder-emails settings (notifications).

Every read goes through issues.selectors (scoped to the user: 404 outside it), every write
through issues.services; a refused action or a lost race is shown as a message, never a 500.
"""
