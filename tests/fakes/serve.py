"""Run a fake store as a process of its own (a benchmark's store must not share a GIL with the
load it measures): ``python -m tests.fakes.serve shopify --customers N [--first-customer ID]``
prints its URL on the first line of stdout and answers until it is stopped; ``--tally PATH``
then writes there how many GraphQL requests it answered and how many of them it throttled."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from tests.fakes.server import ServedApp
from tests.fakes.shopify import FakeShopify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("platform", choices=["shopify"])
    parser.add_argument("--customers", type=int, default=0, help="customers 1…N")
    parser.add_argument(
        "--first-customer", type=int, default=1, help="the first customer's id (then +1 each)"
    )
    parser.add_argument(
        "--unthrottled", action="store_true", help="a cost bucket that never runs dry"
    )
    parser.add_argument("--tally", help="where to write the request counts when stopped")
    args = parser.parse_args()
    fake = FakeShopify()
    if args.unthrottled:
        fake.set_bucket(maximum=10**9, available=10**9, restore_rate=10**9)
    for n in range(args.first_customer, args.first_customer + args.customers):
        fake.add_customer(n)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with ServedApp(fake.app) as served:
        sys.stdout.write(served.url + "\n")
        sys.stdout.flush()
        while not stopped.wait(0.5):  # a timeout, so that the signal handler gets to run
            pass
    if args.tally:
        answered = fake.graphql_requests()
        counts = {"requests": len(answered), "throttled": sum(r.throttled for r in answered)}
        with open(args.tally, "w") as out:
            json.dump(counts, out)


if __name__ == "__main__":
    main()
