"""Alert rules fire once per outage, recover once, and reach e-mail and a Slack-style webhook."""

import json

import pytest
from django.core import mail

from hub import demo
from hub.models import Flow
from monitoring.alerts import daily_digest, evaluate_alerts
from monitoring.models import AlertRule
from tests.helpers import run_worker, signed_post
from tests.receiver import Receiver
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hook():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def test_dead_letters_alert_once_then_recover(client, simulators, hook, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    setup = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    AlertRule.objects.create(name="orders failing", kind=AlertRule.Kind.DEAD_LETTERS, flow=setup["flow"], threshold=0,
                             window_minutes=60, emails="ops@example.org", webhook_url=hook.url, daily_digest=True)
    assert evaluate_alerts() == 0  # all is well: nothing sent

    payload = order_payload()
    payload["data"]["items"][0]["sku"] = "SKU-9999"
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    assert evaluate_alerts() == 2  # e-mail and webhook
    assert evaluate_alerts() == 0  # still failing: the same outage, no second alert
    assert len(mail.outbox) == 1 and mail.outbox[0].subject.startswith("ALERT orders failing: 1 failed record")
    [(_, body)] = hook.wait_for(1)
    assert json.loads(body)["text"].startswith("ALERT orders failing")

    setup["m3"].connector().mi("MMS200MI", "AddItmBasic", {"ITNO": "SKU-9999", "ITDS": "Gift card"})
    from hub import jobs
    from monitoring.models import SyncRecord
    jobs.enqueue_replay(SyncRecord.objects.get().pk)
    run_worker()
    assert evaluate_alerts() == 2
    assert mail.outbox[-1].subject.startswith("RECOVERED orders failing")
    assert json.loads(hook.wait_for(2)[-1][1])["text"].startswith("RECOVERED")
    assert not AlertRule.objects.get().firing

    assert daily_digest() == 2
    assert "1 synced, 0 failed" in mail.outbox[-1].body


def test_backlog_and_error_rate_are_measured(client, simulators):
    from monitoring.alerts import measure

    setup = demo.seed(simulators.url)
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])  # stored, not yet worked
    backlog = AlertRule(name="b", kind=AlertRule.Kind.BACKLOG_AGE, threshold=5)
    assert measure(backlog)[0] < 1
    rate = AlertRule(name="r", kind=AlertRule.Kind.ERROR_RATE, threshold=0.5, flow=setup["flow"], window_minutes=10)
    assert measure(rate) == (0.0, "0 of 0 records failing in the last 10 min (0%)")


def test_circuit_opened_is_one_alert_and_its_closing_one_recovery(simulators, hook):
    from connectors.models import Connection

    setup = demo.seed(simulators.url)
    AlertRule.objects.create(name="M3 circuit", kind=AlertRule.Kind.CIRCUIT_OPEN, connection=setup["m3"], threshold=0,
                             webhook_url=hook.url)
    assert evaluate_alerts() == 0
    Connection.objects.filter(pk=setup["m3"].pk).update(circuit="open")
    assert evaluate_alerts() == 1 and evaluate_alerts() == 0
    Connection.objects.filter(pk=setup["m3"].pk).update(circuit="closed")
    assert evaluate_alerts() == 1
    texts = [json.loads(body)["text"] for _, body in hook.wait_for(2)]
    assert texts == ["ALERT M3 circuit: Demo Infor M3 circuit open (deliveries wait)",
                     "RECOVERED M3 circuit: Demo Infor M3 circuit closed"]
