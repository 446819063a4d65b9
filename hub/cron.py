"""Periodic jobs, run by ``python manage.py rqcron hub.cron`` (RQ's cron scheduler)."""

from rq import cron

from hub import jobs
from monitoring import alerts

cron.register(jobs.sweep_unqueued_events, "default", interval=60)
cron.register(jobs.schedule_polls, "default", interval=10)
cron.register(jobs.purge_old_payloads, "default", cron="30 3 * * *")  # daily, at night
cron.register(alerts.evaluate_alerts, "default", interval=60)
cron.register(alerts.daily_digest, "default", cron="0 7 * * *")
