"""Board users for the load drill: each logs in through the real login (password, then the code
its authenticator app shows), then works its state's pages with a few seconds between clicks.
DRILL_USERS (a JSON file written by load.py) and DRILL_HOSTS (one or more base URLs: with more
than one, every request goes to the next, as a load balancer without sticky sessions would)."""

import itertools
import json
import os
import random

from harness import log_in
from locust import HttpUser, between, task

USERS = json.loads(open(os.environ["DRILL_USERS"]).read())  # noqa: SIM115
HOSTS = os.environ["DRILL_HOSTS"].split(",")
OFFSET = int(os.environ.get("DRILL_USER_OFFSET", "0"))
_next_user = itertools.count()


class Board(HttpUser):
    host = HOSTS[0]
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        number = next(_next_user)
        # Each run takes its own accounts: a code is accepted once (allauth marks it used).
        self.me = USERS[(OFFSET + number) % len(USERS)]
        self.hosts = itertools.cycle(HOSTS[number % len(HOSTS) :] + HOSTS[: number % len(HOSTS)])
        # Each user comes from its own address, as behind the proxy (rate limits count it).
        forwarded = f"10.20.{number // 250}.{number % 250 + 1}"
        self.client.headers["X-Forwarded-For"] = forwarded
        log_in(self.client, HOSTS[0], self.me["email"], self.me["secret"], forwarded)

    def get(self, path: str, name: str) -> None:
        # A page that sends the user back to the login (a session one process does not know)
        # answers 200 after the redirect: count it as the failure it is.
        with self.client.get(next(self.hosts) + path, name=name, catch_response=True) as response:
            if "/accounts/" in response.url or (response.history and response.status_code != 200):
                response.failure(f"ended on {response.url}")
            elif response.status_code != 200:
                response.failure(f"status {response.status_code}")

    @task(4)
    def member_list(self) -> None:
        self.get(f"/divisions/{self.me['state']}/members/", "member list")

    @task(3)
    def search(self) -> None:
        name = random.choice(self.me["names"]) if self.me["names"] else "Müller"
        self.get(f"/divisions/{self.me['state']}/members/?q={name}", "search")

    @task(3)
    def member_page(self) -> None:
        if self.me["members"]:
            self.get(f"/members/{random.choice(self.me['members'])}/", "member page")

    @task(2)
    def dashboard(self) -> None:
        self.get("/", "dashboard")

    @task(1)
    def finance_overview(self) -> None:
        self.get(f"/finance/divisions/{self.me['state']}/", "finance overview")

    @task(1)
    def mailing_compose(self) -> None:
        self.get(f"/mailings/divisions/{self.me['state']}/new/", "mailing compose")
