"""Periodic jobs, run by ``python manage.py rqcron hub.cron`` (RQ's cron scheduler)."""

from rq import cron

from hub import backfill, jobs
from monitoring import alerts

cron.register(jobs.sweep_unqueued_events, "default", interval=15)  # a lost event is drained well within a minute
cron.register(jobs.schedule_polls, "default", interval=10)
cron.register(backfill.resume_stalled, "default", interval=60)  # a backfill whose worker died goes on
cron.register(jobs.purge_old_payloads, "default", cron="30 3 * * *")  # daily, at night
cron.register(jobs.analyze_tables, "default", interval=600)  # only where the server has no autovacuum
cron.register(alerts.evaluate_alerts, "default", interval=60)
cron.register(alerts.daily_digest, "default", cron="0 7 * * *")
