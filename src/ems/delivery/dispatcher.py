"""The push dispatcher: pushes what the outbox holds, one lane per subscription.

Webhooks are pushed here; mails of email subscriptions (URL ``mailto:...``) go through the same
lanes, leases, retries and dead-letter queues, and are sent by delivery/email.py.

Each subscription with deliveries due gets a *lane*: a small loop that leases up to the
subscription's ``max_concurrency`` deliveries at a time, attempts them concurrently, records
each outcome, and leases more as slots free up. A slow or dead endpoint fills only its own lane,
so it never delays deliveries to other endpoints; a global cap bounds all pushes in flight.

Lanes start when a commit makes deliveries ready (publish, subscribe) and from a scan every
second, which also picks up retries whose time has come and leases left by a process that died.

Outcomes: any 2xx is delivered. Timeouts, connection errors, 429 and 5xx are retried with
backoff (honouring Retry-After) until ``max_attempts``. A redirect (never followed) or any other
4xx fails the delivery at once: the endpoint answered, and repeating the same request would get
the same answer. A delivery that fails for good is recorded and, if the subscription names one,
goes to its dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from typing import Protocol

from ems.core import envelopes
from ems.core.clock import Clock
from ems.core.errors import ForbiddenWebhookUrl, InvalidWebhookUrl, StorageUnavailable
from ems.core.metrics import Metrics
from ems.core.topic_models import AttemptResult, DeliveryKind, DeliveryTask
from ems.core.wakeups import DeliveriesReady
from ems.delivery import signing, sns_push
from ems.delivery.backoff import parse_retry_after, retry_delay
from ems.delivery.client import OversizedAnswer, Response, WebhookClient
from ems.delivery.email import Mailer
from ems.delivery.ssrf import UnresolvableHost
from ems.storage.health import StorageHealth

log = logging.getLogger("ems.delivery")

SCAN_INTERVAL = 1.0
GLOBAL_LIMIT = 512
DEFAULT_LANE_CONCURRENCY = 10
# a leased push is left alone by every other node (or process after a crash) this long beyond
# its timeout: time to record the outcome
LEASE_MARGIN_SECONDS = 10
STOP_GRACE_SECONDS = 5.0
# the URL of an email subscription: "mailto:" and the address
MAILTO = "mailto:"


class Outbox(Protocol):
    """What the dispatcher needs of a store: the webhook outbox and its signal (declared here,
    where it is used; any :class:`ems.storage.base.Store` is one)."""

    deliveries_ready: DeliveriesReady
    health: StorageHealth

    async def due_subscriptions(self, limit: int) -> list[int]: ...

    async def claim_deliveries(
        self, subscription_key: int, limit: int, lease_margin_seconds: int
    ) -> list[DeliveryTask]: ...

    async def record_attempt(self, task: DeliveryTask, result: AttemptResult) -> None: ...


class Dispatcher:
    def __init__(
        self,
        store: Outbox,
        client: WebhookClient,
        *,
        clock: Clock,
        metrics: Metrics | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.mailer = mailer
        self.clock = clock
        self.metrics = metrics or Metrics()
        self._lanes: dict[int, _Lane] = {}
        self._limit = asyncio.Semaphore(GLOBAL_LIMIT)
        self._scan: asyncio.Task[None] | None = None
        self._stopping = False
        self.scan_interval = SCAN_INTERVAL

    def start(self) -> None:
        self.store.deliveries_ready.listen(self.kick)
        self._scan = asyncio.get_running_loop().create_task(self._scan_loop(), name="ems-push-scan")

    def kick(self, subscription_keys: Iterable[int]) -> None:
        """Deliveries of these subscriptions are due now."""
        if self._stopping:
            return
        for key in subscription_keys:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane(self, key)
            lane.wake()

    async def stop(self) -> None:
        """Stop taking work; give attempts in flight a moment, then abandon them.

        Abandoned deliveries keep their lease; they are attempted again when it runs out (at
        once after a restart of an SQLite server).
        """
        self._stopping = True
        self.store.deliveries_ready.listen(None)
        if self._scan is not None:
            self._scan.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scan
        lanes = list(self._lanes.values())
        for lane in lanes:
            lane.wake()
        pending = [t for lane in lanes for t in (*lane.attempts, lane.task) if t is not None]
        if pending:
            _, late = await asyncio.wait(pending, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.client.close()
        if self.mailer is not None:
            await self.mailer.close()

    async def _scan_loop(self) -> None:
        while True:
            try:
                self.kick(await self.store.due_subscriptions(1000))
            except StorageUnavailable:
                # an outage the store reported is logged once, by the store: not every second
                level = logging.DEBUG if self.store.health.outage else logging.WARNING
                log.log(level, "scanning for due webhook deliveries: storage unavailable")
            except Exception:
                log.exception("scanning for due webhook deliveries failed; retrying")
            await asyncio.sleep(self.scan_interval)

    # one attempt

    async def attempt(self, task: DeliveryTask) -> AttemptResult:
        if task.url.startswith(MAILTO):  # SNS email subscriptions too (delivery/mail.py)
            return await self._mail(task)
        if task.sns is not None:
            body, headers = sns_push.request(task)
            return await self._post(task, body, headers)
        if task.kind is DeliveryKind.CONFIRMATION:
            body = json.dumps(
                {
                    "type": "SubscriptionConfirmation",
                    "topic_id": task.topic_public_id,
                    "subscription_id": task.subscription_id,
                    "challenge": task.challenge,
                    "confirm_url": task.confirm_url,
                }
            ).encode()
            headers = {"Content-Type": "application/json"}
        else:
            body, headers = self._notification(task)
        headers["EMS-Message-Type"] = (
            "SubscriptionConfirmation" if task.kind is DeliveryKind.CONFIRMATION else "Notification"
        )
        headers["EMS-Subscription-Id"] = task.subscription_id
        headers["EMS-Topic-Id"] = task.topic_public_id
        headers["EMS-Delivery-Attempt"] = str(task.attempt)
        headers.update(signing.signature_headers(task.signing_secret, task.webhook_id, body))
        return await self._post(task, body, headers)

    async def _post(
        self, task: DeliveryTask, body: bytes, headers: dict[str, str]
    ) -> AttemptResult:
        try:
            async with self._limit:
                response = await self.client.post(
                    task.url, headers, body, seconds=task.policy.timeout_seconds
                )
        except ForbiddenWebhookUrl:
            # shown in the subscription's last_error: never the address the host resolved to
            return AttemptResult(delivered=False, error=ForbiddenWebhookUrl.default_detail)
        except InvalidWebhookUrl as error:
            return AttemptResult(delivered=False, error=error.detail)
        except TimeoutError:
            return self._retry(task, None, f"no answer within {task.policy.timeout_seconds} s")
        except UnresolvableHost as error:
            return self._retry(task, None, str(error))
        except OversizedAnswer as error:
            return self._retry(task, None, f"the endpoint's answer was not read: {error}")
        except (OSError, ConnectionError, ValueError) as error:
            return self._retry(task, None, f"connection failed: {error}")
        return self._classify(task, response)

    async def _mail(self, task: DeliveryTask) -> AttemptResult:
        """One mail of an email subscription (delivery/email.py)."""
        if self.mailer is None:
            # subscribed while this node (or another on the same database) had SMTP settings
            return self._retry(task, None, "this server sends no email: EMS_SMTP_URL is not set")
        wait = self.mailer.hold(task)
        if wait > 0:
            return AttemptResult(
                delivered=False,
                deferred=True,
                retry_at_ms=self.clock.now_ms() + max(1, round(wait * 1000)),
            )
        async with self._limit:
            failure = await self.mailer.send(task)
        if failure is None:
            return AttemptResult(delivered=True, status=250)
        if failure.permanent:
            return AttemptResult(delivered=False, status=failure.status, error=failure.error)
        return self._retry(task, failure.status, failure.error)

    @staticmethod
    def _notification(task: DeliveryTask) -> tuple[bytes, dict[str, str]]:
        message = task.message
        assert message is not None
        headers = {"EMS-Message-Id": message.message_id}
        if message.correlation_id is not None:
            headers["EMS-Correlation-Id"] = message.correlation_id
        for name, value in (message.attributes or {}).items():
            headers[f"EMS-Attribute-{name}"] = value
        if task.policy.envelope:
            headers["Content-Type"] = "application/json"
            return envelopes.notification(task), headers
        headers["Content-Type"] = message.content_type or "application/octet-stream"
        return message.body, headers

    def _classify(self, task: DeliveryTask, response: Response) -> AttemptResult:
        status = response.status
        if task.sns is not None and sns_push.delivered(status):
            return AttemptResult(delivered=True, status=status)
        if 200 <= status < 300:
            confirmed = (
                task.kind is DeliveryKind.CONFIRMATION
                and task.challenge is not None
                and response.body.strip() == task.challenge.encode()
            )
            return AttemptResult(delivered=True, status=status, confirmed=confirmed)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return self._retry(task, status, f"HTTP {status}", retry_after)
        if 300 <= status < 400:
            error = f"HTTP {status}: redirects are not followed; subscribe the final URL"
        else:
            error = f"HTTP {status}: the endpoint refused the notification"
        return AttemptResult(delivered=False, status=status, error=error)

    def _retry(
        self, task: DeliveryTask, status: int | None, error: str, retry_after: float | None = None
    ) -> AttemptResult:
        if task.attempt >= task.policy.max_attempts:
            return AttemptResult(delivered=False, status=status, error=f"{error} (last attempt)")
        delay = retry_delay(task.attempt, task.policy, retry_after)
        return AttemptResult(
            delivered=False,
            status=status,
            error=error,
            retry_at_ms=self.clock.now_ms() + round(delay * 1000),
        )


class _Lane:
    """The pushes of one subscription: at most its max_concurrency in flight."""

    def __init__(self, dispatcher: Dispatcher, subscription_key: int) -> None:
        self.dispatcher = dispatcher
        self.key = subscription_key
        self.concurrency = DEFAULT_LANE_CONCURRENCY
        self.attempts: set[asyncio.Task[None]] = set()
        self._event = asyncio.Event()
        self.task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(
            self._run(), name=f"ems-push-lane-{subscription_key}"
        )

    def wake(self) -> None:
        self._event.set()

    async def _run(self) -> None:
        dispatcher = self.dispatcher
        try:
            while not dispatcher._stopping:
                self._event.clear()
                free = self.concurrency - len(self.attempts)
                tasks: list[DeliveryTask] = []
                if free > 0:
                    tasks = await dispatcher.store.claim_deliveries(
                        self.key, free, LEASE_MARGIN_SECONDS
                    )
                for task in tasks:
                    self.concurrency = task.policy.max_concurrency
                    attempt = asyncio.get_running_loop().create_task(self._attempt(task))
                    self.attempts.add(attempt)
                if not tasks and not self.attempts and not self._event.is_set():
                    return  # nothing due and nothing running: the lane ends
                if not tasks or len(self.attempts) >= self.concurrency:
                    await self._event.wait()
        except StorageUnavailable:
            log.info("webhook lane %d: storage unavailable; the scan will restart it", self.key)
        except Exception:
            log.exception("webhook lane %d failed; the scan will restart it", self.key)
        finally:
            if dispatcher._lanes.get(self.key) is self:
                del dispatcher._lanes[self.key]

    async def _attempt(self, task: DeliveryTask) -> None:
        started = time.monotonic()
        try:
            result = await self.dispatcher.attempt(task)
            await self.dispatcher.store.record_attempt(task, result)
            outcome = (
                "delivered"
                if result.delivered
                else "deferred"
                if result.deferred
                else "retried"
                if result.retry_at_ms is not None
                else "failed"
            )
            metrics = self.dispatcher.metrics
            if task.url.startswith(MAILTO):
                metrics.emails[outcome] += 1
            else:
                metrics.pushes[outcome] += 1
            if not result.delivered and not result.deferred:
                log.info(
                    "push to subscription %s failed (attempt %d, %.0f ms): %s",
                    task.subscription_id,
                    task.attempt,
                    (time.monotonic() - started) * 1000,
                    result.error,
                )
        except StorageUnavailable:
            # nothing recorded: the lease runs out and the delivery is attempted again
            log.info(
                "recording a push to subscription %s: storage unavailable; it will be retried",
                task.subscription_id,
            )
        except Exception:
            # nothing recorded: the lease runs out and the delivery is attempted again
            log.exception("recording a push to subscription %s failed", task.subscription_id)
        finally:
            current = asyncio.current_task()
            if current is not None:
                self.attempts.discard(current)
            self.wake()
