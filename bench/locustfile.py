"""The users' real mix, for locust (not a test; bench/load.py runs it, see its docstring).

    .venv/bin/python bench/load.py            # seeds the people, starts gunicorn, runs this, reports

Every request goes to the gunicorn that bench/load.py started, as through the TLS proxy of
production (X-Forwarded-Proto: https, the production settings trusting it), signed in with a
session bench/load.py wrote for a person of the data set (bench/dataset.py's fixed ids). The
plan (people, their sessions, their issues, the webhook's secret and the inbound addresses) is
the JSON file BENCH_LOAD_PLAN names. Each request carries its page's name in X-Bench-Page, which
gunicorn's access log records with the time it spent on the request (bench/load.py reads it).

Who does what (the weights are the people's numbers in the 50, and each one's tasks):
- pharmacy staff (most of them): read their open issues, an issue's page, report a problem
  (the question pages, the check page, the confirmation) and add a note to one of their issues;
- owners (chains and small ones): the list of their pharmacies' issues, all states, an issue,
  the API list, the CSV export;
- LPC officers: the LPC dashboard, their list, an issue, the figures, the CSV export;
- CPE IT: the CPE IT dashboard, the national list, an issue, the figures, unmatched mail, cases,
  the CSV export;
- the ESP (apart from the 50): Postmark's inbound webhook, real payloads (an RA's reply to an
  issue's address) with the webhook secret;
- the bare view (apart from the 50): /bench/bare/, the floor.
A request that answers anything but what its page should (200, or the redirect of a form that
worked) counts as an error. A CSV export counts as a page until its first issue's line arrives
(what a person waits for before the file streams in), and again, apart, to its last byte
("..., whole file").
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust import FastHttpUser, between, constant, constant_throughput, task

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.mail.payloads import Mail, postmark_inbound  # noqa: E402 (the real payload format, as the tests post it)

PLAN: dict[str, Any] = json.loads(Path(os.environ["BENCH_LOAD_PLAN"]).read_text())
THINK = [float(part) for part in os.environ.get("BENCH_THINK_SECONDS", "1-3").split("-")]
WEBHOOK_RATE = float(os.environ.get("BENCH_WEBHOOK_RATE", "0"))  # posts a second per ESP user; 0: as fast as it can
# Pages left out (names, comma-separated): to see the rest without the slowest.
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))  # user classes to run (the webhook phase)

_people = {role: itertools.cycle(PLAN[role]) for role in ("staff", "owners", "officers", "cpe_it")}
_webhook_targets = itertools.cycle(PLAN["webhook_targets"])


def _why(response: Any) -> str:
    """What went wrong when there was no response at all (status 0: the connection failed)."""
    error = getattr(response, "error", None)
    return f": {type(error).__name__}: {error}" if response.status_code == 0 and error is not None else ""


class Person(FastHttpUser):
    """A signed-in person: their session and CSRF cookies on every request, as the proxy forwards them."""

    abstract = True
    role = ""
    wait_time = between(*THINK)

    def on_start(self) -> None:
        self.person: dict[str, Any] = next(_people[self.role])
        self.cookie = f"sessionid={self.person['session']}; csrftoken={PLAN['csrf']}"

    def headers(self, page: str, **extra: str) -> dict[str, str]:
        return {"Cookie": self.cookie, "X-Forwarded-Proto": "https", "X-Bench-Page": page, **extra}

    def page(self, name: str, path: str, *, expect: int = 200, contains: str | None = None) -> None:
        if name in SKIP:
            return
        with self.client.get(
            path, name=name, headers=self.headers(name), allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != expect:
                response.failure(f"{response.status_code} from {path}{_why(response)}")
            elif contains and contains not in (response.text or ""):
                response.failure(f"{contains!r} not in {path}")

    def download(self, name: str, path: str) -> None:
        """A CSV export, streamed: what the person waits for is its first issue's line (after it the
        file arrives as fast as it is written), reported as the page `name`; the whole file is
        reported beside it as "`name`, whole file" (the page targets are for the first)."""
        if name in SKIP:
            return
        started = time.perf_counter()
        with self.client.get(path, name=name, headers=self.headers(name), stream=True, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} from {path}")
                return
            # Read in small pieces until the first issue's line is in: a read waits until it has as
            # many bytes as it asks for, so a read of 64 KB timed, for a national export, the
            # second chunk of rows (2,000 of them) as well, not the first line (the headings and the
            # first 100 rows are 21 KB). Then in large pieces to the end.
            lines, size, first_line = 0, 0, None
            for chunk in response.iter_content(1024, decode_content=False):
                size += len(chunk)
                lines += chunk.count(b"\n")
                if lines >= 2:  # the headings' line and the first issue's
                    first_line = (time.perf_counter() - started) * 1000
                    break
            for chunk in response.iter_content(64 * 1024, decode_content=False):
                size += len(chunk)
            whole = (time.perf_counter() - started) * 1000
            response.request_meta["response_time"] = whole if first_line is None else first_line
            response.request_meta["response_length"] = size
        self.environment.events.request.fire(
            request_type="GET",
            name=f"{name}, whole file",
            response_time=whole,
            response_length=size,
            response=None,
            context={},
            exception=None,
            start_time=time.time() - whole / 1000,
            url=path,
        )

    def form(self, name: str, path: str, data: dict[str, str], *, redirect_to: str = "") -> str:
        """POST a form as the browser does (CSRF token and Referer); a form that worked redirects."""
        headers = self.headers(
            name,
            Referer=f"https://{PLAN['host']}{path}",
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        with self.client.post(
            path,
            name=name,
            data={"csrfmiddlewaretoken": PLAN["csrf"], **data},
            headers=headers,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            location = response.headers.get("Location", "") if response.headers else ""
            if response.status_code != 302 or redirect_to not in location:
                response.failure(f"{response.status_code} from POST {path} (to {location!r}){_why(response)}")
                return ""
            return location

    def issue(self) -> str:
        return random.choice(self.person["issues"])


class PharmacyStaff(Person):
    role = "staff"
    weight = 30

    @task(6)
    def issue_list(self) -> None:
        self.page("staff: issue list", "/issues/")

    @task(6)
    def issue_page(self) -> None:
        self.page("staff: issue page", f"/issues/{self.issue()}/")

    @task(1)
    def add_note(self) -> None:
        reference = self.issue()
        self.form(
            "staff: add a note",
            f"/issues/{reference}/actions/note/",
            {"note-text": "Called the RA desk again: they will call back this afternoon."},
            redirect_to=f"/issues/{reference}/",
        )

    @task(2)
    def report(self) -> None:
        """The report journey, page by page, as a person walks it."""
        self.page("staff: report, start", "/issues/report/", expect=302)
        self.page("staff: report, kind page", "/issues/report/kind/")
        if not self.form("staff: report, kind", "/issues/report/kind/", {"kind": "locked"}, redirect_to="tried"):
            return
        tried = {"tried_in_pharmacy": "Restarted the Identity Agent and tried another reader."}
        if not self.form("staff: report, tried", "/issues/report/tried/", tried, redirect_to="details"):
            return
        details = {
            "summary": "Card locked after three wrong passcodes",
            "details": "The pharmacist cannot sign in to the Spine this morning.",
            "smartcard_number": f"{random.randrange(10**11, 10**12)}",
            "contact_name": "Sam Patel",
            "contact_phone": "0113 496 0002",
            "is_emergency": "no",
        }
        if not self.form("staff: report, details", "/issues/report/details/", details, redirect_to="check"):
            return
        self.page("staff: report, check page", "/issues/report/check/")
        done = self.form("staff: report, send", "/issues/report/check/", {}, redirect_to="/reported/")
        if done:
            self.page("staff: report, confirmation", urlsplit(done).path)


class Owner(Person):
    role = "owners"
    weight = 5

    @task(4)
    def issue_list(self) -> None:
        self.page("owner: issue list", "/issues/")

    @task(2)
    def all_states(self) -> None:
        self.page("owner: issue list, all states", "/issues/?state=all")

    @task(4)
    def issue_page(self) -> None:
        self.page("owner: issue page", f"/issues/{self.issue()}/")

    @task(2)
    def api_list(self) -> None:
        self.page("owner: API list", "/api/v1/issues/")

    @task(1)
    def export(self) -> None:
        self.download("owner: CSV export", "/issues/export.csv")


class LpcOfficer(Person):
    role = "officers"
    weight = 10

    @task(4)
    def dashboard(self) -> None:
        self.page("lpc: LPC dashboard", "/dashboard/lpc/")

    @task(4)
    def issue_list(self) -> None:
        self.page("lpc: issue list", "/issues/")

    @task(4)
    def issue_page(self) -> None:
        self.page("lpc: issue page", f"/issues/{self.issue()}/")

    @task(1)
    def figures(self) -> None:
        self.page("lpc: figures", "/dashboard/figures/")

    @task(1)
    def export(self) -> None:
        self.download("lpc: CSV export", "/issues/export.csv")


class CpeIt(Person):
    role = "cpe_it"
    weight = 5

    @task(4)
    def dashboard(self) -> None:
        self.page("cpe_it: CPE IT dashboard", "/dashboard/cpe-it/")

    @task(4)
    def issue_list(self) -> None:
        self.page("cpe_it: issue list", "/issues/")

    @task(4)
    def issue_page(self) -> None:
        self.page("cpe_it: issue page", f"/issues/{self.issue()}/")

    @task(1)
    def unmatched_mail(self) -> None:
        self.page("cpe_it: unmatched mail", "/issues/unmatched-mail/")

    @task(1)
    def cases(self) -> None:
        self.page("cpe_it: cases", "/cases/")

    @task(1)
    def figures(self) -> None:
        self.page("cpe_it: figures", "/dashboard/figures/")

    @task(1)
    def export(self) -> None:
        self.download("cpe_it: CSV export", "/issues/export.csv")


class Esp(FastHttpUser):
    """Postmark posting inbound mail: an RA's reply to an issue's own address, the real payload."""

    fixed_count = int(os.environ.get("BENCH_WEBHOOK_USERS", "2"))
    wait_time = constant_throughput(WEBHOOK_RATE) if WEBHOOK_RATE else constant(0)

    def on_start(self) -> None:
        token = base64.b64encode(PLAN["webhook_secret"].encode()).decode()
        self.auth = f"Basic {token}"

    @task
    def inbound(self) -> None:
        target = next(_webhook_targets)
        mail = Mail(
            from_email=target["ra_email"],
            from_name="Registration Authority Team",
            to=[target["address"]],
            subject=f"RE: [{target['reference']}] Smartcard help",
            text=f"Hello,\n\nWe have unlocked the card ({uuid.uuid4().hex[:8]}). Please try again.\n\nRA Team\n",
        )
        name = "esp: Postmark inbound webhook"
        headers = {
            "Authorization": self.auth,
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
            "X-Bench-Page": name,
        }
        with self.client.post(
            "/webhooks/anymail/postmark/inbound/",
            name=name,
            data=json.dumps(postmark_inbound(mail)),
            headers=headers,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} from the inbound webhook")


class Bare(FastHttpUser):
    """The floor: a bare Django view on the same server, in the same run."""

    fixed_count = int(os.environ.get("BENCH_BARE_USERS", "1"))
    wait_time = constant(float(os.environ.get("BENCH_BARE_WAIT", "0.5")))

    @task
    def bare(self) -> None:
        name = "bare view"
        headers = {"X-Forwarded-Proto": "https", "X-Bench-Page": name}
        with self.client.get("/bench/bare/", name=name, headers=headers, catch_response=True) as response:
            if response.status_code != 200 or response.text != "ok":
                response.failure(f"{response.status_code} from the bare view")


# The webhook phase runs only some classes (BENCH_ONLY=Esp,Bare): the others are made abstract.
# (locust collects every User class of the module's namespace, so no loop variable is left in it.)
for _name in {"PharmacyStaff", "Owner", "LpcOfficer", "CpeIt", "Esp", "Bare"} - ONLY if ONLY else ():
    globals()[_name].abstract = True
